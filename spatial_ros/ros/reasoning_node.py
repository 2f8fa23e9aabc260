"""reasoning_node: the depth-aware model over every object pair, fused with the geometry.

Subscribes colour, depth and CameraInfo (sensor-data QoS, approximate-time synchronised), the
SceneGraph and the camera pose. Recent frames are kept by stamp; when the scene graph of a frame
arrives, the pair (frame, graph) goes to a worker thread with a queue of one (a pair still
waiting when the next arrives is dropped and counted as stale). The worker runs the model on the
``device`` parameter (auto = CUDA when available, else CPU; fp16 on CUDA) over all ordered pairs
of the objects seen in that frame, regions from their 2D boxes, in one batch, fuses with the
geometric confidences (calibrated weights beside the model's) and publishes the fused
SpatialRelationArray (source FUSED), stamped as its scene graph so that the planner can pair them.
With ``mask_topic`` (an upstream instance segmenter), every instance is an object, regions from
the mask; one the graph has no object for (no valid depth: a dark surface, out of range, an
RGB-only camera) gets an id above every tracker id (``UNSENSED_ID_BASE`` + instance) and the
model's relations alone (source MODEL). Bad frames and graphs are logged and counted; the node
keeps running. Rate, latency and drops go to /diagnostics.
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
from spatial_ros.relations import RelationConfig, depth_noise
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.camera_pose import pose_source_from_parameters
from spatial_ros.ros.diagnostics import FrameHealth
from spatial_ros.ros.params import declare_params
from spatial_ros.ros.rgbd_input import RgbdFrame, RgbdInput
from spatial_ros.ros.runner import run_node
from spatial_ros.ros.worker import LatestOnlyWorker

__all__ = ["ReasoningNode", "main"]


class ReasoningNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("reasoning", **kwargs)
        v = declare_params(self, "reasoning", apply=self._apply_parameters)
        self.pose = pose_source_from_parameters(self, v)
        self.world_frame = self.pose.world_frame
        self.graph_slop = v["graph_slop"]
        self.buffer = v["frame_buffer"]
        weights, fusion = v["weights"], v["fusion"]
        self.min_confidence = v["min_confidence"]
        weights_path = pathlib.Path(weights) if weights else SHIPPED_WEIGHTS
        self.reasoner = SpatialReasoner(weights_path, device=v["device"])
        fusion_path = pathlib.Path(fusion) if fusion else weights_path.with_suffix(".fusion.json")
        if fusion_path.exists():
            self.fusion = Fusion.load(fusion_path)
        else:
            self.get_logger().warning(f"no fusion weights at {fusion_path}: using the "
                                      "uncalibrated mean of the two logits")
            self.fusion = Fusion.identity()
        self.relation_config = RelationConfig(
            noise_quadratic=depth_noise(v["depth_noise_model"]))
        self.pub = self.create_publisher(SpatialRelationArray, v["relations_topic"],
                                         QoSProfile(depth=5))
        self.frames: deque[RgbdFrame] = deque(maxlen=max(1, int(self.buffer)))
        self.input = RgbdInput(self, color_topic=v["color_topic"], depth_topic=v["depth_topic"],
                               info_topic=v["camera_info_topic"], mask_topic=v["mask_topic"],
                               slop=v["sync_slop"], callback=self.frames.append)
        self.create_subscription(SceneGraph, v["scene_graph_topic"], self._on_graph, 5)
        self._model_ms: deque[float] = deque(maxlen=200)
        self.health = FrameHealth(self, self.input, v["diagnostics_period"],
                                  window=v["diagnostics_window"], extra=lambda: {
            "model_p50_ms": f"{np.median(self._model_ms) if self._model_ms else np.nan:.1f}",
            "device": str(self.reasoner.device)})
        self.dropped = self.health.dropped
        self._worker = LatestOnlyWorker("reasoning_worker", self._safe_process,
                                        self.health.stale)
        self.get_logger().info(f"reasoning: model {weights_path.name} on {self.reasoner.device}"
                               f"{' (fp16)' if self.reasoner.half else ''}, fusion "
                               f"{fusion_path.name if fusion_path.exists() else 'identity'}")

    def _apply_parameters(self, changes: dict) -> None:
        """Live parameters (spatial_ros.parameters: live=True), applied from the next graph."""
        if "min_confidence" in changes:
            self.min_confidence = changes["min_confidence"]
        if "diagnostics_window" in changes:
            self.health.window = changes["diagnostics_window"]

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
        # stamped as the scene graph it reasons over: the planner pairs the two by stamp
        header = Header(stamp=conv.seconds_to_stamp(graph.stamp), frame_id=world)
        self.pub.publish(SpatialRelationArray(header=header,
                                              relations=[conv.relation_to_msg(r) for r in rels]))
        self.health.done((time.perf_counter() - t0) * 1e3)
        self._model_ms.append(out.ms)

    def destroy_node(self) -> None:
        self._worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(ReasoningNode, args)
