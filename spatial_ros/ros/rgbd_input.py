"""RGB-D input stage shared by the nodes that consume a camera.

Subscribes colour, depth and CameraInfo (and optionally an instance mask) with sensor-data QoS,
decodes each message as it arrives, synchronises colour and depth by approximate time and hands
complete frames to a callback. A message that cannot be decoded is logged (rate-limited), counted
by reason and dropped; the node keeps running.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from spatial_ros.errors import SpatialRosError
from spatial_ros.geometry import CameraIntrinsics
from spatial_ros.ros.conversions import (
    camera_info_to_intrinsics,
    image_to_depth,
    image_to_mask,
    image_to_rgb,
    stamp_to_seconds,
)
from spatial_ros.sync import ApproximateSync

__all__ = ["RgbdFrame", "RgbdInput"]


@dataclass
class RgbdFrame:
    """One synchronised camera frame, decoded."""

    stamp: float
    frame_id: str
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres, NaN = no reading
    intrinsics: CameraIntrinsics
    mask: np.ndarray | None = None  # (H, W) instance ids, 0 = background


class RgbdInput:
    """Decode and synchronise a camera's topics for ``node``.

    Args:
        node: the node that owns the subscriptions and logs.
        color_topic, depth_topic, info_topic: the camera topics.
        mask_topic: optional instance-mask topic ("" for none): mono8 or 16UC1 ids, or
            Gazebo's rgb8 labels_map (conversions.image_to_mask).
        slop: approximate-time tolerance in seconds.
        time_jump: a message this much older (s) than the last match means time was reset.
        callback: receives each complete RgbdFrame.
    """

    def __init__(self, node: Node, *, color_topic: str, depth_topic: str, info_topic: str,
                 mask_topic: str = "", slop: float = 0.02, time_jump: float = 1.0,
                 callback: Callable[[RgbdFrame], None]) -> None:
        self._node = node
        self._log = node.get_logger()
        self._callback = callback
        self.intrinsics: CameraIntrinsics | None = None
        self.rejected: Counter[str] = Counter()
        self.last_error = ""
        self.frames = 0
        self._warned_no_info = False
        #: "colour frame != depth frame" once seen (depth not registered to colour), else ""
        self.frame_mismatch = ""
        streams = ["color", "depth"] + (["mask"] if mask_topic else [])
        self._sync = ApproximateSync(streams=streams, slop=slop, queue_size=5,
                                     callback=self._on_match, time_jump=time_jump)
        qos = qos_profile_sensor_data
        self._subs = [
            node.create_subscription(Image, color_topic, self._on_color, qos),
            node.create_subscription(Image, depth_topic, self._on_depth, qos),
            node.create_subscription(CameraInfo, info_topic, self._on_info, qos),
        ]
        if mask_topic:
            self._subs.append(node.create_subscription(Image, mask_topic, self._on_mask, qos))
        self._log.info(
            f"RGB-D input (sensor-data QoS): colour {color_topic}, depth {depth_topic}, "
            f"camera info {info_topic}" + (f", mask {mask_topic}" if mask_topic else "")
        )

    @property
    def sync_dropped(self) -> int:
        return self._sync.dropped + self._sync.out_of_order

    def reject(self, topic: str, reason: str, error: str) -> None:
        """Count and log (at most every 5 s per call site) a message that was dropped."""
        self.rejected[reason] += 1
        self.last_error = f"{topic}: {error}"
        self._log.warning(f"dropped a message on {topic}: {error}", throttle_duration_sec=5.0)

    def _add(self, topic: str, stream: str, msg: Image, decode: Callable) -> None:
        try:
            item = (decode(msg), msg.header.frame_id)
        except SpatialRosError as exc:
            self.reject(topic, f"{stream}_decode", str(exc))
            return
        self._sync.add(stream, stamp_to_seconds(msg.header.stamp), item)

    def _on_color(self, msg: Image) -> None:
        self._add(self._subs[0].topic_name, "color", msg, image_to_rgb)

    def _on_depth(self, msg: Image) -> None:
        self._add(self._subs[1].topic_name, "depth", msg, image_to_depth)

    def _on_mask(self, msg: Image) -> None:
        self._add(self._subs[3].topic_name, "mask", msg, image_to_mask)

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = camera_info_to_intrinsics(msg)
        except SpatialRosError as exc:
            self.reject(self._subs[2].topic_name, "camera_info", str(exc))

    def _on_match(self, items: dict, stamp: float) -> None:
        (rgb, frame_id), (depth, depth_frame) = items["color"], items["depth"]
        if depth_frame != frame_id and not self.frame_mismatch:
            self.frame_mismatch = f"colour {frame_id!r} != depth {depth_frame!r}"
            self._log.warning(
                f"depth is in frame {depth_frame!r} but colour in {frame_id!r}: the depth image "
                "must be registered to the colour camera (RealSense: align_depth.enable:=true, "
                "aligned_depth_to_color topic), or every 3D position is off (warned once)")
        mask = items["mask"][0] if "mask" in items else None
        if self.intrinsics is None:
            self.rejected["no_camera_info"] += 1
            if not self._warned_no_info:
                self._warned_no_info = True
                self._log.warning("no CameraInfo received yet: dropping frames until one arrives")
            return
        intr = self.intrinsics
        shapes = {"colour": rgb.shape[:2], "depth": depth.shape}
        if mask is not None:
            shapes["mask"] = mask.shape[:2]
        if len(set(shapes.values())) != 1 or depth.shape != (intr.height, intr.width):
            sizes = ", ".join(f"{k} {w}x{h}" for k, (h, w) in shapes.items())
            self.reject("rgbd", "size_mismatch",
                        f"image sizes differ: {sizes}, camera info {intr.width}x{intr.height}")
            return
        self.frames += 1
        self._callback(RgbdFrame(stamp=stamp, frame_id=frame_id, rgb=rgb, depth=depth,
                                 intrinsics=intr, mask=mask))
