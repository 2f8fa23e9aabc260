"""The sim camera node publishes the bridge's topics and exact ground truth over DDS."""
import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.sim_camera_node import SimCameraNode


def test_tabletop_topics_and_ground_truth(ros):
    params = [Parameter("world", value="tabletop"), Parameter("rate", value=5.0),
              Parameter("sensor", value="realsense_d435"),
              Parameter("depth_encoding", value="16UC1")]
    qos = qos_profile_sensor_data
    boxes = {"color": ros.inbox(Image, "/camera/color/image_raw", qos),
             "depth": ros.inbox(Image, "/camera/depth/image_raw", qos),
             "labels": ros.inbox(Image, "/camera/segmentation/labels", qos),
             "info": ros.inbox(CameraInfo, "/camera/color/camera_info", qos),
             "pose": ros.inbox(PoseStamped, "/camera/pose"),
             "gt": ros.inbox(SceneGraph, "/sim/ground_truth")}
    ros.add(SimCameraNode(parameter_overrides=params, **ros.node_kwargs))
    color = boxes["color"].wait(timeout=30)[0]
    depth = conv.image_to_depth(boxes["depth"].wait(timeout=30)[0])
    labels_msg = boxes["labels"].wait(timeout=30)[0]
    assert labels_msg.encoding == "rgb8"  # Gazebo's labels_map: label byte 2, count bytes 0-1
    labels = conv.image_to_mask(labels_msg) >> 16  # the label: the world's instance id
    info = conv.camera_info_to_intrinsics(boxes["info"].wait(timeout=30)[0])
    assert (color.width, color.height, color.encoding) == (640, 480, "rgb8")
    assert info.fx == pytest.approx(640 / (2 * np.tan(1.047 / 2)))
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4, 5, 6, 7}
    assert 0.6 < np.nanmedian(depth[labels == 2]) < 1.5  # blue box, about 1 m away
    graph = conv.scene_graph_from_msg(boxes["gt"].wait(timeout=30)[0])
    names = {o.id: f"{o.color} {o.label}" for o in graph.objects}
    assert names == {1: "red box", 2: "blue box", 3: "green box", 4: "purple sphere",
                     5: "yellow cylinder", 6: "grey bin", 7: "orange sphere"}
    facts = {(names[r.subject], r.predicate, names[r.object]) for r in graph.relations}
    for fact in [("green box", "on_top_of", "blue box"), ("blue box", "under", "green box"),
                 ("orange sphere", "inside", "grey bin"),
                 ("grey bin", "contains", "orange sphere"),
                 ("blue box", "occludes", "purple sphere"), ("red box", "left_of", "blue box"),
                 ("blue box", "larger_than", "red box")]:
        assert fact in facts
    assert ("red box", "right_of", "blue box") not in facts


def test_sim_time_and_scripted_path(ros):
    """publish_clock: /clock ticks in sim time and frames carry it; a scripted path moves."""
    from rosgraph_msgs.msg import Clock

    clock = ros.inbox(Clock, "/clock")
    poses = ros.inbox(PoseStamped, "/camera/pose")
    infos = ros.inbox(CameraInfo, "/camera/color/camera_info", qos_profile_sensor_data)
    ros.add(SimCameraNode(parameter_overrides=[
        Parameter("world", value="tabletop"), Parameter("rate", value=10.0),
        Parameter("publish_clock", value=True), Parameter("camera_path", value="scripted"),
        Parameter("path_period", value=0.2),
        Parameter("waypoints", value=[-0.75, 0.0, 1.3, 0.0, 0.55, 0.0,
                                      -0.75, 0.3, 1.3, 0.0, 0.55, -0.3])],
        **ros.node_kwargs))
    ticks = clock.wait(count=6, timeout=40)
    t = [conv.stamp_to_seconds(c.clock) for c in ticks]
    assert t[:3] == pytest.approx([0.0, 0.1, 0.2], abs=1e-6)  # sim time from 0, 1 / rate steps
    got = poses.wait(count=6, timeout=40)
    stamps = [conv.stamp_to_seconds(p.header.stamp) for p in got]
    assert stamps == sorted(stamps) and stamps[0] < 10.0  # sim time, not wall time
    ys = {round(p.pose.position.y, 3) for p in got}
    assert ys == {0.0, 0.3}  # the camera alternates between the two waypoints
    info_stamp = conv.stamp_to_seconds(infos.wait(timeout=20)[0].header.stamp)
    assert info_stamp < 10.0
