"""What a ROS 2 maintainer checks on running nodes: typed parameters applied live or refused,
the level frame on /tf, colour and depth frames, diagnostics that recover, a tracker reset,
namespaces that isolate two stacks, the planner pairing fused relations with their graph by
stamp, and a clean exit on SIGINT and SIGTERM. Real nodes over real DDS throughout."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage

from spatial_ros.geometry import Pose, quat_to_matrix
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.planner_node import PlannerNode
from spatial_ros.ros.rgbd_monitor_node import RgbdMonitorNode
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.ros.sim_camera_node import SimCameraNode
from spatial_ros.scene import OrientedBox, Relation
from spatial_ros.scene import SceneGraph as CoreGraph
from spatial_ros.scene import SceneObject as CoreObject
from spatial_ros.srv import QuerySpatial
from spatial_ros.vocabulary import Frame, Source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _set(ros, node_name: str, **values):
    """Set parameters through the node's real parameter service; the per-parameter results."""
    client = ros.node.create_client(SetParameters, f"/{node_name}/set_parameters")
    req = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg()
                                            for k, v in values.items()])
    return ros.call(client, req).results


def test_parameters_are_typed_applied_live_or_refused_with_a_reason(ros):
    node = ros.add(SceneGraphNode(**ros.node_kwargs))
    assert node.builder.relation_config.near_distance == pytest.approx(0.10)
    [ok] = _set(ros, "scene_graph", near_distance=0.5)
    assert ok.successful
    assert node.builder.relation_config.near_distance == 0.5  # applied, not only stored
    [ok] = _set(ros, "scene_graph", track_gate=0.2)
    assert ok.successful and node.builder.tracker.config.gate == 0.2
    [bad] = _set(ros, "scene_graph", min_confidence=5.0)
    assert not bad.successful and "out of range" in bad.reason, bad.reason
    assert node.builder.relation_config.min_confidence == 0.5
    results = _set(ros, "scene_graph", workspace_range=1.2,
                   workspace_box=[-1.0, 1.0, -1.0, 1.0, 0.0, 1.0])
    assert all(r.successful for r in results)
    assert node.builder.perception.workspace_range == 1.2
    assert node.builder.perception.workspace_box == (-1.0, 1.0, -1.0, 1.0, 0.0, 1.0)
    [bad] = _set(ros, "scene_graph", workspace_box=[0.0, 1.0, 0.0, 1.0, 0.5, 0.5])
    assert not bad.successful and "volume" in bad.reason
    assert node.builder.perception.workspace_box == (-1.0, 1.0, -1.0, 1.0, 0.0, 1.0)
    [ro] = _set(ros, "scene_graph", stride=4)  # needs a restart
    assert not ro.successful and "read-only" in ro.reason
    [bad] = _set(ros, "scene_graph", frames="egocentric,sideways")
    assert not bad.successful and "frames" in bad.reason
    # a bad value at start-up: the node does not start, and says which parameter
    with pytest.raises(Exception, match="stride"):
        SceneGraphNode(parameter_overrides=[Parameter("stride", value=0)], **ros.node_kwargs)
    with pytest.raises(ValueError, match="workspace_box .* volume"):
        SceneGraphNode(parameter_overrides=[Parameter(
            "workspace_box", value=[0.0, 1.0, 0.0, 1.0, 0.5, 0.5])], **ros.node_kwargs)
    with pytest.raises(Exception, match="gravity_source"):
        SceneGraphNode(parameter_overrides=[Parameter("gravity_source", value="gps")],
                       **ros.node_kwargs)


def test_an_explicit_use_tf_wins_over_the_default_pose_topic(ros):
    """use_tf:=true with the YAML's camera_pose_topic left as it is must mean tf2: here, where
    tf2_ros does not install, that is a clear refusal, not a silent PoseStamped source."""
    with pytest.raises(ValueError, match="use_tf is set but tf2_ros is not installed"):
        SceneGraphNode(parameter_overrides=[Parameter("use_tf", value=True)], **ros.node_kwargs)
    node = ros.add(SceneGraphNode(**ros.node_kwargs))
    assert node.gravity_kind == "PoseStamped camera/pose"


def test_the_level_frame_is_broadcast_on_tf(ros):
    tf = ros.inbox(TFMessage, "/tf", 100)
    graphs = ros.inbox(SceneGraph, "/spatial/scene_graph")
    ros.add(SimCameraNode(parameter_overrides=[Parameter("rate", value=5.0)], **ros.node_kwargs))
    ros.add(SceneGraphNode(parameter_overrides=[Parameter("gravity_source", value="plane")],
                           **ros.node_kwargs))
    msg = tf.wait(lambda m: any(t.header.frame_id == "camera_level" for t in m.transforms),
                  timeout=60)[0]
    t = msg.transforms[0]
    assert t.child_frame_id == "camera_optical_frame"
    graph = graphs.wait(lambda g: g.header.frame_id == "camera_level", timeout=30)[0]
    assert graph.gravity_source == SceneGraph.GRAVITY_PLANE
    # the camera above the table, in the level frame: z up, the optical axis looking down
    assert t.transform.translation.z > 0.2
    q = t.transform.rotation
    assert quat_to_matrix((q.x, q.y, q.z, q.w))[2, 2] < 0  # optical z (forward) looks down


