"""sim camera -> scene_graph_node -> planner_node; a service client asks and places."""
import time

import numpy as np
from rclpy.parameter import Parameter
from std_msgs.msg import String

from spatial_ros.msg import SceneGraph
from spatial_ros.relations import Body, RelationConfig, pair_margins
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.planner_node import PlannerNode
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.ros.sim_camera_node import SimCameraNode
from spatial_ros.srv import PlaceRelative, QuerySpatial
from spatial_ros.vocabulary import Frame


def test_questions_and_goals_over_services(ros):
    from geometry_msgs.msg import PoseStamped

    planner = ros.add(PlannerNode(**ros.node_kwargs))
    query = ros.node.create_client(QuerySpatial, "/spatial/query")
    place = ros.node.create_client(PlaceRelative, "/spatial/place")
    # before any graph: a clear refusal, and the node keeps serving
    r = ros.call(query, QuerySpatial.Request(question="is the red box left of the blue box?"))
    assert not r.success and r.error_message == "no scene graph has arrived yet"
    graphs = ros.inbox(SceneGraph, "/spatial/scene_graph")
    truth = ros.inbox(SceneGraph, "/sim/ground_truth")
    targets = ros.inbox(PoseStamped, "/spatial/target_pose")
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("world", value="tabletop"), Parameter("rate", value=5.0),
        Parameter("sensor", value="realsense_d435")], **ros.node_kwargs))
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels")], **ros.node_kwargs))
    graphs.wait(lambda m: len(m.objects) >= 7, count=2, timeout=60)
    gt = conv.scene_graph_from_msg(truth.wait(timeout=30)[-1])
    while planner.camera is None or planner.graph is None:
        graphs.wait(count=len(graphs.messages) + 1, timeout=10)
    for question, answer in [("is the red box left of the blue box?", "yes"),
                             ("is the green box on top of the blue box?", "yes"),
                             ("is the blue box on top of the green box?", "no"),
                             ("which is closer to the camera, the red box or the purple "
                              "sphere?", "red box")]:
        r = ros.call(query, QuerySpatial.Request(question=question))
        assert r.success and r.answer == answer, (question, r.error_message, r.answer)
    r = ros.call(query, QuerySpatial.Request(question="what is on top of the blue box?"))
    assert r.success and r.answer.startswith("green box")
    r = ros.call(query, QuerySpatial.Request(question="what is inside the grey box?"))
    assert r.success and r.answer.startswith("orange sphere"), r.answer
    for bad, reason in [("", "empty question"), ("x" * 400, "limit is 300"),
                        ("what is left of the mauve box?", "unknown colour"),
                        ("sing a song", "cannot parse")]:
        r = ros.call(query, QuerySpatial.Request(question=bad))
        assert not r.success and reason in r.error_message
    # a relation goal: the pose must check out against the exact ground truth
    r = ros.call(place, PlaceRelative.Request(goal="place the red box left of the blue box"))
    assert r.success, r.error_message
    sensed = {o.id: o for o in planner.graph.objects}
    red = next(o for o in gt.objects if o.color == "red")
    blue = next(o for o in gt.objects if o.color == "blue")
    assert sensed[r.object_id].color == "red" and sensed[r.reference_id].color == "blue"
    target = conv.pose_from_msg(r.pose)
    from spatial_ros.scene import OrientedBox
    placed = OrientedBox(center=target.translation, size=red.box.size, rotation=target.rotation)
    cam = planner.camera
    margin = pair_margins(Body.from_box(1, placed, cam), Body.from_box(2, blue.box, cam),
                          RelationConfig(), (Frame.EGOCENTRIC,))[("left_of", Frame.EGOCENTRIC)][0]
    assert margin > 0, "the placed red box would not be left of the blue box"
    lo, hi = placed.aabb()
    for o in gt.objects:
        if o.id != red.id:
            olo, ohi = o.box.aabb()
            assert not (np.all(hi > olo) and np.all(ohi > lo)), f"collides with {o.description}"
    assert targets.wait(timeout=10)
    r = ros.call(place, PlaceRelative.Request(goal="place the red box on the blue box"))
    assert not r.success and "no collision-free place" in r.error_message
    # onto a support: the table the scene graph publishes, clear of every true object
    r = ros.call(place, PlaceRelative.Request(goal="put the purple sphere on the table"))
    assert r.success and r.reference_id == 0, r.error_message
    table = next(x for x in planner.graph.supports if x.id == r.support_id)
    sphere = next(o for o in gt.objects if o.color == "purple")
    target = conv.pose_from_msg(r.pose)
    placed = OrientedBox(center=target.translation, size=sphere.box.size,
                         rotation=target.rotation)
    lo, hi = placed.aabb()
    assert abs(lo[2] - table.height) < 0.02 and table.holds(target.translation, margin=0.0)
    for o in gt.objects:
        if o.id != sphere.id:
            olo, ohi = o.box.aabb()
            assert not (np.all(hi > olo) and np.all(ohi > lo)), f"collides with {o.description}"
    # fire-and-forget goals on the topic
    pub = ros.publisher(String, "/spatial/place_goal")
    ros.wait_for_subscribers(pub)
    n = len(targets.messages)
    pub.publish(String(data="put the yellow cylinder in front of the blue box"))
    targets.wait(count=n + 1, timeout=10)


