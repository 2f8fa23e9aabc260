"""sim camera -> scene_graph_node -> a separate subscriber, over real DDS."""
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import Marker, MarkerArray

from spatial_ros.bench.relations import graph_agreement
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.ros.sim_camera_node import SimCameraNode


@pytest.mark.parametrize("mask", [True, False], ids=["mask", "class_agnostic"])
def test_tabletop_relations_match_ground_truth(ros, mask):
    sensed = ros.inbox(SceneGraph, "/spatial/scene_graph")
    rels = ros.inbox(SpatialRelationArray, "/spatial/relations")
    markers = ros.inbox(MarkerArray, "/spatial/markers")
    gt = ros.inbox(SceneGraph, "/sim/ground_truth")
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("world", value="tabletop"), Parameter("rate", value=5.0),
        Parameter("sensor", value="realsense_d435")], **ros.node_kwargs))
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels" if mask else ""),
        # all seven, the grey bin too: the rules (the learned segmenter takes the bin for
        # structure; test_class_agnostic_segmentations_over_dds)
        Parameter("segmentation", value="geometric")], **ros.node_kwargs))
    graphs = sensed.wait(lambda m: len(m.objects) >= 7, count=3, timeout=60)
    graph = conv.scene_graph_from_msg(graphs[-1])
    truth = conv.scene_graph_from_msg(gt.wait(timeout=30)[-1])
    match, agree, total, wrong = graph_agreement(graph, truth)
    assert len(match) == 7, f"matched {sorted(match)} of 7 objects"
    ids = [conv.scene_graph_from_msg(g) for g in graphs]
    assert all({o.id for o in g.objects} == {o.id for o in ids[0].objects} for g in ids), \
        "track ids changed while nothing moved"
    assert agree / total >= 0.95, f"{agree}/{total} agree; wrong: {wrong}"
    names = {o.id: f"{o.color} {o.label}" for o in graph.objects}
    facts = {(names[r.subject], r.predicate, names[r.object]) for r in graph.relations}
    assert ("green box", "on_top_of", "blue box") in facts
    assert any(f[1] == "inside" and f[2].startswith("grey") and f[0].startswith("orange")
               for f in facts)
    # the relation array carries the same relations, every confidence graded in (0.5, 1)
    arr = rels.wait(timeout=10)[-1]
    assert arr.relations and all(0.5 <= r.confidence < 1.0 for r in arr.relations)
    cubes = [m for m in markers.wait(timeout=10)[-1].markers if m.type == Marker.CUBE]
    assert len(cubes) == len(graph.objects) + len(graph.supports)
    # the table is a support, published beside the objects: what stands on it names it
    table = [s for s in graph.supports if abs(s.height - truth_table(truth)) < 0.02]
    assert len(table) == 1, [(s.id, s.height) for s in graph.supports]
    standing = {names[o.id]: o.support_id for o in graph.objects}
    assert standing["blue box"] == table[0].id and standing["green box"] == 0, standing


@pytest.mark.parametrize("segmentation", ["learned", "broken_weights"])
def test_class_agnostic_segmentations_over_dds(ros, tmp_path, segmentation):
    """The learned segmenter in the live node finds the tabletop's objects; weights that do not
    load are one warning naming the file, and the node segments by the rules instead."""
    rosout = ros.inbox(Log, "/rosout", QoSProfile(
        depth=100, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL))
    sensed = ros.inbox(SceneGraph, "/spatial/scene_graph")
    gt = ros.inbox(SceneGraph, "/sim/ground_truth")
    params = [Parameter("segmentation", value="learned")]
    bad = tmp_path / "truncated.pt"
    if segmentation == "broken_weights":
        from spatial_ros.perception.learned import default_weights

        bad.write_bytes(default_weights().read_bytes()[:4096])
        params.append(Parameter("segmenter_weights", value=str(bad)))
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("world", value="tabletop"), Parameter("rate", value=5.0),
        Parameter("sensor", value="realsense_d435")], **ros.node_kwargs))
    node = ros.add(SceneGraphNode(parameter_overrides=params, **ros.node_kwargs))
    graph = conv.scene_graph_from_msg(
        sensed.wait(lambda m: len(m.objects) >= 5, timeout=60)[-1])
    truth = conv.scene_graph_from_msg(gt.wait(timeout=30)[-1])
    match, _agree, _total, _wrong = graph_agreement(graph, truth)
    assert len(match) >= 5, f"matched {sorted(match)} of {len(truth.objects)} objects"
    if segmentation == "broken_weights":
        assert node.builder.perception.segmentation == "geometric"
        logs = rosout.wait(lambda m: m.name == "scene_graph" and str(bad) in m.msg)
        assert "geometric" in logs[0].msg and len(logs) == 1
    else:
        assert node.builder.perception.segmentation == "learned"