def _image(px: np.ndarray, encoding: str, stamp, frame_id: str) -> Image:
    return conv.numpy_to_image(px, encoding, stamp=stamp, frame_id=frame_id)


def test_frame_mismatch_is_reported_and_diagnostics_recover(ros):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo

    from spatial_ros.geometry import CameraIntrinsics

    diags = ros.inbox(DiagnosticArray, "/diagnostics")
    ros.add(RgbdMonitorNode(parameter_overrides=[
        Parameter("diagnostics_period", value=0.2), Parameter("diagnostics_window", value=1.0)],
        **ros.node_kwargs))
    pubs = {k: ros.publisher(t, f"/camera/{k}", qos_profile_sensor_data) for k, t in (
        ("color/image_raw", Image), ("depth/image_raw", Image),
        ("color/camera_info", CameraInfo))}
    for p in pubs.values():
        ros.wait_for_subscribers(p)
    intr = CameraIntrinsics(width=8, height=6, fx=10.0, fy=10.0, cx=4.0, cy=3.0)

    def frame(t: float, depth_frame: str, depth_encoding: str = "32FC1"):
        stamp = conv.seconds_to_stamp(t)
        pubs["color/camera_info"].publish(conv.intrinsics_to_camera_info(
            intr, stamp=stamp, frame_id="color"))
        pubs["color/image_raw"].publish(_image(np.zeros((6, 8, 3), np.uint8), "rgb8", stamp,
                                               "color"))
        depth = np.ones((6, 8), np.float32) if depth_encoding == "32FC1" else \
            np.zeros((6, 8, 3), np.uint8)
        pubs["depth/image_raw"].publish(_image(depth, depth_encoding, stamp, depth_frame))

    frame(1.0, "depth_unregistered")
    frame(1.1, "depth_unregistered", "rgb8")  # a colour image on the depth topic: dropped
    warn = diags.wait(lambda m: m.status[0].level == DiagnosticStatus.WARN, timeout=10)[-1]
    values = {kv.key: kv.value for kv in warn.status[0].values}
    assert values["frame_mismatch"] == "colour 'color' != depth 'depth_unregistered'"
    assert int(values["dropped"]) >= 1
    # no drop for a window: OK again, the total still reported
    n = len(diags.messages)
    ok = diags.wait(lambda m: diags.messages.index(m) >= n and
                    m.status[0].level == DiagnosticStatus.OK, timeout=10)[-1]
    assert int({kv.key: kv.value for kv in ok.status[0].values}["dropped"]) >= 1


def test_tracker_reset_restarts_ids(ros):
    graphs = ros.inbox(SceneGraph, "/spatial/scene_graph")
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("rate", value=5.0), Parameter("sensor", value="ideal")], **ros.node_kwargs))
    # every frame further apart than max_frame_gap starts tracking afresh with new ids
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="camera/segmentation/labels"),
        Parameter("max_frame_gap", value=0.05)], **ros.node_kwargs))
    graphs.wait(lambda g: len(g.objects) == 7 and min(o.id for o in g.objects) > 7, timeout=60)
    client = ros.node.create_client(Trigger, "/spatial/reset_tracking")
    r = ros.call(client, Trigger.Request())
    assert r.success and "ids start again at 1" in r.message
    n = len(graphs.messages)
    graphs.wait(lambda g: graphs.messages.index(g) >= n and
                {o.id for o in g.objects} == set(range(1, 8)), timeout=30)


def test_two_namespaced_stacks_do_not_mix(ros):
    """Two stacks on one host, as `ros2 launch ... namespace:=robot1` / robot2 start them: the
    same node names and relative topics, each in its own namespace, two different worlds."""
    mine = {ns: ros.inbox(SceneGraph, f"/{ns}/spatial/scene_graph") for ns in ("robot1",
                                                                                "robot2")}
    truth = {ns: ros.inbox(SceneGraph, f"/{ns}/sim/ground_truth") for ns in mine}
    root = ros.inbox(SceneGraph, "/spatial/scene_graph")
    for ns, world in (("robot1", "tabletop"), ("robot2", "shelf")):
        ros.add(SimCameraNode(namespace=ns, parameter_overrides=[
            Parameter("world", value=world), Parameter("rate", value=4.0)], **ros.node_kwargs))
        ros.add(SceneGraphNode(namespace=ns, parameter_overrides=[
            Parameter("mask_topic", value="camera/segmentation/labels"),
            Parameter("depth_noise_model", value="ideal")], **ros.node_kwargs))
    counts = {}
    for ns in mine:
        counts[ns] = len(truth[ns].wait(timeout=60)[-1].objects)
        mine[ns].wait(lambda g, n=counts[ns]: len(g.objects) == n, count=2, timeout=60)
    assert counts["robot1"] != counts["robot2"]  # two worlds: a mixed stream would show
    for ns in mine:  # never one graph of the other world
        assert all(len(g.objects) <= counts[ns] for g in mine[ns].messages), ns
    assert not root.messages, "a namespaced stack published on the global topic"