def test_goals_on_moving_objects_are_refused_until_they_stop(ros):
    """Graphs published by the test (the exact tabletop, the red box sliding at 0.2 m/s, then
    still) into a real planner node over DDS."""
    import copy

    from geometry_msgs.msg import PoseStamped

    from spatial_ros.sim.groundtruth import ground_truth
    from spatial_ros.sim.paths import find_world
    from spatial_ros.sim.render import Renderer
    from spatial_ros.sim.sdf import load_world

    world = load_world(find_world("tabletop"))
    renderer = Renderer(world)
    cam = renderer.camera.optical_pose
    truth = ground_truth(world, renderer, cam)
    planner = ros.add(PlannerNode(**ros.node_kwargs))
    place = ros.node.create_client(PlaceRelative, "/spatial/place")
    graphs = ros.publisher(SceneGraph, "/spatial/scene_graph")
    poses = ros.publisher(PoseStamped, "/camera/pose")
    ros.wait_for_subscribers(graphs)
    ros.wait_for_subscribers(poses)
    red = next(o.id for o in truth.objects if o.color == "red")

    def publish(t, shift):
        g = copy.deepcopy(truth)
        g.stamp, g.frame_id = t, "world"
        for o in g.objects:
            o.last_seen = t
            if o.id == red:
                o.centroid = o.centroid + np.array([shift, 0.0, 0.0])
        graphs.publish(conv.scene_graph_to_msg(g))
        poses.publish(conv.pose_to_msg(cam, stamp=conv.seconds_to_stamp(t), frame_id="world"))

    def settle(t):
        deadline = time.monotonic() + 10
        while (planner.graph is None or planner.graph.stamp < t - 1e-6) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        assert planner.graph is not None and planner.graph.stamp >= t - 1e-6

    for k in range(7):  # 0.0 .. 0.6 s, 2 cm per 0.1 s
        publish(0.1 * k, 0.02 * k)
        settle(0.1 * k)
    r = ros.call(place, PlaceRelative.Request(goal="place the red box left of the blue box"))
    assert not r.success and "red box (id 1) is moving (0.20 m/s" in r.error_message
    r = ros.call(place, PlaceRelative.Request(goal="place the yellow cylinder behind the red box"))
    assert not r.success and "is moving" in r.error_message
    for k in range(7, 20):  # it stops; a second later the goal is planned
        publish(0.1 * k, 0.12)
        settle(0.1 * k)
    r = ros.call(place, PlaceRelative.Request(goal="place the red box left of the blue box"))
    assert r.success, r.error_message


def test_a_graph_that_cannot_be_read_is_dropped_and_the_planner_keeps_serving(ros):
    """A SceneGraph whose relation names no known predicate (a newer or broken publisher):
    the planner says why on /rosout, keeps no graph from it, and answers the next question."""
    from rcl_interfaces.msg import Log
    from rclpy.qos import DurabilityPolicy, QoSProfile

    from spatial_ros.msg import SceneObject, SpatialRelation

    rosout = ros.inbox(Log, "/rosout", QoSProfile(
        depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    planner = ros.add(PlannerNode(**ros.node_kwargs))
    query = ros.node.create_client(QuerySpatial, "/spatial/query")
    pub = ros.publisher(SceneGraph, "/spatial/scene_graph")
    ros.wait_for_subscribers(pub)
    bad = SceneGraph(objects=[SceneObject(id=1, label="box", color="red")],
                     relations=[SpatialRelation(subject_id=1, object_id=1,
                                                predicate="frobnicate", confidence=1.0)])
    pub.publish(bad)
    log = rosout.wait(lambda m: m.name == "planner" and "cannot be read" in m.msg)[0]
    assert "unknown predicate 'frobnicate'" in log.msg
    assert planner.graph is None
    r = ros.call(query, QuerySpatial.Request(question="is the red box left of the red box?"))
    assert not r.success and r.error_message == "no scene graph has arrived yet"
    bad.relations[0].predicate = "left_of"  # the same graph, readable: answered
    pub.publish(bad)
    while planner.graph is None:
        time.sleep(0.02)
    r = ros.call(query, QuerySpatial.Request(question="how many red boxes are there?"))
    assert r.success and list(r.object_ids) == [1], (r.answer, r.error_message)