def truth_table(truth):
    """The table's height in the ground truth: the lowest bottom of its objects."""
    return min(o.box.aabb()[0][2] for o in truth.objects)


def _camera_msgs(stamp, depth, *, size=(64, 48)):
    w, h = size
    rgb = np.full((h, w, 3), 128, np.uint8)
    st = conv.seconds_to_stamp(stamp)
    return (conv.numpy_to_image(rgb, "rgb8", stamp=st, frame_id="cam"),
            conv.depth_to_image(depth.astype(np.float32), "32FC1", stamp=st, frame_id="cam"))


def test_bad_frames_are_logged_and_the_node_keeps_running(ros):
    """All-NaN depth, absurd depth, out-of-order stamps, mismatched sizes, no CameraInfo yet."""
    from spatial_ros.geometry import CameraIntrinsics

    diag = ros.inbox(DiagnosticArray, "/diagnostics")
    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    node = ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("camera_pose", value=[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
        Parameter("diagnostics_period", value=0.3)], **ros.node_kwargs))
    qos = qos_profile_sensor_data
    pc = ros.publisher(Image, "/camera/color/image_raw", qos)
    pd = ros.publisher(Image, "/camera/depth/image_raw", qos)
    pi = ros.publisher(CameraInfo, "/camera/color/camera_info", qos)
    for p in (pc, pd, pi):
        ros.wait_for_subscribers(p)
    intr = CameraIntrinsics(width=64, height=48, fx=50.0, fy=50.0, cx=32.0, cy=24.0)

    def send(stamp, depth, size=(64, 48)):
        c, d = _camera_msgs(stamp, depth, size=size)
        pc.publish(c)
        pd.publish(d)

    plane = np.full((48, 64), 1.0)
    send(1.0, plane)  # no CameraInfo yet: dropped with a warning, no crash
    deadline = time.monotonic() + 10
    while node.input.rejected["no_camera_info"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert node.input.rejected["no_camera_info"] >= 1
    pi.publish(conv.intrinsics_to_camera_info(intr, frame_id="cam"))
    time.sleep(0.3)
    send(2.0, np.full((48, 64), np.nan))  # all-NaN: degraded (no objects), still published
    out.wait(lambda m: m.header.stamp.sec == 2, timeout=15)
    send(3.0, np.full((48, 64), 1e6))  # absurd depth: ignored and reported
    out.wait(lambda m: m.header.stamp.sec == 3, timeout=15)
    send(3.5, np.zeros((48, 64)))  # all-zero depth (no readings): degraded, still published
    out.wait(lambda m: m.header.stamp.sec == 3 and m.header.stamp.nanosec > 0, timeout=15)
    late_before = node.dropped["stamp_out_of_order"] + node.input.sync_dropped
    send(2.5, plane)  # older than the last frame: dropped by the synchroniser or the node
    c, _ = _camera_msgs(4.0, plane)
    _, d = _camera_msgs(4.0, np.full((24, 32), 1.0), size=(32, 24))
    pc.publish(c)
    pd.publish(d)  # sizes differ
    send(5.0, plane)
    out.wait(lambda m: m.header.stamp.sec == 5, timeout=15)
    assert node.dropped["stamp_out_of_order"] + node.input.sync_dropped > late_before
    assert not any(m.header.stamp.sec == 2 and m.header.stamp.nanosec > 0
                   for m in out.messages)
    sync_before = node.input.sync_dropped
    c, _ = _camera_msgs(6.0, plane)
    _, d = _camera_msgs(6.5, plane)  # colour and depth half a second apart: never paired
    pc.publish(c)
    pd.publish(d)
    send(7.0, plane)  # a good frame afterwards still goes through
    out.wait(lambda m: m.header.stamp.sec == 7, timeout=15)
    assert node.input.sync_dropped > sync_before
    assert not any(m.header.stamp.sec == 6 for m in out.messages)

    def reported(m):
        vals = {kv.key: kv.value for s in m.status for kv in s.values}
        return (int(vals.get("dropped_degraded", 0)) >= 3
                and int(vals.get("dropped_size_mismatch", 0)) >= 1
                and int(vals.get("dropped_no_camera_info", 0)) >= 1)
    diag.wait(reported, timeout=15)
