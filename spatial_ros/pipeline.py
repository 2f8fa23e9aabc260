"""RGB-D frame -> tracked objects -> graded relations: the scene-graph pipeline (ROS-free).

``SceneGraphBuilder.process`` runs, per frame: perception (segmentation and per-object
geometry), tracking (stable ids), occlusion from the image (depth order and silhouette overlap)
and the relation engine (spatial_ros.relations, the same predicate definitions that give the
simulator's ground truth) on the tracked boxes, with the expected depth noise of the sensor.
scene_graph_node wraps it for ROS; the benchmarks call it directly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from spatial_ros.geometry import CameraIntrinsics, Pose
from spatial_ros.labels import mask_label
from spatial_ros.perception import Detection, FrameReport, PerceptionConfig, detect_objects
from spatial_ros.relations import Body, RelationConfig, compute_relations
from spatial_ros.scene import (
    RESTING_GAP,
    SceneGraph,
    Support,
    inferred_supports,
    name_floor,
    resting_objects,
    resting_support,
)
from spatial_ros.tracking import Track, Tracker, TrackerConfig
from spatial_ros.vocabulary import Frame

__all__ = ["SceneGraphBuilder", "FrameResult", "sensed_occlusion"]


def sensed_occlusion(pairs: list[tuple[Track, Detection]], intrinsics: CameraIntrinsics,
                     camera_pose: Pose, stride: int = 4) -> dict[tuple[int, int], float]:
    """Share of each object's silhouette that each other object hides, from one frame.

    b's silhouette is the convex hull of its (amodal) box projected into the image; a hides the
    part of it where a's own pixels lie and a is nearer than b's centre.
    """
    w, h = intrinsics.width // stride, intrinsics.height // stride
    cam_inv = camera_pose.inverse()
    owner = np.zeros((h, w), np.int32)  # detection index + 1
    depth_of = np.zeros(len(pairs) + 1)
    for k, (_t, d) in enumerate(pairs):
        rows, cols = np.divmod(d.pixels, intrinsics.width)
        owner[np.minimum(rows // stride, h - 1), np.minimum(cols // stride, w - 1)] = k + 1
        depth_of[k + 1] = float(cam_inv.apply(d.centroid[None])[0, 2])
    out: dict[tuple[int, int], float] = {}
    for kb, (tb, db) in enumerate(pairs):
        corners = cam_inv.apply(db.box.corners())
        if np.any(corners[:, 2] <= 0.05):
            continue
        uv = intrinsics.project(corners) / stride
        hull = cv2.convexHull(np.round(uv).astype(np.int32))
        sil = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(sil, hull, 1)
        area = int(sil.sum())
        if area == 0:
            continue
        centre_z = float(cam_inv.apply(db.box.center[None])[0, 2])
        inside = owner[sil.astype(bool)]
        counts = np.bincount(inside, minlength=len(pairs) + 1)
        for ka, (ta, _da) in enumerate(pairs):
            if ka == kb or counts[ka + 1] == 0 or depth_of[ka + 1] >= centre_z:
                continue
            out[(ta.id, tb.id)] = counts[ka + 1] / area
    return out


@dataclass
class FrameResult:
    graph: SceneGraph
    report: FrameReport
    detections: list[tuple[Track, Detection]]
    occlusion: dict[tuple[int, int], float] = field(default_factory=dict)  # (a, b) -> share
    timings: dict[str, float] = field(default_factory=dict)  # stage -> milliseconds
    #: ids the label map names that this frame's mask lacks (sorted)
    unmatched_labels: list[int] = field(default_factory=list)


#: ids of the supports inferred from objects' bottoms (scene.inferred_supports): from 2^31
#: up, apart from the found ones (numbered from 1); re-inferred each frame, not tracked
INFERRED_SUPPORT_IDS = 1 << 31


class SceneGraphBuilder:
    """Stateful pipeline: call ``process`` once per synchronised RGB-D frame."""

    def __init__(self, perception: PerceptionConfig | None = None,
                 tracker: TrackerConfig | None = None, relations: RelationConfig | None = None,
                 *, frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                 world_frame: str = "world", support_refresh: int = 10) -> None:
        self.relation_config = relations or RelationConfig()
        self.perception = perception or PerceptionConfig(
            noise_quadratic=self.relation_config.noise_quadratic)
        #: said once, when the builder was made (the node logs them): a learned segmenter
        #: whose weights did not load, and the geometric segmentation used instead
        self.warnings: list[str] = []
        if self.perception.segmentation != "geometric":
            from spatial_ros.model.segmenter import load_segmenter
            from spatial_ros.perception.learned import SegmenterError

            try:
                load_segmenter(self.perception.segmenter_weights)
            except SegmenterError as exc:
                self.perception = replace(self.perception, segmentation="geometric")
                self.warnings.append(f"{exc}; segmenting with the geometric rules instead")
        self.tracker = Tracker(tracker)
        self.frames = frames
        self.world_frame = world_frame
        self.support_refresh = max(1, support_refresh)  #: frames between support-plane searches
        self._supports: list[float] = []
        self._surfaces: list[Support] = []  # the supports, numbered (kept between searches)
        self._next_support = 1
        self._frames = 0

    def process(self, rgb: np.ndarray, depth: np.ndarray, intrinsics: CameraIntrinsics,
                camera_pose: Pose, stamp: float, mask: np.ndarray | None = None,
                labels: dict[int, str] | None = None) -> FrameResult:
        """One synchronised frame. ``labels`` (mask id -> class name, from an upstream
        detector; spatial_ros.labels) names the objects of ``mask``'s ids: their
        ``SceneObject.label``; objects without a name keep their shape word."""
        t0 = time.perf_counter()
        refresh = self._frames % self.support_refresh == 0 or not self._supports
        dets, report = detect_objects(rgb, depth, intrinsics, camera_pose, mask, self.perception,
                                      supports=None if refresh else self._supports)
        self._frames += 1
        unmatched: list[int] = []
        if labels and mask is not None:
            for d in dets:
                d.label = mask_label(labels, d.instance)
            present = set(np.unique(mask).tolist())
            present |= {i >> 16 for i in present if i >= 1 << 16}  # Gazebo's labels
            unmatched = sorted(i for i in labels if i not in present)
        if refresh:
            self._supports = report.support_heights
            self._surfaces = self._number(report.surfaces)
        t1 = time.perf_counter()
        pairs = self.tracker.update(dets, stamp)
        objects = self.tracker.objects(stamp)
        for o in objects:
            o.support_id = resting_support(o, self._surfaces, objects)
        inferred = inferred_supports(objects, first_id=INFERRED_SUPPORT_IDS)
        if mask is None and self.perception.resting_only and any(x.large for x in self._surfaces):
            kept = resting_objects(objects)
            report.unsupported = len(objects) - len(kept)
            held = {o.id for o in kept}
            structure = {o.id for o in objects} - held
            objects = kept
            report.dropped += [("not resting", d.pixels) for t, d in pairs if t.id in structure]
            pairs = [(t, d) for t, d in pairs if t.id not in structure]
        t2 = time.perf_counter()
        occ = sensed_occlusion(pairs, intrinsics, camera_pose)
        bodies = [Body.from_box(o.id, o.box, camera_pose) for o in objects]
        rels = compute_relations(bodies, self.relation_config, frames=self.frames, occlusion=occ)
        t3 = time.perf_counter()
        graph = SceneGraph(objects=objects, relations=rels, stamp=stamp,
                           frame_id=self.world_frame, camera_pose=camera_pose,
                           support_heights=list(self._supports),
                           supports=[replace(x) for x in self._surfaces] + inferred)
        return FrameResult(graph=graph, report=report, detections=pairs, occlusion=occ, timings={
            "perception": (t1 - t0) * 1e3, "tracking": (t2 - t1) * 1e3,
            "relations": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}, unmatched_labels=unmatched)

    def reset_supports(self) -> None:
        """Forget the supports and number new ones from 1 (with the tracker's reset)."""
        self._supports, self._surfaces, self._next_support = [], [], 1

    def _number(self, found: list[Support]) -> list[Support]:
        """This search's supports with stable ids: one within ``RESTING_GAP`` in height of a
        support of the last search, with its centre over it (or the other way round), keeps
        that one's id; the others get new ones. The floor is named (``name_floor``)."""
        out, taken = [], set()
        for sup in sorted(found, key=lambda x: -x.point_count):
            old = [p for p in self._surfaces if p.id not in taken
                   and abs(p.height - sup.height) <= RESTING_GAP
                   and (p.holds(sup.box.center) or sup.holds(p.box.center))]
            if old:
                sid = min(old, key=lambda p: abs(p.height - sup.height)).id
            else:
                sid, self._next_support = self._next_support, self._next_support + 1
            taken.add(sid)
            out.append(replace(sup, id=sid))
        out.sort(key=lambda x: x.id)
        name_floor(out)
        return out

    def all_relations(self, graph: SceneGraph, camera_pose: Pose,
                      occlusion: dict[tuple[int, int], float] | None = None) -> list:
        """Every predicate's graded confidence for every ordered pair (no cut-off)."""
        bodies = [Body.from_box(o.id, o.box, camera_pose) for o in graph.objects]
        return compute_relations(bodies, replace(self.relation_config, min_confidence=0.0),
                                 frames=self.frames, occlusion=occlusion, report_all=True)
