"""A node fed bad images logs them (rate-limited), counts them and keeps running."""
import array
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from spatial_ros.geometry import CameraIntrinsics
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.rgbd_monitor_node import RgbdMonitorNode

W, H = 64, 48


def bad_color(**over) -> Image:
    msg = conv.numpy_to_image(np.zeros((H, W, 3), np.uint8), "rgb8")
    for k, v in over.items():
        setattr(msg, k, v)
    return msg


BAD = {
    "step_too_small": (bad_color(step=10), "step=10 is smaller"),
    "data_length": (bad_color(data=array.array("B", bytes(100))), "data length 100"),
    "unknown_encoding": (bad_color(encoding="yuv422"), "unsupported encoding 'yuv422'"),
    "zero_size": (bad_color(width=0, step=0, data=array.array("B")), "zero size"),
}


def diag_values(msg: DiagnosticArray) -> dict[str, str]:
    return {kv.key: kv.value for s in msg.status if s.name.endswith("rgbd_monitor")
            for kv in s.values}


@pytest.fixture
def monitor(ros):
    params = [Parameter("color_topic", value="/mon/color"),
              Parameter("depth_topic", value="/mon/depth"),
              Parameter("camera_info_topic", value="/mon/info"),
              Parameter("diagnostics_period", value=0.2)]
    node = ros.add(RgbdMonitorNode(parameter_overrides=params, **ros.node_kwargs))
    qos = qos_profile_sensor_data
    pubs = {k: ros.publisher(t, f"/mon/{k}", qos)
            for k, t in (("color", Image), ("depth", Image), ("info", CameraInfo))}
    for pub in pubs.values():
        ros.wait_for_subscribers(pub)
    return node, pubs


def send_good_frame(pubs, stamp_s: float, depth: np.ndarray) -> None:
    stamp = conv.seconds_to_stamp(stamp_s)
    intr = CameraIntrinsics.from_hfov(width=W, height=H, hfov=1.0)
    pubs["info"].publish(conv.intrinsics_to_camera_info(intr, stamp=stamp))
    pubs["color"].publish(conv.numpy_to_image(np.zeros((H, W, 3), np.uint8), "rgb8",
                                              stamp=stamp))
    pubs["depth"].publish(conv.depth_to_image(depth, "32FC1", stamp=stamp))


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_colour_image_is_logged_counted_and_node_keeps_running(ros, monitor, case):
    node, pubs = monitor
    rosout = ros.inbox(Log, "/rosout", QoSProfile(depth=100,
                                                  durability=QoSDurabilityPolicy.TRANSIENT_LOCAL))
    diag = ros.inbox(DiagnosticArray, "/diagnostics")
    bad, expected = BAD[case]
    for _ in range(3):  # several bad messages: counted each, logged once (rate limit)
        pubs["color"].publish(bad)
    diag.wait(lambda m: int(diag_values(m).get("dropped_color_decode", 0)) >= 1)
    logs = rosout.wait(lambda m: m.name == "rgbd_monitor" and expected in m.msg)
    assert "dropped a message on /mon/color" in logs[0].msg
    # The node is alive and still turns good frames into synchronised frames.
    depth = np.full((H, W), 1.5, np.float32)
    for i in range(20):
        send_good_frame(pubs, 100.0 + i, depth)
        if node.input.frames:
            break
        time.sleep(0.1)
    last = diag.wait(lambda m: int(diag_values(m).get("frames", 0)) >= 1)[-1]
    assert expected in diag_values(last)["last_error"]


def test_invalid_depth_values_are_no_reading_not_errors(ros, monitor):
    node, pubs = monitor
    diag = ros.inbox(DiagnosticArray, "/diagnostics")
    depth = np.full((H, W), 2.0, np.float32)
    depth[:, :16] = np.nan
    depth[:, 16:32] = np.inf
    depth[:, 32:40] = 0.0
    depth[:, 40:48] = -1.0
    for i in range(20):
        send_good_frame(pubs, 200.0 + i, depth)
        if node.input.frames:
            break
        time.sleep(0.1)
    values = diag_values(diag.wait(lambda m: int(diag_values(m).get("frames", 0)) >= 1)[-1])
    assert float(values["valid_depth_fraction"]) == pytest.approx(16 / 64)
    assert "dropped_depth_decode" not in values and "dropped_color_decode" not in values


def test_colour_and_depth_of_different_sizes_are_dropped_with_reason(ros, monitor):
    node, pubs = monitor
    diag = ros.inbox(DiagnosticArray, "/diagnostics")
    intr = CameraIntrinsics.from_hfov(width=W, height=H, hfov=1.0)
    for i in range(20):
        stamp = conv.seconds_to_stamp(300.0 + i)
        pubs["info"].publish(conv.intrinsics_to_camera_info(intr, stamp=stamp))
        pubs["color"].publish(conv.numpy_to_image(np.zeros((H, W, 3), np.uint8), "rgb8",
                                                  stamp=stamp))
        pubs["depth"].publish(conv.depth_to_image(np.ones((H // 2, W // 2), np.float32),
                                                  stamp=stamp))
        if node.input.rejected["size_mismatch"]:
            break
        time.sleep(0.1)
    values = diag_values(diag.wait(
        lambda m: int(diag_values(m).get("dropped_size_mismatch", 0)) >= 1)[-1])
    assert "colour 64x48, depth 32x24" in values["last_error"]
    assert node.input.frames == 0
