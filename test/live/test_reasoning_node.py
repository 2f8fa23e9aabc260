"""sim camera -> scene_graph_node -> reasoning_node (the shipped model, CPU) -> a subscriber."""
import time

from rclpy.parameter import Parameter

from spatial_ros.bench.relations import graph_agreement
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.reasoning_node import ReasoningNode
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.ros.sim_camera_node import SimCameraNode
from spatial_ros.scene import SceneGraph as CoreGraph
from spatial_ros.vocabulary import Source

MASK = Parameter("mask_topic", value="/camera/segmentation/labels")


def _tabletop(ros, reasoning_mask: bool, count: int):
    """Sim camera (tabletop, D435) -> scene_graph_node (instance mask) -> reasoning_node (the
    mask too, or the graph's 2D boxes); after ``count`` fused arrays: the nodes, the last
    array's relations, its scene graph and the ground truth, and their graph_agreement."""
    fused = ros.inbox(SpatialRelationArray, "/spatial/fused_relations")
    sensed = ros.inbox(SceneGraph, "/spatial/scene_graph")
    gt = ros.inbox(SceneGraph, "/sim/ground_truth")
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("world", value="tabletop"), Parameter("rate", value=5.0),
        Parameter("sensor", value="realsense_d435")], **ros.node_kwargs))
    scene = ros.add(SceneGraphNode(parameter_overrides=[MASK], **ros.node_kwargs))
    node = ros.add(ReasoningNode(parameter_overrides=[Parameter("device", value="cpu")]
                                 + ([MASK] if reasoning_mask else []), **ros.node_kwargs))
    last = fused.wait(lambda m: len(m.relations) > 0, count=count, timeout=90)[-1]
    graphs = [m for m in sensed.wait(timeout=10) if m.header.stamp == last.header.stamp]
    assert graphs, "no scene graph carries the stamp of the fused relations"
    graph = conv.scene_graph_from_msg(graphs[-1])
    truth = conv.scene_graph_from_msg(gt.wait(timeout=30)[-1])
    rels = [conv.relation_from_msg(r) for r in last.relations]
    agreement = graph_agreement(
        CoreGraph(objects=graph.objects, relations=rels, stamp=graph.stamp), truth)
    return scene, node, fused, graphs[-1], rels, truth, agreement


def test_fused_relations_match_ground_truth_and_bad_graphs_are_survived(ros):
    scene, node, fused, graph_msg, rels, _truth, agreement = _tabletop(ros, False, count=3)
    assert all(r.source == Source.FUSED and 0.5 <= r.confidence < 1 for r in rels)
    match, agree, total, wrong = agreement
    assert len(match) == 7, f"matched {sorted(match)} of 7 objects"
    assert agree / total >= 0.93, f"{agree}/{total} fused decisions agree; wrong: {wrong[:10]}"
    # bad and degenerate graphs, with the scene graph node gone
    ros.remove(scene)
    time.sleep(0.5)
    stamp = node.frames[-1].stamp
    pub = ros.publisher(SceneGraph, "/spatial/scene_graph")
    ros.wait_for_subscribers(pub)
    one = graph_msg
    one.objects = one.objects[:1]
    one.relations = []
    one.header.stamp = conv.seconds_to_stamp(stamp)
    n = len(fused.messages)
    pub.publish(one)  # one object: an empty result, not an exception
    empty = fused.wait(lambda m: conv.stamp_to_seconds(m.header.stamp) == stamp, count=1,
                       timeout=10)
    assert len(fused.messages) > n and not empty[-1].relations
    before = node.dropped["no_frame_for_graph"]
    one.header.stamp = conv.seconds_to_stamp(stamp - 1000.0)  # no frame that old
    pub.publish(one)
    deadline = time.monotonic() + 10
    while node.dropped["no_frame_for_graph"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert node.dropped["no_frame_for_graph"] == before + 1
    none = SceneGraph(header=one.header)  # zero objects
    none.header.stamp = conv.seconds_to_stamp(node.frames[-1].stamp)
    n = len(fused.messages)
    pub.publish(none)
    fused.wait(count=n + 1, timeout=10)
    assert not fused.messages[-1].relations and node.dropped["error"] == 0


def test_with_the_instance_mask_the_stacked_cube_is_on_the_box(ros):
    """The launch files give reasoning_node the scene graph's instance mask: over the objects'
    2D boxes the model called the green cube on the blue box not on top of it (p 1e-12) and
    the fusion followed; over the mask, the fused relations have it."""
    *_, rels, truth, (match, agree, total, wrong) = _tabletop(ros, True, count=2)
    names = {o.id: f"{o.color} {o.label}" for o in truth.objects}
    cube = match[next(i for i, n in names.items() if n == "green box")]
    box = match[next(i for i, n in names.items() if n == "blue box")]
    assert any(r.subject == cube and r.predicate == "on_top_of" and r.object == box
               for r in rels), [(r.subject, r.predicate, r.object) for r in rels]
    assert agree / total >= 0.95, f"{agree}/{total} fused decisions agree; wrong: {wrong[:10]}"


def test_rgb_only_camera_gets_the_models_relations(ros):
    """No depth at all: the scene graph has no objects; with the instance mask the reasoning
    node still relates every instance, by the model alone (ids UNSENSED_ID_BASE + instance,
    source MODEL)."""
    from spatial_ros.model.reason import UNSENSED_ID_BASE
    from spatial_ros.vocabulary import Frame, Source

    fused = ros.inbox(SpatialRelationArray, "/spatial/fused_relations")
    gt = ros.inbox(SceneGraph, "/sim/ground_truth")
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("world", value="tabletop"), Parameter("rate", value=5.0),
        Parameter("sensor", value="rgb_only")], **ros.node_kwargs))
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels")], **ros.node_kwargs))
    ros.add(ReasoningNode(parameter_overrides=[
        Parameter("device", value="cpu"),
        Parameter("mask_topic", value="/camera/segmentation/labels")], **ros.node_kwargs))
    last = fused.wait(lambda m: len(m.relations) > 0, count=2, timeout=90)[-1]
    truth = conv.scene_graph_from_msg(gt.wait(timeout=30)[-1])
    rels = [conv.relation_from_msg(r) for r in last.relations]
    assert all(r.subject >= UNSENSED_ID_BASE and r.object >= UNSENSED_ID_BASE for r in rels)
    assert all(r.source == Source.MODEL for r in rels)  # no geometry: the model's alone
    # the instances' ids are Gazebo's (label << 16 | count); the label is the world's id
    said = {((r.subject - UNSENSED_ID_BASE) >> 16, r.predicate,
             (r.object - UNSENSED_ID_BASE) >> 16, r.frame) for r in rels}
    holds = {(r.subject, r.predicate, r.object, r.frame) for r in truth.relations}
    ids = {o.id for o in truth.objects}
    keys = [("left_of", Frame.EGOCENTRIC), ("in_front_of", Frame.EGOCENTRIC),
            ("on_top_of", Frame.ALLOCENTRIC)]
    decisions = [((a, p, b, f) in said) == ((a, p, b, f) in holds)
                 for a in ids for b in ids if a != b for p, f in keys]
    assert sum(decisions) / len(decisions) >= 0.85, f"{sum(decisions)}/{len(decisions)}"
