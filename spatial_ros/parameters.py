"""Every ROS parameter of every spatial_ros node, in one place (ROS-free).

Each :class:`Param` holds a default, a description, its allowed values (a range or a set of
choices) and whether it applies while the node runs (``live``) or needs a restart (read-only).
The nodes declare their parameters from this table (spatial_ros.ros.params), the YAML files in
config/ and the parameter table in the README are generated from it (``spatial-ros params``),
and a test checks that all three agree. Defaults of the perception, tracking and relation
parameters are the core dataclasses' own, so they are written once.

Topic and service names are relative: ``namespace:=robot1`` moves a whole stack
(``/robot1/spatial/scene_graph``); only /tf, /clock and /diagnostics stay global.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from spatial_ros.perception.types import SEGMENTATIONS, PerceptionConfig, workspace_box_error
from spatial_ros.relations import DEPTH_NOISE_QUADRATIC, RelationConfig
from spatial_ros.tracking import TrackerConfig

__all__ = ["Param", "NODES", "node_params", "check_value", "yaml_text", "markdown_table",
           "workspace_box"]


@dataclass(frozen=True)
class Param:
    """One parameter: ``range`` is inclusive (numbers, or each element of a list); ``choices``
    the allowed strings (for a comma-separated list: each item); ``live`` parameters are applied
    by the running node, the others are read-only after start-up."""

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()
    live: bool = False
    comma_list: bool = False  #: a string of comma-separated choices
    #: a further check of a value: the reason it is refused, or None
    validate: Callable[[Any], str | None] | None = None

    @property
    def kind(self) -> str:
        """bool, integer, double, string, double_array or string_array."""
        d = self.default
        if isinstance(d, bool):
            return "bool"
        if isinstance(d, int):
            return "integer"
        if isinstance(d, float):
            return "double"
        if isinstance(d, str):
            return "string"
        if isinstance(d, list) and all(isinstance(x, float) for x in d):
            return "double_array"
        raise TypeError(f"parameter {self.name}: unsupported default {d!r}")


def check_value(p: Param, value: Any) -> str | None:
    """Why ``value`` is not allowed for ``p`` (None when it is)."""
    if p.choices:
        items = [v.strip() for v in value.split(",") if v.strip()] if p.comma_list else [value]
        bad = [v for v in items if v not in p.choices]
        if bad or not items:
            what = "a comma-separated list of " if p.comma_list else ""
            return f"{p.name} {value!r}: expected {what}{', '.join(p.choices)}"
    if p.range is not None:
        lo, hi = p.range
        values = value if isinstance(value, list) else [value]
        out = [v for v in values if not lo <= v <= hi]
        if out:
            return f"{p.name} {value!r}: must lie in [{lo:g}, {hi:g}]"
    return p.validate(value) if p.validate else None


def workspace_box(value: list[float]) -> tuple[float, ...]:
    """The workspace_box parameter as PerceptionConfig.workspace_box ([0.0] = none)."""
    return () if len(value) == 1 else tuple(float(v) for v in value)


def _check_box(value: list[float]) -> str | None:
    reason = workspace_box_error(workspace_box(value))
    return reason and reason + ", or [0.0] for none"


_PC, _TC, _RC = PerceptionConfig(), TrackerConfig(), RelationConfig()
_NOISE = tuple(DEPTH_NOISE_QUADRATIC)
_INF = float("inf")


def _camera_inputs(mask_description: str) -> tuple[Param, ...]:
    return (
        Param("color_topic", "camera/color/image_raw", "colour image (rgb8, bgr8, rgba8, "
              "bgra8, mono8)"),
        Param("depth_topic", "camera/depth/image_raw", "depth registered to colour: 16UC1 "
              "(mm) or 32FC1 (m); its frame_id should be colour's"),
        Param("camera_info_topic", "camera/color/camera_info", "CameraInfo of the colour "
              "camera"),
        Param("mask_topic", "", mask_description),
        Param("sync_slop", 0.02, "approximate-time tolerance between colour, depth and mask "
              "(s)", range=(0.0, 1.0)),
    )


#: The camera-pose parameters shared by scene_graph and reasoning. Order of the sources: a
#: fixed camera_pose, then use_tf, then camera_transform_topic, then camera_pose_topic: the
#: first one set is used, so an explicit use_tf:=true wins over the default pose topic.
CAMERA_POSE = (
    Param("camera_pose", [0.0], "fixed world pose of the optical frame [x y z qx qy qz qw]; "
          "[0.0] = not fixed (first pose source)"),
    Param("use_tf", False, "look the camera pose up in tf2: world_frame <- the image's "
          "frame_id (second pose source)"),
    Param("tf_timeout", 0.1, "longest wait for a tf2 lookup (s)", range=(0.0, 5.0)),
    Param("camera_transform_topic", "", "geometry_msgs/TransformStamped of the optical frame "
          "('' = none; third pose source)"),
    Param("camera_pose_topic", "camera/pose", "geometry_msgs/PoseStamped of the optical frame "
          "('' = none; last pose source)"),
    Param("world_frame", "world", "fixed frame of the outputs"),
    Param("pose_slop", 0.05, "largest stamp gap between a frame and its pose (s)",
          range=(0.0, 10.0)),
)

_DIAGNOSTICS = (
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports",
          range=(0.05, 60.0)),
    Param("diagnostics_window", 10.0, "drops within this many seconds make the status WARN; "
          "older ones are only counted (s)", range=(0.1, 3600.0), live=True),
)

_SCENE_GRAPH = (
    *_camera_inputs("instance mask: mono8, 16UC1 or 32SC1 ids, or Gazebo's rgb8 labels_map "
                    "(label and 16-bit instance count); '' = segment class-agnostically"),
    Param("label_map", "", "class names of the mask's ids (or Gazebo labels): '1: mug, 2: "
          "bowl', a JSON object or a .yaml/.json file"),
    Param("label_map_topic", "", "std_msgs/String with a label map in the same forms (the "
          "latest applies); '' = none"),
    Param("gravity_source", "pose", "where up comes from: pose (the camera pose sources "
          "below), imu (imu_topic) or plane (the dominant support plane of each frame)",
          choices=("pose", "imu", "plane")),
    Param("level_frame", "camera_level", "output frame with gravity_source imu or plane: "
          "level, z up, under the camera; broadcast on /tf"),
    Param("publish_level_tf", True, "with gravity_source imu or plane: broadcast level_frame "
          "-> the image's frame_id on /tf, so RViz shows the graph over the camera"),
    Param("plane_max_tilt", 75.0, "plane gravity: largest tilt of a support plane from the "
          "image's up (deg)", range=(0.0, 90.0), live=True),
    Param("plane_up_hint", [0.0, -1.0, 0.0], "plane gravity: roughly up, in the optical frame "
          "(the image's up [0, -1, 0]; a camera on its side: [1, 0, 0] or [-1, 0, 0]; a camera "
          "looking down into a tote or onto a table from above, at any roll: [0, 0, -1])",
          range=(-1.0, 1.0)),
    Param("imu_topic", "camera/camera/imu", "gravity_source imu: sensor_msgs/Imu with gravity "
          "in linear_acceleration (RealSense D435i/D455)"),
    Param("imu_rotation", [0.0, 0.0, 0.0, 1.0], "gravity_source imu: rotation IMU frame -> "
          "optical frame [qx qy qz qw] (RealSense: identity)", range=(-1.0, 1.0)),
    Param("camera_height", 0.0, "gravity_source imu: camera height above the level frame's "
          "origin (m)", range=(-100.0, 100.0)),
    *CAMERA_POSE,
    Param("pose_wait", 0.1, "wait this long for a late pose of a frame (s)",
          range=(0.0, 5.0)),
    Param("max_frame_gap", 5.0, "a longer gap between frames restarts tracking (s)",
          range=(0.0, _INF)),
    Param("time_jump_reset", 1.0, "a jump back in time this large (a bag looped) restarts "
          "tracking; smaller steps back are dropped as out of order (s)", range=(0.0, _INF)),
    Param("frames", "egocentric,allocentric", "relation frames, comma-separated",
          choices=("egocentric", "allocentric", "gravity_aligned"), comma_list=True),
    Param("depth_noise_model", "realsense_d435", "the camera's depth noise: sets plane "
          "inliers and graded confidences", choices=_NOISE),
    Param("stride", _PC.stride, "use every n-th pixel in each direction (2: slower, set "
          "min_points 25)", range=(1, 16)),
    Param("working_width", _PC.working_width, "frames wider than this take a stride scaled "
          "to their width (stride x width / working_width, rounded: 1280 x 720 at 4); 0 = "
          "stride as set (pixels)", range=(0, 100_000)),
    Param("min_depth", _PC.min_depth, "closer readings are ignored (m)", range=(0.0, 100.0)),
    Param("max_depth", _PC.max_depth, "farther readings are absurd: ignored and reported (m)",
          range=(0.01, 1000.0)),
    Param("min_points", _PC.min_points, "smallest object (points after striding)",
          range=(1, 1_000_000)),
    Param("max_objects", _PC.max_objects, "more segments: the largest are kept, a warning "
          "logged", range=(1, 10_000)),
    Param("max_object_size", _PC.max_object_size, "larger segments (walls, furniture) are not "
          "objects (m)", range=(0.001, 100.0)),
    Param("workspace_range", _PC.workspace_range, "objects farther from the camera are "
          "structure beyond the workspace, not objects (m; 0 = no limit, for room-scale "
          "scenes)", range=(0.0, 1000.0), live=True),
    Param("workspace_box", [0.0], "and/or a box in the output frame that objects' centres "
          "lie in: [xmin, xmax, ymin, ymax, zmin, zmax] (m); [0.0] = none",
          validate=_check_box, live=True),
    Param("resting_only", _PC.resting_only, "class-agnostic, where a large support was found: "
          "only what rests on a support, or stands on or lies in what does, is an object; the "
          "rest is structure (chair backs, shelf panels)", live=True),
    Param("segmentation", _PC.segmentation, "class-agnostic segmentation: learned (the "
          "shipped network's affinities and objectness, within depth cuts), geometric (the "
          "hand-set rules) or combined (the rules' regions, parted where the network is sure of "
          "a boundary, those it calls structure dropped)", choices=SEGMENTATIONS),
    Param("segmenter_weights", _PC.segmenter_weights, "the learned segmenter's weights file "
          "('' = the shipped one); one that does not load: a warning, once, and the geometric "
          "segmentation"),
    Param("min_objectness", _PC.min_objectness, "learned and combined: a region whose mean "
          "objectness is under this is structure, not an object (0 = keep every region)",
          range=(0.0, 1.0), live=True),
    Param("level_objectness", _PC.level_objectness, "learned and combined: a region under "
          "min_objectness is still an object where its objectness is at least this and its "
          "surface is level and raised above the support under it (a package lying flat, "
          "which the network takes for the support; 1 = off)", range=(0.0, 1.0), live=True),
    Param("stand_objectness", _PC.stand_objectness, "learned and combined: a region under "
          "min_objectness is still an object where its objectness is at least this and it "
          "stands on a support with a package's size (an object a camera's dull colours left "
          "the network unsure of; 1 = off)", range=(0.0, 1.0), live=True),
    Param("raised_objectness", _PC.raised_objectness, "learned and combined: readings the "
          "plane search took with a support, raised_height or more above it, that the network "
          "calls object with this objectness or more stay foreground where they are a tenth of "
          "their blob or more (a marker lying on the table; 1 = off)", range=(0.0, 1.0),
          live=True),
    Param("raised_height", _PC.raised_height, "learned and combined: the least height over a "
          "support (m) of the readings raised_objectness takes back", range=(0.0, 0.1),
          live=True),
    Param("thin_objects", _PC.thin_objects, "combined: a thin thing lying on the support (a "
          "pen, a marker), which the depth-step cut erases whole, is kept as an object (off: on "
          "the held-out real frames it found no object more and added detections)"),
    Param("plane_distance", _PC.plane_distance, "RANSAC inlier distance of support planes (m)",
          range=(0.0001, 1.0)),
    Param("wall_sigmas", _PC.wall_sigmas, "class-agnostic: a segment with 90 % of its points "
          "within plane_distance plus this many depth-noise sigmas of a wall the plane search "
          "removed is a patch of that wall, not an object (a real D435's error is long waves: "
          "a far wall leaves the plane in patches); 0 = off", range=(0.0, 10.0), live=True),
    Param("depth_jump", _PC.depth_jump, "relative depth jump that separates segments",
          range=(0.0, 10.0)),
    Param("mask_flying", _PC.mask_flying, "with a mask: a reading with under two neighbours "
          "of its object this close (relative depth) is a flying pixel, left out (0 = off)",
          range=(0.0, 10.0)),
    Param("track_gate", _TC.gate, "association gate of a still object (m)",
          range=(0.0, 10.0), live=True),
    Param("track_smoothing", _TC.smoothing, "weight of a new measurement (1 = none)",
          range=(0.0, 1.0), live=True),
    Param("forget_after", _TC.forget_after, "unseen objects stay in the graph this long (s)",
          range=(0.0, _INF), live=True),
    Param("near_distance", _RC.near_distance, "near: surface gap (m)", range=(0.0, 100.0),
          live=True),
    Param("far_distance", _RC.far_distance, "far_from: surface gap (m)", range=(0.0, 1000.0),
          live=True),
    Param("contact_tolerance", _RC.contact_tolerance, "on_top_of: vertical gap (m)",
          range=(0.0, 1.0), live=True),
    Param("inside_fraction", _RC.inside_fraction, "inside: share of the box inside the "
          "other's", range=(0.0, 1.0), live=True),
    Param("size_ratio", _RC.size_ratio, "larger_than: volume ratio", range=(1.0, 1000.0),
          live=True),
    Param("occlusion_fraction", _RC.occlusion_fraction, "occludes: hidden share of the "
          "silhouette", range=(0.0, 1.0), live=True),
    Param("min_confidence", _RC.min_confidence, "relations below this confidence are not "
          "published", range=(0.0, 1.0), live=True),
    Param("scene_graph_topic", "spatial/scene_graph", "output: spatial_ros/SceneGraph"),
    Param("relations_topic", "spatial/relations", "output: spatial_ros/SpatialRelationArray "
          "(source GEOMETRY)"),
    Param("markers_topic", "spatial/markers", "output: visualization_msgs/MarkerArray for "
          "RViz"),
    Param("reset_service", "spatial/reset_tracking", "std_srvs/Trigger: forget every track; "
          "ids start again at 1"),
    *_DIAGNOSTICS,
    Param("worker_thread", True, "process frames on a worker thread with a queue of one "
          "(false: in the subscription callback)"),
)

_REASONING = (
    *_camera_inputs("instance mask (same forms as scene_graph's): every instance is reasoned "
                    "about, those without depth by the model alone ('' = the graph's "
                    "objects, regions from their 2D boxes)"),
    Param("scene_graph_topic", "spatial/scene_graph", "SceneGraph whose objects are reasoned "
          "about"),
    Param("graph_slop", 0.02, "largest stamp gap between a scene graph and its camera frame "
          "(s)", range=(0.0, 1.0)),
    Param("frame_buffer", 10, "recent frames kept until their scene graph arrives",
          range=(1, 1000)),
    *CAMERA_POSE,
    Param("weights", "", "model checkpoint ('' = the shipped "
          "spatial_ros/model/weights/small.pt)"),
    Param("fusion", "", "fusion weights JSON ('' = <weights>.fusion.json beside them)"),
    Param("device", "auto", "auto (CUDA when available, else CPU; fp16 on CUDA), cpu, cuda, "
          "cuda:N"),
    Param("depth_noise_model", "realsense_d435", "depth noise for the geometric confidences",
          choices=_NOISE),
    Param("min_confidence", 0.5, "publish fused relations at or above this confidence",
          range=(0.0, 1.0), live=True),
    Param("relations_topic", "spatial/fused_relations", "output: SpatialRelationArray, "
          "stamped as its scene graph (source FUSED, or MODEL for objects without depth)"),
    *_DIAGNOSTICS,
)

_PLANNER = (
    Param("scene_graph_topic", "spatial/scene_graph", "spatial_ros/SceneGraph input"),
    Param("relations_topic", "", "fused SpatialRelationArray from the reasoning node, paired "
          "with its scene graph by stamp ('' = answer from the graph's own relations)"),
    Param("fused_max_lag", 1.0, "answer from the newest graph whose fused relations arrived "
          "if it is at most this much older than the newest graph, else from the newest "
          "graph's geometry (s)", range=(0.0, 60.0), live=True),
    Param("camera_pose_topic", "camera/pose", "PoseStamped of the camera, for graphs that do "
          "not carry the pose they were built with ('' = none)"),
    Param("min_confidence", 0.5, "a relation holds at or above this confidence",
          range=(0.0, 1.0), live=True),
    Param("place_margin", 0.02, "targets satisfy the relation by at least this (m)",
          range=(0.0, 1.0), live=True),
    Param("place_clearance", 0.01, "free space kept around the placed object (m)",
          range=(0.0, 1.0), live=True),
    Param("place_release", 0.01, "on_top_of: held this far above its resting pose (m)",
          range=(0.0, 1.0), live=True),
    Param("place_radius", 0.4, "placements are searched this far around the reference (m)",
          range=(0.01, 10.0), live=True),
    Param("max_object_age", 2.0, "goals naming objects unseen for longer are refused (s)",
          range=(0.0, _INF), live=True),
    Param("max_object_speed", 0.05, "goals naming objects moving faster are refused (m/s, "
          "over the last second of graphs)", range=(0.0, 100.0), live=True),
    Param("stale_graph_warning", 2.0, "warn when answering from an older graph; answers carry "
          "graph_age (s)", range=(0.0, _INF), live=True),
    Param("query_service", "spatial/query", "spatial_ros/srv/QuerySpatial"),
    Param("place_service", "spatial/place", "spatial_ros/srv/PlaceRelative"),
    Param("goal_topic", "spatial/place_goal", "std_msgs/String goals, fire-and-forget"),
    Param("target_topic", "spatial/target_pose", "geometry_msgs/PoseStamped of accepted goals"),
)

_SIM_CAMERA = (
    Param("world", "tabletop", "a name in sim/worlds or a path to an SDF world"),
    Param("camera", "", "camera sensor name in the world ('' = the first one)"),
    Param("rate", 10.0, "frames per second", range=(0.01, 1000.0)),
    Param("sensor", "ideal", "depth model", choices=("ideal", "realsense_d435",
                                                     "realsense_d435_raw",
                                                     "realsense_d435_window", "kinect",
                                                     "rgb_only")),
    Param("seed", 0, "noise seed: the same seed gives the same frames", range=(0, 2**31 - 1)),
    Param("camera_path", "static", "how the camera moves", choices=("static", "orbit",
                                                                    "scripted")),
    Param("path_period", 20.0, "orbit period, or hold time per waypoint (s)",
          range=(0.001, 1e6)),
    Param("waypoints", [0.0], "scripted: x y z roll pitch yaw of the sensor body, repeated"),
    Param("depth_encoding", "32FC1", "32FC1 (m, as Gazebo) or 16UC1 (mm, as RealSense)",
          choices=("32FC1", "16UC1")),
    Param("publish_clock", False, "publish /clock and stamp frames in sim time"),
    Param("frame_id", "camera_optical_frame", "optical frame of every image"),
    Param("color_topic", "camera/color/image_raw", "output: rgb8 colour"),
    Param("depth_topic", "camera/depth/image_raw", "output: depth"),
    Param("camera_info_topic", "camera/color/camera_info", "output: CameraInfo"),
    Param("labels_topic", "camera/segmentation/labels", "output: rgb8 labels_map as Gazebo's "
          "segmentation camera publishes it (label, 16-bit instance count)"),
    Param("pose_topic", "camera/pose", "output: geometry_msgs/PoseStamped, world pose of the "
          "optical frame"),
    Param("ground_truth_topic", "sim/ground_truth", "output: spatial_ros/SceneGraph with "
          "exact boxes and relations"),
)

_RGBD_MONITOR = (
    *_camera_inputs("instance mask to check as well ('' = none)")[:3],
    Param("sync_slop", 0.02, "approximate-time tolerance (s)", range=(0.0, 1.0)),
    *_DIAGNOSTICS,
)

#: node name -> its parameters, in the order of the YAML files
NODES: dict[str, tuple[Param, ...]] = {
    "scene_graph": _SCENE_GRAPH, "reasoning": _REASONING, "planner": _PLANNER,
    "sim_camera": _SIM_CAMERA, "rgbd_monitor": _RGBD_MONITOR}

#: what each node is, for the headers of the generated files
PURPOSE = {
    "scene_graph": "scene_graph_node (RGB-D -> tracked objects -> graded spatial relations)",
    "reasoning": "reasoning_node (the depth-aware model over every object pair, fused with "
                 "geometry)",
    "planner": "planner_node (spatial questions and relation goals from the live scene graph)",
    "sim_camera": "sim_camera_node (the headless stand-in for Gazebo + ros_gz_bridge)",
    "rgbd_monitor": "rgbd_monitor_node (health of a camera's RGB-D topics)",
}


def node_params(node: str) -> tuple[Param, ...]:
    if node not in NODES:
        raise KeyError(f"no node {node!r}; expected one of {', '.join(NODES)}")
    return NODES[node]


def _yaml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"' if v == "" or ":" in v or v.startswith(("[", "{")) else v
    if isinstance(v, list):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    return repr(v)


def _allowed(p: Param) -> str:
    if p.choices:
        return " | ".join(p.choices)
    if p.range is not None:
        lo, hi = p.range
        return f"[{lo:g}, {hi:g}]"
    return ""


def yaml_text(nodes: Iterable[str]) -> str:
    """config/*.yaml for ``nodes``: every parameter, its default and description."""
    lines = []
    for name in nodes:
        lines.append(f"# Parameters of {PURPOSE[name]}.")
        lines.append("# Generated by `spatial-ros params --yaml` from spatial_ros/parameters.py: "
                     "edit there.")
        lines.append("# (live) = applied while the node runs; the others need a restart.")
        lines.append(f"{name}:")
        lines.append("  ros__parameters:")
        for p in NODES[name]:
            allowed = _allowed(p)
            note = (" (live)" if p.live else "") + (f" [{allowed}]" if p.choices else "")
            lines.append(f"    {p.name}: {_yaml_value(p.default)}  # {p.description}{note}")
    return "\n".join(lines) + "\n"


def markdown_table(node: str) -> str:
    """The README's table of ``node``'s parameters."""
    rows = ["| parameter | default | allowed | live | description |",
            "| --- | --- | --- | --- | --- |"]
    for p in NODES[node]:
        default = _yaml_value(p.default) if p.default != "" else '""'
        rows.append(f"| `{p.name}` | `{default}` | {_allowed(p)} | {'yes' if p.live else ''} "
                    f"| {p.description} |")
    return "\n".join(rows)