def _graph(stamp: float, left_conf: float) -> CoreGraph:
    objs = [CoreObject(id=1, centroid=[0.0, 0.1, 0.05], color="red", label="box",
                       box=OrientedBox(center=[0.0, 0.1, 0.05], size=[0.05] * 3),
                       last_seen=stamp, point_count=50),
            CoreObject(id=2, centroid=[0.0, -0.1, 0.05], color="blue", label="box",
                       box=OrientedBox(center=[0.0, -0.1, 0.05], size=[0.05] * 3),
                       last_seen=stamp, point_count=50)]
    rel = Relation(subject=1, predicate="left_of", object=2, confidence=left_conf,
                   frame=Frame.EGOCENTRIC, source=Source.GEOMETRY)
    return CoreGraph(objects=objs, relations=[rel], stamp=stamp, frame_id="world",
                     camera_pose=Pose(rotation=np.eye(3), translation=np.array([0, 0, 1.0])))


def test_the_planner_pairs_fused_relations_with_their_graph_by_stamp(ros):
    planner = ros.add(PlannerNode(parameter_overrides=[
        Parameter("relations_topic", value="spatial/fused_relations"),
        Parameter("camera_pose_topic", value="")], **ros.node_kwargs))
    graphs = ros.publisher(SceneGraph, "/spatial/scene_graph", 5)
    fused = ros.publisher(SpatialRelationArray, "/spatial/fused_relations", 5)
    query = ros.node.create_client(QuerySpatial, "/spatial/query")
    ros.wait_for_subscribers(graphs)
    ros.wait_for_subscribers(fused)
    ask = QuerySpatial.Request(question="is the red box left of the blue box?")

    def publish_graph(g):
        graphs.publish(conv.scene_graph_to_msg(g))
        deadline = time.monotonic() + 10
        while (planner.graph is None or planner.graph.stamp != g.stamp) and \
                time.monotonic() < deadline:
            time.sleep(0.01)

    def publish_fused(stamp, conf):
        n = len(planner._fused)
        fused.publish(SpatialRelationArray(
            header=conv.scene_graph_to_msg(_graph(stamp, 0.5)).header, relations=[
                conv.relation_to_msg(Relation(subject=1, predicate="left_of", object=2,
                                              confidence=conf, source=Source.FUSED))]))
        deadline = time.monotonic() + 10
        while len(planner._fused) == n and time.monotonic() < deadline:
            time.sleep(0.01)

    publish_graph(_graph(10.0, 0.3))  # geometry says no
    r = ros.call(query, ask)
    assert r.answer == "no" and r.relations_source == QuerySpatial.Response.RELATIONS_GEOMETRY
    publish_fused(10.0, 0.82)  # the fused relations of that graph say yes
    r = ros.call(query, ask)
    assert r.answer == "yes" and r.relations_source == QuerySpatial.Response.RELATIONS_FUSED
    assert conv.stamp_to_seconds(r.graph_stamp) == 10.0
    # a newer graph whose fused relations have not come yet: still the fused answer of 10.0
    publish_graph(_graph(10.5, 0.3))
    r = ros.call(query, ask)
    assert r.answer == "yes" and conv.stamp_to_seconds(r.graph_stamp) == 10.0
    # the reasoning node dropped graphs for longer than fused_max_lag: geometry, and it says so
    publish_graph(_graph(12.0, 0.3))
    r = ros.call(query, ask)
    assert r.answer == "no" and r.relations_source == QuerySpatial.Response.RELATIONS_GEOMETRY
    assert conv.stamp_to_seconds(r.graph_stamp) == 12.0
    # late fused relations of an old graph do not attach to the newest one
    publish_fused(10.5, 0.9)
    r = ros.call(query, ask)
    assert r.answer == "no" and conv.stamp_to_seconds(r.graph_stamp) == 12.0
    # a place: has_pose and the object's pose
    r = ros.call(query, QuerySpatial.Request(question="where is the red box?"))
    assert r.success and r.has_pose and r.pose.header.frame_id == "world"
    assert r.pose.pose.position.y == pytest.approx(0.1)
    r = ros.call(query, ask)
    assert not r.has_pose


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_nodes_exit_cleanly_on_sigint_and_sigterm(ros_domain_id, sig):
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros_domain_id), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "bin", "planner_node"),
                             "--ros-args", "-r", "__node:=planner_signal_test"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        out.append(line)
        if "planner: graph" in line or not line:
            break
    assert any("planner: graph" in ln for ln in out), "".join(out)
    proc.send_signal(sig)
    try:
        rest, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the node did not exit within 20 s of {sig.name}") from None
    text = "".join(out) + rest
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "Exception" not in text, text


def test_a_bad_parameter_at_start_up_is_one_clear_line_and_exit_status_2(ros_domain_id):
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros_domain_id)}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "planner_node"), "--ros-args",
                        "-p", "place_radius:=-1.0"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, r.stderr
    assert "cannot start" in r.stderr and "place_radius" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
