"""scene_graph_node without a camera pose: gravity from the support plane or an IMU, over DDS.

A real RealSense frame (hand-held, no tf, no /camera/pose) is published on the realsense-ros
topic names; the node must give a level scene graph and say where up came from."""
import time

import numpy as np
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, Imu

from spatial_ros.bench.real import load_real_frames
from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.planner_node import PlannerNode
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.srv import QuerySpatial

TOPICS = {"color_topic": "/camera/camera/color/image_raw",
          "depth_topic": "/camera/camera/aligned_depth_to_color/image_raw",
          "camera_info_topic": "/camera/camera/color/camera_info"}


def _publish_frames(ros, frame, stamps, on_each=None):
    qos = qos_profile_sensor_data
    pubs = {k: ros.publisher(t, TOPICS[k], qos) for k, t in
            (("color_topic", Image), ("depth_topic", Image), ("camera_info_topic", CameraInfo))}
    for p in pubs.values():
        ros.wait_for_subscribers(p)
    raw = np.nan_to_num(frame.depth * 1000.0).astype(np.uint16)
    for stamp in stamps:
        if on_each:
            on_each(stamp)
        st = conv.seconds_to_stamp(stamp)
        pubs["camera_info_topic"].publish(conv.intrinsics_to_camera_info(
            frame.intrinsics, frame_id="camera_color_optical_frame", stamp=st))
        pubs["color_topic"].publish(conv.numpy_to_image(
            frame.rgb, "rgb8", stamp=st, frame_id="camera_color_optical_frame"))
        pubs["depth_topic"].publish(conv.numpy_to_image(
            raw, "16UC1", stamp=st, frame_id="camera_color_optical_frame"))
        time.sleep(0.4)


def _level(graph):
    """The four table objects stand on the level plane z = 0 (bottom within 3 cm, 5 cm tall or
    more); the floor and chair beyond the table are objects too, below and above it."""
    standing = [o for o in graph.objects if abs(o.box.center[2] - o.box.size[2] / 2) < 0.03
                and o.box.size[2] > 0.05]
    return len(standing) >= 4


def test_plane_gravity_levels_a_hand_held_real_frame(ros):
    frame = load_real_frames()[2]  # tabletop_4: wipes, cashews, toy block, purple cup
    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("gravity_source", value="plane"),
        *[Parameter(k, value=v) for k, v in TOPICS.items()]], **ros.node_kwargs))
    # no camera pose topic at all: the planner knows the camera from the graph
    planner = ros.add(PlannerNode(parameter_overrides=[
        Parameter("camera_pose_topic", value="")], **ros.node_kwargs))
    _publish_frames(ros, frame, [1.0, 1.5, 2.0])
    msg = out.wait(lambda m: len(m.objects) >= 4, timeout=30)[-1]
    graph = conv.scene_graph_from_msg(msg)
    assert msg.gravity_source == SceneGraph.GRAVITY_PLANE and msg.header.frame_id == "camera_level"
    assert _level(graph), [(o.color, np.round(o.box.center, 2)) for o in graph.objects]
    # the graph carries the pose it was built with: the camera above the table, level frame
    assert msg.has_camera_pose and 0.2 < msg.camera_pose.position.z < 1.0
    assert len(msg.support_heights) >= 1 and min(abs(h) for h in msg.support_heights) < 0.01
    while planner.graph is None or planner.graph.stamp < graph.stamp:
        out.wait(count=len(out.messages) + 1, timeout=10)
    query = ros.node.create_client(QuerySpatial, "/spatial/query")
    r = ros.call(query, QuerySpatial.Request(question="which object is closest to the camera?"))
    assert r.success, r.error_message
    cam = graph.camera_pose.translation
    nearest = min(planner.graph.objects, key=lambda o: np.linalg.norm(o.centroid - cam))
    assert list(r.object_ids) == [nearest.id]
    r = ros.call(query, QuerySpatial.Request(question="how many objects are there?"))
    assert r.success and r.answer.startswith(f"{len(planner.graph.objects)} (")
    r = ros.call(query, QuerySpatial.Request(question="how many objects are on the table?"))
    assert r.success and 4 <= int(r.answer.split()[0]) <= len(planner.graph.objects), r.answer


def test_imu_gravity_ignores_samples_without_gravity_and_keeps_running(ros):
    frame = load_real_frames()[2]
    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    node = ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("gravity_source", value="imu"), Parameter("camera_height", value=0.38),
        # the level check needs all four table objects: the rules' segmentation (the learned
        # one takes the wipes for structure at this pose, its objectness near the threshold)
        Parameter("segmentation", value="geometric"),
        *[Parameter(k, value=v) for k, v in TOPICS.items()]], **ros.node_kwargs))
    imu = ros.publisher(Imu, "/camera/camera/imu", qos_profile_sensor_data)
    ros.wait_for_subscribers(imu)
    # the table plane's normal of this frame, as an accelerometer at rest would read it
    up = np.array([-0.084, -0.825, -0.558])
    up /= np.linalg.norm(up)

    def send_imu(stamp, accel):
        m = Imu()
        m.header.stamp = conv.seconds_to_stamp(stamp)
        m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = accel
        imu.publish(m)

    send_imu(0.5, (0.0, 0.0, 0.0))  # free fall / an unset message: logged, ignored
    deadline = time.monotonic() + 10
    while node.dropped["imu_no_gravity"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert node.dropped["imu_no_gravity"] >= 1
    _publish_frames(ros, frame, [1.0, 1.5, 2.0],
                    on_each=lambda s: send_imu(s - 0.01, 9.81 * up))
    msg = out.wait(lambda m: len(m.objects) >= 4, timeout=30)[-1]
    assert msg.gravity_source == SceneGraph.GRAVITY_IMU  # which IMU: in the log and /diagnostics
    assert _level(conv.scene_graph_from_msg(msg))


def test_a_frame_without_gravity_keeps_its_objects_and_the_relations_that_need_none(ros):
    """Only a wall in view (no table, no floor): plane gravity finds no support. The frame is
    not dropped: its objects and the relations that need no gravity are published, with
    gravity_source none, and the node says once which relations it cannot give."""
    from spatial_ros.relations import needs_gravity
    from spatial_ros.vocabulary import Frame

    frame = load_real_frames()[2]  # tabletop_4's four objects ...
    depth = frame.depth.copy()
    table = ~(frame.mask > 0)
    depth[table] = 1.6  # ... in front of a flat wall facing the camera, in place of the table
    frame.depth = depth
    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    node = ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("gravity_source", value="plane"),
        *[Parameter(k, value=v) for k, v in TOPICS.items()]], **ros.node_kwargs))
    _publish_frames(ros, frame, [1.0, 1.5, 2.0])
    msgs = out.wait(lambda m: len(m.objects) >= 3, count=2, timeout=30)
    msg = msgs[-1]
    assert msg.gravity_source == SceneGraph.GRAVITY_NONE
    assert not msg.support_heights
    rels = [conv.relation_from_msg(r) for r in msg.relations]
    assert rels and not [r for r in rels if needs_gravity(r.predicate, r.frame)]
    assert any(r.predicate in ("left_of", "right_of") and r.frame == Frame.EGOCENTRIC
               for r in rels)
    assert node._said_no_gravity and node.health.dropped["no_gravity"] >= 2  # said once, counted
