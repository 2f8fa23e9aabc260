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
from dataclasses import replace

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Imu
from std_msgs.msg import Header, String
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from spatial_ros.errors import GravityError
from spatial_ros.geometry import quat_to_matrix
from spatial_ros.labels import LabelMapError, parse_label_map
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.parameters import workspace_box
from spatial_ros.perception import PerceptionConfig
from spatial_ros.perception.gravity import (
    LEVEL_CAMERA,
    ImuGravity,
    PlaneGravityConfig,
    gravity_from_plane,
)
from spatial_ros.pipeline import SceneGraphBuilder
from spatial_ros.relations import RelationConfig, depth_noise, needs_gravity
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.camera_pose import pose_source_from_parameters
from spatial_ros.ros.diagnostics import FrameHealth
from spatial_ros.ros.markers import scene_graph_markers
from spatial_ros.ros.params import declare_params
from spatial_ros.ros.rgbd_input import RgbdFrame, RgbdInput
from spatial_ros.ros.runner import run_node
from spatial_ros.ros.worker import LatestOnlyWorker
from spatial_ros.tracking import TrackerConfig
from spatial_ros.vocabulary import Frame

__all__ = ["SceneGraphNode", "main"]


class SceneGraphNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("scene_graph", **kwargs)
        v = declare_params(self, "scene_graph", apply=self._apply_parameters)
        mask = v["mask_topic"]
        self.labels = parse_label_map(v["label_map"], source="parameter label_map")
        self.label_topic = label_topic = v["label_map_topic"]
        self._warned_labels: set[int] = set()
        if (self.labels or label_topic) and not mask:
            self.get_logger().warning("label_map / label_map_topic name mask ids but mask_topic "
                                      "is empty: the names are not used")
        self.gravity_source = v["gravity_source"]
        self.pose = pose_source_from_parameters(self, v) if self.gravity_source == "pose" \
            else None
        self.world_frame = self.pose.world_frame if self.pose else v["level_frame"]
        self.imu: ImuGravity | None = None
        if self.gravity_source == "imu":
            rot = v["imu_rotation"]
            if len(rot) != 4:
                raise ValueError(f"imu_rotation needs 4 numbers [qx, qy, qz, qw], got {len(rot)}")
            self.imu = ImuGravity(imu_to_optical=quat_to_matrix(rot),
                                  camera_height=v["camera_height"])
            self.create_subscription(Imu, v["imu_topic"], self._on_imu, qos_profile_sensor_data)
            self.gravity_kind = f"imu {self.resolve_topic_name(v['imu_topic'])}"
        elif self.gravity_source == "plane":
            self.gravity_kind = "plane"
        else:
            self.gravity_kind = self.pose.kind
        self.pose_wait = v["pose_wait"]
        self.max_stamp_gap = v["max_frame_gap"]
        self.time_jump = v["time_jump_reset"]
        noise = depth_noise(v["depth_noise_model"])
        perception = PerceptionConfig(
            stride=v["stride"], working_width=v["working_width"], min_depth=v["min_depth"],
            max_depth=v["max_depth"], min_points=v["min_points"], max_objects=v["max_objects"],
            max_object_size=v["max_object_size"], plane_distance=v["plane_distance"],
            depth_jump=v["depth_jump"], mask_flying=v["mask_flying"], noise_quadratic=noise,
            workspace_range=v["workspace_range"], workspace_box=workspace_box(v["workspace_box"]),
            resting_only=v["resting_only"], segmentation=v["segmentation"],
            segmenter_weights=v["segmenter_weights"], min_objectness=v["min_objectness"],
            level_objectness=v["level_objectness"], stand_objectness=v["stand_objectness"],
            wall_sigmas=v["wall_sigmas"], raised_objectness=v["raised_objectness"],
            raised_height=v["raised_height"], thin_objects=v["thin_objects"])
        hint = v["plane_up_hint"]
        if len(hint) != 3 or float(np.linalg.norm(hint)) < 0.5:
            raise ValueError(f"plane_up_hint needs 3 numbers of about unit length [x, y, z] in "
                             f"the optical frame, got {hint}")
        self.plane_gravity = PlaneGravityConfig(noise_quadratic=noise,
                                                max_tilt=v["plane_max_tilt"],
                                                up_hint=tuple(float(h) for h in hint))
        self._said_no_gravity = False
        tracker = TrackerConfig(gate=v["track_gate"], smoothing=v["track_smoothing"],
                                forget_after=v["forget_after"])
        relations = RelationConfig(
            near_distance=v["near_distance"], far_distance=v["far_distance"],
            contact_tolerance=v["contact_tolerance"], inside_fraction=v["inside_fraction"],
            size_ratio=v["size_ratio"], occlusion_fraction=v["occlusion_fraction"],
            min_confidence=v["min_confidence"], noise_quadratic=noise)
        self.threaded = v["worker_thread"]
        frame_set = tuple(Frame[f.strip().upper()] for f in v["frames"].split(",") if f.strip())
        self.builder = SceneGraphBuilder(perception, tracker, relations, frames=frame_set,
                                         world_frame=self.world_frame)
        for warning in self.builder.warnings:  # a segmenter that did not load: said once
            self.get_logger().warning(warning)
        reliable = QoSProfile(depth=5)
        self.graph_pub = self.create_publisher(SceneGraph, v["scene_graph_topic"], reliable)
        self.rel_pub = self.create_publisher(SpatialRelationArray, v["relations_topic"],
                                             reliable)
        self.marker_pub = self.create_publisher(MarkerArray, v["markers_topic"], reliable)
        # the level frame this node makes (imu / plane gravity) goes on /tf, so that RViz can
        # show the graph over the camera; with gravity from a pose the frames are the robot's
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 100) \
            if self.pose is None and v["publish_level_tf"] else None
        if label_topic:
            # volatile: matches latched and plain publishers alike (a latched map published
            # before this node started is missed: publish it with each scene, or use label_map)
            self.create_subscription(String, label_topic, self._on_label_map, QoSProfile(depth=5))
        self.create_service(Trigger, v["reset_service"], self._on_reset)
        self._reset_requested = False
        self.input = RgbdInput(self, color_topic=v["color_topic"], depth_topic=v["depth_topic"],
                               info_topic=v["camera_info_topic"], mask_topic=mask,
                               slop=v["sync_slop"], time_jump=self.time_jump,
                               callback=self._on_frame)
        self._age: deque[float] = deque(maxlen=200)
        self._last_stamp = -np.inf
        self.health = FrameHealth(self, self.input, v["diagnostics_period"],
                                  window=v["diagnostics_window"], extra=self._report_extra)
        self.dropped = self.health.dropped
        self._worker = LatestOnlyWorker("scene_graph_worker", self._safe_process,
                                        self.health.stale) if self.threaded else None
        self.get_logger().info(f"scene graph: gravity from {self.gravity_kind}, segmentation "
                               f"{'by mask ' + mask if mask else 'class-agnostic'} "
                               f"({self.builder.perception.segmentation}), "
                               f"frames {v['frames']}, noise model {v['depth_noise_model']}")

    def _apply_parameters(self, changes: dict) -> None:
        """Live parameters (spatial_ros.parameters: live=True), applied from the next frame."""
        names = {"near_distance", "far_distance", "contact_tolerance", "inside_fraction",
                 "size_ratio", "occlusion_fraction", "min_confidence"}
        rel = {k: v for k, v in changes.items() if k in names}
        if rel:
            self.builder.relation_config = replace(self.builder.relation_config, **rel)
        track = {new: changes[old] for old, new in (("track_gate", "gate"),
                                                     ("track_smoothing", "smoothing"),
                                                     ("forget_after", "forget_after"))
                 if old in changes}
        if track:
            self.builder.tracker.config = replace(self.builder.tracker.config, **track)
        work = {k: (workspace_box(changes[k]) if k == "workspace_box" else changes[k])
                for k in ("workspace_range", "workspace_box", "resting_only", "min_objectness",
                          "level_objectness", "stand_objectness", "wall_sigmas",
                          "raised_objectness", "raised_height")
                if k in changes}
        if work:
            self.builder.perception = replace(self.builder.perception, **work)
        if "plane_max_tilt" in changes:
            self.plane_gravity = replace(self.plane_gravity, max_tilt=changes["plane_max_tilt"])
        if "diagnostics_window" in changes:
            self.health.window = changes["diagnostics_window"]

    def _on_reset(self, _request, response):
        """Forget every track (ids start again at 1) before the next frame."""
        self._reset_requested = True
        response.success = True
        response.message = "tracking restarts with the next frame; ids start again at 1"
        self.get_logger().info("tracking reset requested")
        return response

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
        if self._reset_requested:
            self._reset_requested = False
            self.builder.tracker.reset()
            self.builder.reset_supports()
            self._last_stamp = -np.inf
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
        no_gravity = pose is None and self.gravity_source == "plane"
        if no_gravity:  # still the objects, and the relations that need no gravity
            pose = LEVEL_CAMERA
            self.health.drop("no_gravity", why, "frame without gravity")
            if not self._said_no_gravity:
                self._said_no_gravity = True
                self.get_logger().warning(
                    f"{why}. Frames without gravity are published with the camera assumed "
                    "level (gravity_source 'none') and without the relations that need "
                    "gravity: on_top_of, under, inside, contains, and the world and "
                    "gravity-aligned directions (said once)")
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
        graph.gravity_source = self.gravity_source  # SceneGraph.GRAVITY_*; detail in the log
        if no_gravity:
            graph.gravity_source = SceneGraph.GRAVITY_NONE
            graph.relations = [r for r in graph.relations
                               if not needs_gravity(r.predicate, r.frame)]
            graph.support_heights, graph.supports = [], []  # no level: no support
            for o in graph.objects:
                o.support_id = 0
        header = Header(stamp=conv.seconds_to_stamp(frame.stamp), frame_id=self.world_frame)
        self.graph_pub.publish(conv.scene_graph_to_msg(graph))
        self.rel_pub.publish(SpatialRelationArray(
            header=header, relations=[conv.relation_to_msg(r) for r in graph.relations]))
        self.marker_pub.publish(scene_graph_markers(graph))
        if self.tf_pub is not None and graph.camera_pose is not None and not no_gravity:
            self.tf_pub.publish(TFMessage(transforms=[conv.pose_to_transform(
                graph.camera_pose, stamp=header.stamp, parent=self.world_frame,
                child=frame.frame_id)]))
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
        return {"age_p50_ms": f"{np.median(age):.1f}", "gravity": self.gravity_kind,
                "objects": len(self.builder.tracker.tracks)}

    def destroy_node(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(SceneGraphNode, args)
