"""scene_graph_node: RGB-D (+ optional instance mask) -> tracked objects and graded relations.

Subscribes colour, depth, CameraInfo and optionally an instance mask (sensor-data QoS,
approximate-time synchronised), takes the camera pose from a parameter, a PoseStamped or
TransformStamped topic or tf2 (``gravity_source: pose``), or only which way is up, from an IMU's
accelerometer (``imu``: sensor_msgs/Imu, as a RealSense D435i/D455 publishes it) or from the
frame's dominant support plane (``plane``: a hand-held camera with no tf), and runs
spatial_ros.pipeline on a worker thread with a queue of one (a frame that arrives while the
previous one is still processed replaces the waiting one and is counted as stale). Publishes
the SceneGraph, the SpatialRelationArray and a MarkerArray for RViz; frame rate, latency and
dropped frames (by reason) go to /diagnostics once a period.
Bad frames are logged with the reason and dropped or degraded; the node keeps running.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Imu
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from spatial_ros.errors import GravityError
from spatial_ros.geometry import quat_to_matrix
from spatial_ros.labels import LabelMapError, parse_label_map
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.perception import PerceptionConfig
from spatial_ros.perception.gravity import ImuGravity, PlaneGravityConfig, gravity_from_plane
from spatial_ros.pipeline import SceneGraphBuilder
from spatial_ros.relations import RelationConfig
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.camera_pose import pose_source_from_parameters
from spatial_ros.ros.diagnostics import FrameHealth
from spatial_ros.ros.markers import scene_graph_markers
from spatial_ros.ros.params import declare, depth_noise
from spatial_ros.ros.rgbd_input import RgbdFrame, RgbdInput
from spatial_ros.ros.runner import run_node
from spatial_ros.ros.worker import LatestOnlyWorker
from spatial_ros.tracking import TrackerConfig
from spatial_ros.vocabulary import Frame

__all__ = ["SceneGraphNode", "main"]


class SceneGraphNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("scene_graph", **kwargs)
        d = lambda *a: declare(self, *a)  # noqa: E731
        color = d("color_topic", "/camera/color/image_raw", "colour image topic")
        depth = d("depth_topic", "/camera/depth/image_raw", "depth image topic (16UC1 or 32FC1)")
        info = d("camera_info_topic", "/camera/color/camera_info", "CameraInfo topic")
        mask = d("mask_topic", "", "instance mask topic (mono8/16UC1 ids); '' = segment "
                 "class-agnostically")
        label_map = d("label_map", "", "class names of the mask's ids from an upstream "
                      "detector: '1: mug, 2: bowl', a JSON object or a .yaml/.json file")
        label_topic = d("label_map_topic", "", "std_msgs/String topic with the label map in "
                        "the same forms (a detector's classes; the latest applies); '' = none")
        self.labels = parse_label_map(label_map, source="parameter label_map")
        self.label_topic = label_topic
        self._warned_labels: set[int] = set()
        if (self.labels or label_topic) and not mask:
            self.get_logger().warning("label_map / label_map_topic name mask ids but mask_topic "
                                      "is empty: the names are not used")
        slop = d("sync_slop", 0.02, "approximate-time tolerance between colour and depth (s)")
        self.gravity_source = d("gravity_source", "pose", "where up comes from: pose (the "
                                "camera pose source below), imu (imu_topic) or plane (the "
                                "dominant support plane of each frame)")
        if self.gravity_source not in ("pose", "imu", "plane"):
            raise ValueError(f"gravity_source {self.gravity_source!r}: expected pose, imu or "
                             "plane")
        self.pose = pose_source_from_parameters(self) if self.gravity_source == "pose" else None
        level_frame = d("level_frame", "camera_level", "output frame with gravity_source imu "
                        "or plane: level, z up, under the camera")
        self.world_frame = self.pose.world_frame if self.pose else level_frame
        imu_topic = d("imu_topic", "/camera/camera/imu", "gravity_source imu: sensor_msgs/Imu "
                      "with gravity in linear_acceleration")
        rot = d("imu_rotation", [0.0, 0.0, 0.0, 1.0], "gravity_source imu: rotation IMU frame "
                "-> optical frame [qx qy qz qw] (RealSense: identity, its IMU frame is optical)")
        height = d("camera_height", 0.0, "gravity_source imu: camera height above the level "
                   "frame's origin (m)")
        self.imu: ImuGravity | None = None
        if self.gravity_source == "imu":
            if len(rot) != 4:
                raise ValueError(f"imu_rotation needs 4 numbers [qx, qy, qz, qw], got {len(rot)}")
            self.imu = ImuGravity(imu_to_optical=quat_to_matrix(rot), camera_height=height)
            self.create_subscription(Imu, imu_topic, self._on_imu, qos_profile_sensor_data)
            self.gravity_kind = f"imu {imu_topic}"
        elif self.gravity_source == "plane":
            self.gravity_kind = "plane"
        else:
            self.gravity_kind = self.pose.kind
        self.pose_wait = d("pose_wait", 0.1, "wait this long for a frame's pose to arrive (s)")
        self.max_stamp_gap = d("max_frame_gap", 5.0, "a frame further than this from the "
                               "previous one (s) resets the tracker")
        self.time_jump = d("time_jump_reset", 1.0, "a frame this much older than the previous "
                           "one (s) means time was reset (bag loop): tracking restarts; smaller "
                           "steps back are dropped as out of order")
        frames = d("frames", "egocentric,allocentric", "relation frames, comma-separated")
        noise_model = d("depth_noise_model", "realsense_d435", "expected depth noise for "
                        "graded confidences: ideal, realsense_d435, kinect")
        pc = PerceptionConfig()
        perception = PerceptionConfig(
            stride=d("stride", pc.stride, "use every n-th pixel"),
            min_depth=d("min_depth", pc.min_depth, "closer readings are ignored (m)"),
            max_depth=d("max_depth", pc.max_depth, "farther readings are absurd: ignored (m)"),
            min_points=d("min_points", pc.min_points, "smallest object, in points"),
            max_objects=d("max_objects", pc.max_objects, "segment cap: the largest are kept"),
            max_object_size=d("max_object_size", pc.max_object_size, "largest object (m)"),
            plane_distance=d("plane_distance", pc.plane_distance, "RANSAC inlier distance (m)"),
            depth_jump=d("depth_jump", pc.depth_jump, "relative depth jump between segments"),
            mask_flying=d("mask_flying", pc.mask_flying, "with a mask: a reading with under "
                          "two neighbours of its object this close (relative depth) is a flying "
                          "pixel, left out (0 = off)"),
            noise_quadratic=depth_noise(noise_model))
        self.plane_gravity = PlaneGravityConfig(noise_quadratic=depth_noise(noise_model),
                                                max_tilt=d("plane_max_tilt", 75.0, "plane "
                                                           "gravity: largest tilt of a support "
                                                           "plane from the image's up (deg)"))
        tc = TrackerConfig()
        tracker = TrackerConfig(
            gate=d("track_gate", tc.gate, "association gate for a still object (m)"),
            smoothing=d("track_smoothing", tc.smoothing, "weight of a new measurement"),
            forget_after=d("forget_after", tc.forget_after, "keep unseen objects this long (s)"))
        rc = RelationConfig()
        relations = RelationConfig(
            near_distance=d("near_distance", rc.near_distance, "near: surface gap (m)"),
            far_distance=d("far_distance", rc.far_distance, "far_from: surface gap (m)"),
            contact_tolerance=d("contact_tolerance", rc.contact_tolerance, "on_top_of gap (m)"),
            inside_fraction=d("inside_fraction", rc.inside_fraction, "inside: volume share"),
            size_ratio=d("size_ratio", rc.size_ratio, "larger_than: volume ratio"),
            occlusion_fraction=d("occlusion_fraction", rc.occlusion_fraction,
                                 "occludes: hidden share of the silhouette"),
            min_confidence=d("min_confidence", rc.min_confidence, "publish relations above"),
            noise_quadratic=depth_noise(noise_model))
        out = {k: d(f"{k}_topic", v, f"output: {k}") for k, v in {
            "scene_graph": "/spatial/scene_graph", "relations": "/spatial/relations",
            "markers": "/spatial/markers"}.items()}
        period = d("diagnostics_period", 1.0, "seconds between /diagnostics")
        self.threaded = d("worker_thread", True, "process frames on a worker thread with a "
                          "queue of one (true) or in the subscription callback (false)")
        try:
            frame_set = tuple(Frame[f.strip().upper()] for f in frames.split(",") if f.strip())
        except KeyError as exc:
            raise ValueError(f"frames {frames!r}: expected egocentric, allocentric, "
                             "gravity_aligned") from exc
        self.builder = SceneGraphBuilder(perception, tracker, relations, frames=frame_set,
                                         world_frame=self.world_frame)
        reliable = QoSProfile(depth=5)
        self.graph_pub = self.create_publisher(SceneGraph, out["scene_graph"], reliable)
        self.rel_pub = self.create_publisher(SpatialRelationArray, out["relations"], reliable)
        self.marker_pub = self.create_publisher(MarkerArray, out["markers"], reliable)
        if label_topic:
            # volatile: matches latched and plain publishers alike (a latched map published
            # before this node started is missed: publish it with each scene, or use label_map)
            self.create_subscription(String, label_topic, self._on_label_map, QoSProfile(depth=5))
        self.input = RgbdInput(self, color_topic=color, depth_topic=depth, info_topic=info,
                               mask_topic=mask, slop=slop, time_jump=self.time_jump,
                               callback=self._on_frame)
        self._age: deque[float] = deque(maxlen=200)
        self._last_stamp = -np.inf
        self.health = FrameHealth(self, self.input, period, extra=self._report_extra)
        self.dropped = self.health.dropped
        self._worker = LatestOnlyWorker("scene_graph_worker", self._safe_process,
                                        self.health.stale) if self.threaded else None
        self.get_logger().info(f"scene graph: gravity from {self.gravity_kind}, segmentation "
                               f"{'by mask ' + mask if mask else 'class-agnostic'}, "
                               f"frames {frames}, noise model {noise_model}")

    # -- input side (executor thread) -------------------------------------------------------
    def _on_imu(self, msg: Imu) -> None:
        a = msg.linear_acceleration
        try:
            self.imu.add(np.array([a.x, a.y, a.z]), conv.stamp_to_seconds(msg.header.stamp))
        except GravityError as exc:
            self.health.drop("imu_no_gravity", str(exc), "IMU sample ignored")

    def _on_label_map(self, msg: String) -> None:
        try:
            self.labels = parse_label_map(msg.data, source=f"topic {self.label_topic}")
        except LabelMapError as exc:
            self.health.drop("label_map", str(exc), "label map ignored, the previous one kept")

    def _on_frame(self, frame: RgbdFrame) -> None:
        if not self.threaded:
            self._safe_process(frame)
            return
        self._worker.submit(frame)

    @property
    def processed(self) -> int:
        return self.health.processed

    # -- worker thread ------------------------------------------------------------------------
    def _safe_process(self, frame: RgbdFrame) -> None:
        try:
            self._process(frame)
        except Exception as exc:  # noqa: BLE001 - a bad frame must never stop the node
            self.health.drop("error", f"{type(exc).__name__}: {exc}")

    def _process(self, frame: RgbdFrame) -> None:
        if self._last_stamp - frame.stamp > self.time_jump:
            self.get_logger().warning(f"time jumped back {self._last_stamp - frame.stamp:.1f} s "
                                      "(a bag looped or restarted): tracking starts afresh",
                                      throttle_duration_sec=5.0)
            self.builder.tracker.tracks.clear()
            self._last_stamp = -np.inf
        if frame.stamp <= self._last_stamp:
            self.health.drop("stamp_out_of_order", f"frame stamp {frame.stamp:.3f} s is not after "
                       f"the previous frame's {self._last_stamp:.3f} s")
            return
        if frame.stamp - self._last_stamp > self.max_stamp_gap and np.isfinite(self._last_stamp):
            self.get_logger().warning(f"{frame.stamp - self._last_stamp:.1f} s since the last "
                                      "frame: tracking starts afresh")
            self.builder.tracker.tracks.clear()
        pose, why = self._camera_pose(frame)
        if pose is None:
            self.health.drop("no_camera_pose", why)
            return
        t0 = time.perf_counter()
        labels = self.labels  # one map for the frame (the label-map topic may replace it)
        result = self.builder.process(frame.rgb, frame.depth, frame.intrinsics, pose,
                                      frame.stamp, frame.mask, labels)
        self._last_stamp = frame.stamp
        new = [i for i in result.unmatched_labels if i not in self._warned_labels]
        if new:
            self._warned_labels.update(new)
            names = ", ".join(f"{i} ({labels[i]})" for i in new)
            self.get_logger().warning(f"the label map names ids the mask lacks: {names}; "
                                      "their names are unused (warned once per id)")
        for warning in result.report.warnings:
            self.health.drop("degraded", warning, "frame degraded")
        graph = result.graph
        graph.gravity_source = self.gravity_kind
        header = Header(stamp=conv.seconds_to_stamp(frame.stamp), frame_id=self.world_frame)
        self.graph_pub.publish(conv.scene_graph_to_msg(graph))
        self.rel_pub.publish(SpatialRelationArray(
            header=header, relations=[conv.relation_to_msg(r) for r in graph.relations]))
        self.marker_pub.publish(scene_graph_markers(graph))
        self.health.done((time.perf_counter() - t0) * 1e3)
        now = self.get_clock().now().nanoseconds * 1e-9
        self._age.append((now - frame.stamp) * 1e3)

    def _camera_pose(self, frame: RgbdFrame):
        """The camera pose for this frame, or None and why."""
        if self.pose is not None:
            return self.pose.lookup(frame.stamp, frame.frame_id,
                                    wait=self.pose_wait if self.threaded else 0.0)
        try:
            if self.imu is not None:
                return self.imu.pose(), ""
            return gravity_from_plane(frame.depth, frame.intrinsics, self.plane_gravity)[0], ""
        except GravityError as exc:
            return None, str(exc)

    def _report_extra(self) -> dict[str, object]:
        age = np.array(self._age) if self._age else np.array([np.nan])
        return {"age_p50_ms": f"{np.median(age):.1f}",
                "objects": len(self.builder.tracker.tracks)}

    def destroy_node(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(SceneGraphNode, args)
