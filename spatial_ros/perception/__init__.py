"""Perception (ROS-free): objects, supports and gravity from RGB-D frames.

Modules:
    detect: ``detect_objects``, one frame to gravity-aligned objects (the entry point).
    supports: support and structure planes.
    segmentation: class-agnostic segmentation back-ends.
    amodal: per-object boxes, shape fits, hidden bottoms.
    shapes: the learned shape classifier (inference); shape_training: its data and fit.
    gravity: which way is up without a world pose (support plane, IMU).
"""
from spatial_ros.perception.detect import detect_objects
from spatial_ros.perception.segmentation import hue_bins
from spatial_ros.perception.types import Detection, FrameReport, PerceptionConfig

__all__ = ["PerceptionConfig", "Detection", "FrameReport", "detect_objects", "hue_bins"]
