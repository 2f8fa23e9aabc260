"""Where the camera is: the world pose of its optical frame at a frame's stamp.

Sources, first configured wins:
    a fixed pose parameter ``[x, y, z, qx, qy, qz, qw]`` (a camera bolted to the world);
    a geometry_msgs/PoseStamped topic (the simulator's /camera/pose, a localisation node);
    a geometry_msgs/TransformStamped topic;
    tf2 (``use_tf``), where tf2_ros is installed (robots with apt ROS), looking up
    ``world_frame`` <- the image's frame_id at the image's stamp.
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
                 history: int = 200) -> None:
        self._node = node
        self.world_frame = world_frame
        self.slop = pose_slop
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
        elif pose_topic:
            node.create_subscription(PoseStamped, pose_topic, self._on_pose, 20)
            self.kind = f"PoseStamped {pose_topic}"
        elif transform_topic:
            node.create_subscription(TransformStamped, transform_topic, self._on_transform, 20)
            self.kind = f"TransformStamped {transform_topic}"
        elif use_tf:
            try:
                import tf2_ros
            except ImportError as exc:
                raise ValueError("use_tf is set but tf2_ros is not installed; give camera_pose "
                                 "or camera_pose_topic instead") from exc
            self._tf_buffer = tf2_ros.Buffer()
            self._tf = tf2_ros.TransformListener(self._tf_buffer, node)
            self.kind = f"tf2 {world_frame}"
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
            import rclpy.time

            try:
                t = self._tf_buffer.lookup_transform(
                    self.world_frame, frame_id,
                    rclpy.time.Time(nanoseconds=int(stamp * 1e9)))
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


def pose_source_from_parameters(node: Node) -> CameraPoseSource:
    """Declare the camera-pose parameters every camera-consuming node shares (camera_pose,
    camera_pose_topic, camera_transform_topic, use_tf, world_frame, pose_slop) and build the
    source they describe."""
    from spatial_ros.ros.params import declare

    def d(*a):
        return declare(node, *a)

    fixed = d("camera_pose", [0.0], "fixed world pose of the optical frame [x y z qx qy qz "
              "qw]; [0.0] = not fixed")
    pose_topic = d("camera_pose_topic", "/camera/pose",
                   "PoseStamped of the optical frame in the world ('' = none)")
    tf_topic = d("camera_transform_topic", "", "TransformStamped topic ('' = none)")
    use_tf = d("use_tf", False, "look the camera pose up in tf2 (where installed)")
    world_frame = d("world_frame", "world", "fixed frame of the outputs")
    pose_slop = d("pose_slop", 0.05, "largest stamp gap between a frame and its pose (s)")
    return CameraPoseSource(node, fixed=fixed if len(fixed) > 1 else [], pose_topic=pose_topic,
                            transform_topic=tf_topic, use_tf=use_tf, world_frame=world_frame,
                            pose_slop=pose_slop)
