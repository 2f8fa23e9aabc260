"""Messages cross real Fast DDS between two nodes intact."""
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv

from ..messages.test_conversions import assert_graphs_equal, sample_graph


def test_scene_graph_arrives_intact_in_another_node(ros):
    sender = ros.add(rclpy.create_node("graph_sender", **ros.node_kwargs))
    pub = sender.create_publisher(SceneGraph, "/test/scene_graph", 10)
    inbox = ros.inbox(SceneGraph, "/test/scene_graph")
    ros.wait_for_subscribers(pub)
    graph = sample_graph()
    pub.publish(conv.scene_graph_to_msg(graph))
    [received] = inbox.wait()
    assert len(received.objects) == 3 and len(received.relations) == 3
    assert_graphs_equal(conv.scene_graph_from_msg(received), graph)


def test_640x480_rgb8_and_16uc1_roundtrip_through_dds(ros):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    depth = rng.uniform(0.3, 6.0, (480, 640)).astype(np.float32)
    depth[100:110, 200:210] = np.nan
    sender = ros.add(rclpy.create_node("camera_sender", **ros.node_kwargs))
    pubs = {name: sender.create_publisher(Image, f"/test/{name}", qos_profile_sensor_data)
            for name in ("color", "depth")}
    boxes = {name: ros.inbox(Image, f"/test/{name}", qos_profile_sensor_data) for name in pubs}
    for pub in pubs.values():
        ros.wait_for_subscribers(pub)
    # Best-effort QoS may drop a frame: send a few until one of each arrives.
    for _ in range(20):
        pubs["color"].publish(conv.numpy_to_image(rgb, "rgb8", frame_id="cam"))
        pubs["depth"].publish(conv.depth_to_image(depth, "16UC1", frame_id="cam"))
        if boxes["color"].messages and boxes["depth"].messages:
            break
        time.sleep(0.1)
    [color_msg] = boxes["color"].wait()[:1]
    [depth_msg] = boxes["depth"].wait()[:1]
    assert (color_msg.width, color_msg.height, color_msg.encoding) == (640, 480, "rgb8")
    np.testing.assert_array_equal(conv.image_to_rgb(color_msg), rgb)
    got = conv.image_to_depth(depth_msg)
    assert np.isnan(got[100:110, 200:210]).all()
    ok = ~np.isnan(depth)
    np.testing.assert_allclose(got[ok], depth[ok], atol=0.0006)  # 1 mm quantisation
