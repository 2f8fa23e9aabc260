"""reasoning_node: the depth-aware model over every object pair, fused with the geometry.

Subscribes colour, depth and CameraInfo (sensor-data QoS, approximate-time synchronised), the
SceneGraph and the camera pose. Recent frames are kept by stamp; when the scene graph of a frame
arrives, the pair (frame, graph) goes to a worker thread with a queue of one (a pair still
waiting when the next arrives is dropped and counted as stale). The worker runs the model on the
``device`` parameter (auto = CUDA when available, else CPU; fp16 on CUDA) over all ordered pairs
of the objects seen in that frame, regions from their 2D boxes, in one batch, fuses with the
geometric confidences (calibrated weights beside the model's) and publishes the fused
SpatialRelationArray (source FUSED). With ``mask_topic`` (an upstream instance segmenter), every
instance is an object, regions from the mask; one the graph has no object for (no valid depth:
a dark surface, out of range, an RGB-only camera) gets id 10000 + instance and the model's
relations alone. Bad frames and graphs are logged and counted; the node keeps
running. Rate, latency and drops go to /diagnostics.
"""
from __future__ import annotations

import pathlib
import time
from collections import deque

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Header

from spatial_ros.model.fusion import Fusion
from spatial_ros.model.infer import SHIPPED_WEIGHTS, SpatialReasoner
from spatial_ros.model.reason import reason_frame
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.relations import RelationConfig
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.camera_pose import pose_source_from_parameters
from spatial_ros.ros.diagnostics import FrameHealth
from spatial_ros.ros.params import declare, depth_noise
from spatial_ros.ros.rgbd_input import RgbdFrame, RgbdInput
from spatial_ros.ros.runner import run_node
from spatial_ros.ros.worker import LatestOnlyWorker

__all__ = ["ReasoningNode", "main"]


class ReasoningNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("reasoning", **kwargs)
        d = lambda *a: declare(self, *a)  # noqa: E731
        color = d("color_topic", "/camera/color/image_raw", "colour image topic")
        depth = d("depth_topic", "/camera/depth/image_raw", "depth image topic (16UC1 or 32FC1)")
        info = d("camera_info_topic", "/camera/color/camera_info", "CameraInfo topic")
        mask = d("mask_topic", "", "instance mask (mono8/16UC1 ids); with it every instance is "
                 "reasoned about, those without depth by the model alone ('' = the graph's "
                 "objects, regions from their 2D boxes)")
        slop = d("sync_slop", 0.02, "approximate-time tolerance between colour and depth (s)")
        self.pose = pose_source_from_parameters(self)
        self.world_frame = self.pose.world_frame
        graph_topic = d("scene_graph_topic", "/spatial/scene_graph", "SceneGraph input")
        self.graph_slop = d("graph_slop", 0.02, "largest stamp gap between a graph and its "
                            "frame (s)")
        self.buffer = d("frame_buffer", 10, "recent frames kept to meet their scene graph")
        weights = d("weights", "", "model checkpoint ('' = the shipped weights)")
        fusion = d("fusion", "", "fusion weights JSON ('' = <weights>.fusion.json beside them)")
        device = d("device", "auto", "auto (CUDA when available, else CPU), cpu, cuda, cuda:N")
        noise_model = d("depth_noise_model", "realsense_d435", "expected depth noise for the "
                        "geometric confidences: ideal, realsense_d435, kinect")
        self.min_confidence = d("min_confidence", 0.5, "publish fused relations above this")
        out_topic = d("relations_topic", "/spatial/fused_relations", "fused relations output")
        period = d("diagnostics_period", 1.0, "seconds between /diagnostics")
        weights_path = pathlib.Path(weights) if weights else SHIPPED_WEIGHTS
        self.reasoner = SpatialReasoner(weights_path, device=device)
        fusion_path = pathlib.Path(fusion) if fusion else weights_path.with_suffix(".fusion.json")
        if fusion_path.exists():
            self.fusion = Fusion.load(fusion_path)
        else:
            self.get_logger().warning(f"no fusion weights at {fusion_path}: using the "
                                      "uncalibrated mean of the two logits")
            self.fusion = Fusion.identity()
        self.relation_config = RelationConfig(
            noise_quadratic=depth_noise(noise_model))
        self.pub = self.create_publisher(SpatialRelationArray, out_topic, QoSProfile(depth=5))
        self.frames: deque[RgbdFrame] = deque(maxlen=max(1, int(self.buffer)))
        self.input = RgbdInput(self, color_topic=color, depth_topic=depth, info_topic=info,
                               mask_topic=mask, slop=slop, callback=self.frames.append)
        self.create_subscription(SceneGraph, graph_topic, self._on_graph, 5)
        self._model_ms: deque[float] = deque(maxlen=200)
        self.health = FrameHealth(self, self.input, period, extra=lambda: {
            "model_p50_ms": f"{np.median(self._model_ms) if self._model_ms else np.nan:.1f}",
            "device": str(self.reasoner.device)})
        self.dropped = self.health.dropped
        self._worker = LatestOnlyWorker("reasoning_worker", self._safe_process,
                                        self.health.stale)
        self.get_logger().info(f"reasoning: model {weights_path.name} on {self.reasoner.device}"
                               f"{' (fp16)' if self.reasoner.half else ''}, fusion "
                               f"{fusion_path.name if fusion_path.exists() else 'identity'}")

    @property
    def processed(self) -> int:
        return self.health.processed

    def _drop(self, reason: str, message: str) -> None:
        self.health.drop(reason, message, "dropped")

    def _on_graph(self, msg) -> None:
        try:
            graph = conv.scene_graph_from_msg(msg)
        except Exception as exc:  # noqa: BLE001 - a bad message must never stop the node
            self._drop("bad_graph", f"scene graph cannot be read: {exc}")
            return
        best = min(self.frames, key=lambda f: abs(f.stamp - graph.stamp), default=None)
        if best is None or abs(best.stamp - graph.stamp) > self.graph_slop:
            self._drop("no_frame_for_graph", f"no camera frame within {self.graph_slop} s of "
                       f"the scene graph stamped {graph.stamp:.3f} s")
            return
        self._worker.submit((best, graph))

    def _safe_process(self, item) -> None:
        try:
            self._process(*item)
        except Exception as exc:  # noqa: BLE001 - a bad frame must never stop the node
            self._drop("error", f"{type(exc).__name__}: {exc}")

    def _process(self, frame: RgbdFrame, graph) -> None:
        # the pose the graph was built with, whatever its source (parameter, topic, tf, IMU,
        # support plane); graphs that carry none: this node's own pose source
        world = graph.frame_id or self.world_frame
        pose = graph.camera_pose
        if pose is None:
            world = self.world_frame
            pose, why = self.pose.lookup(frame.stamp, frame.frame_id, wait=0.1)
            if pose is None:
                self._drop("no_camera_pose", why)
                return
        t0 = time.perf_counter()
        rels, out = reason_frame(self.reasoner, self.fusion, graph, frame.rgb, frame.depth,
                                 pose, frame.stamp, config=self.relation_config,
                                 slop=self.graph_slop, min_confidence=self.min_confidence,
                                 mask=frame.mask, focal=frame.intrinsics.fx)
        header = Header(stamp=conv.seconds_to_stamp(frame.stamp), frame_id=world)
        self.pub.publish(SpatialRelationArray(header=header,
                                              relations=[conv.relation_to_msg(r) for r in rels]))
        self.health.done((time.perf_counter() - t0) * 1e3)
        self._model_ms.append(out.ms)

    def destroy_node(self) -> None:
        self._worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(ReasoningNode, args)
