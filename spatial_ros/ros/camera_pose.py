"""Where the camera is: the world pose of its optical frame at a frame's stamp.

Sources, in this order; the first one configured wins, so an explicit choice (a fixed pose,
``use_tf:=true``, a transform topic) beats the default PoseStamped topic:
    1. a fixed pose parameter ``[x, y, z, qx, qy, qz, qw]`` (a camera bolted to the world);
    2. tf2 (``use_tf``), where tf2_ros is installed (robots with apt ROS), looking up
       ``world_frame`` <- the image's frame_id at the image's stamp, waiting at most
       ``tf_timeout`` seconds;
    3. a geometry_msgs/TransformStamped topic;
    4. a geometry_msgs/PoseStamped topic (the simulator's camera/pose, a localisation node).
Poses from topics are buffered and the one nearest the frame's stamp is used, if it lies within
``pose_slop`` seconds (a static camera can set a large slop).
"""
from __future__ import annotations

import bisect
import threading
from collections import deque

import numpy as np
from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.node import Node

from spatial_ros.geometry import Pose, quat_to_matrix
from spatial_ros.ros.conversions import pose_from_msg, stamp_to_seconds

__all__ = ["CameraPoseSource"]


def _transform_to_pose(t) -> Pose:
    q, p = t.rotation, t.translation
    return Pose(rotation=quat_to_matrix((q.x, q.y, q.z, q.w)),
                translation=np.array([p.x, p.y, p.z]))


class CameraPoseSource:
    def __init__(self, node: Node, *, fixed: list[float], pose_topic: str,
                 transform_topic: str, use_tf: bool, world_frame: str, pose_slop: float,
                 tf_timeout: float = 0.1, history: int = 200) -> None:
        self._node = node
        self.world_frame = world_frame
        self.slop = pose_slop
        self.tf_timeout = tf_timeout
        self._buffer: deque[tuple[float, Pose]] = deque(maxlen=history)
        self._cv = threading.Condition()
        self.fixed: Pose | None = None
        self._tf = None
        self.kind = "none"
        if len(fixed) == 7:
            self.fixed = Pose(rotation=quat_to_matrix(fixed[3:]), translation=np.array(fixed[:3]))
            self.kind = "parameter"
        elif fixed and len(fixed) != 7:
            raise ValueError(f"camera_pose needs 7 numbers [x, y, z, qx, qy, qz, qw], got "
                             f"{len(fixed)}")
        elif use_tf:
            try:
                import tf2_ros
            except ImportError as exc:
                raise ValueError("use_tf is set but tf2_ros is not installed; give camera_pose, "
                                 "camera_transform_topic or camera_pose_topic instead") from exc
            self._tf_buffer = tf2_ros.Buffer()
            self._tf = tf2_ros.TransformListener(self._tf_buffer, node)
            self.kind = f"tf2 {world_frame}"
        elif transform_topic:
            node.create_subscription(TransformStamped, transform_topic, self._on_transform, 20)
            self.kind = f"TransformStamped {transform_topic}"
        elif pose_topic:
            node.create_subscription(PoseStamped, pose_topic, self._on_pose, 20)
            self.kind = f"PoseStamped {pose_topic}"
        else:
            raise ValueError("no camera pose source: set camera_pose, camera_pose_topic, "
                             "camera_transform_topic or use_tf")

    def _add(self, stamp: float, pose: Pose) -> None:
        with self._cv:
            if self._buffer and stamp < self._buffer[-1][0]:
                self._buffer.clear()  # time went backwards (a bag restarted): start again
            self._buffer.append((stamp, pose))
            self._cv.notify_all()

    def _on_pose(self, msg: PoseStamped) -> None:
        self._add(stamp_to_seconds(msg.header.stamp), pose_from_msg(msg))

    def _on_transform(self, msg: TransformStamped) -> None:
        self._add(stamp_to_seconds(msg.header.stamp), _transform_to_pose(msg.transform))

    def lookup(self, stamp: float, frame_id: str, wait: float = 0.0
               ) -> tuple[Pose | None, str]:
        """The pose at ``stamp``, or None and the reason.

        From a topic, waits up to ``wait`` seconds (call it off the executor thread) for a pose
        at or after ``stamp`` to arrive, since a frame's pose may come in just after the frame.
        """
        if self.fixed is not None:
            return self.fixed, ""
        if self._tf is not None:
            import rclpy.duration
            import rclpy.time

            try:
                t = self._tf_buffer.lookup_transform(
                    self.world_frame, frame_id,
                    rclpy.time.Time(nanoseconds=int(stamp * 1e9)),
                    timeout=rclpy.duration.Duration(seconds=self.tf_timeout))
            except Exception as exc:  # noqa: BLE001 - tf2 raises several unrelated types
                return None, f"tf2 has no {self.world_frame} <- {frame_id}: {exc}"
            return _transform_to_pose(t.transform), ""
        with self._cv:
            self._cv.wait_for(lambda: self._buffer and self._buffer[-1][0] >= stamp, wait)
            entries = list(self._buffer)
        if not entries:
            return None, f"no camera pose received yet ({self.kind})"
        stamps = [s for s, _ in entries]
        i = bisect.bisect_left(stamps, stamp)
        best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)),
                   key=lambda j: abs(stamps[j] - stamp))
        gap = abs(stamps[best] - stamp)
        if gap > self.slop:
            return None, (f"nearest camera pose is {gap:.3f} s from the frame "
                          f"(pose_slop {self.slop:g} s)")
        return entries[best][1], ""


def pose_source_from_parameters(node: Node, values: dict) -> CameraPoseSource:
    """The source the camera-pose parameters (spatial_ros.parameters.CAMERA_POSE, declared by
    the node) describe."""
    fixed = values["camera_pose"]
    return CameraPoseSource(node, fixed=fixed if len(fixed) > 1 else [],
                            pose_topic=values["camera_pose_topic"],
                            transform_topic=values["camera_transform_topic"],
                            use_tf=values["use_tf"], world_frame=values["world_frame"],
                            pose_slop=values["pose_slop"], tf_timeout=values["tf_timeout"])
