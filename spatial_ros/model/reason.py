"""One frame of reasoning (ROS-free): the scene graph's objects seen in the frame, the model over
all their ordered pairs, and the calibrated fusion with the graph's geometric confidences.

Geometric confidences of every decision are recomputed from the graph's boxes with the same
margins as the pipeline (relations.pair_margins); ``occludes`` needs the image and comes from
the graph's relations. An object without geometry (no valid depth: a box of zero size or no
supporting points) or frames without depth fall back to the model alone.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.model.data import DECISION_KEYS
from spatial_ros.model.fusion import Fusion
from spatial_ros.relations import Body, RelationConfig, compute_relations
from spatial_ros.scene import Relation, SceneGraph
from spatial_ros.vocabulary import Frame, Source

__all__ = ["frame_objects", "geometric_probs", "reason_frame"]

_KEY_INDEX = {k: j for j, k in enumerate(DECISION_KEYS)}


def frame_objects(graph: SceneGraph, stamp: float, slop: float = 0.02
                  ) -> tuple[list[int], np.ndarray]:
    """Ids and 2D boxes (K, 4) of the graph's objects observed in the frame at ``stamp``."""
    ids, boxes = [], []
    for o in graph.objects:
        u0, v0, u1, v1 = o.bbox2d
        if abs(o.last_seen - stamp) <= slop and u1 > u0 and v1 > v0:
            ids.append(o.id)
            boxes.append((u0, v0, u1, v1))
    return ids, np.array(boxes, np.float32).reshape(-1, 4)


def geometric_probs(graph: SceneGraph, ids: list[int], camera_pose: Pose,
                    config: RelationConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(K, K, keys) confidences from the graph's boxes and (K,) whether each object has
    geometry."""
    config = config or RelationConfig()
    objs = {o.id: o for o in graph.objects}
    has = np.array([objs[i].point_count > 0 and float(np.prod(objs[i].box.size)) > 0
                    for i in ids], bool)
    k = len(ids)
    probs = np.zeros((k, k, len(DECISION_KEYS)), np.float32)
    bodies = [Body.from_box(i, objs[i].box, camera_pose) for i, h in zip(ids, has) if h]
    index = {i: a for a, i in enumerate(ids)}
    for r in compute_relations(bodies, replace(config, min_confidence=0.0), report_all=True):
        j = _KEY_INDEX.get((r.predicate, r.frame))
        if j is not None:
            probs[index[r.subject], index[r.object], j] = r.confidence
    occ = _KEY_INDEX[("occludes", Frame.EGOCENTRIC)]
    probs[..., occ] = 1e-3
    for r in graph.relations:
        if r.predicate == "occludes" and r.subject in index and r.object in index:
            probs[index[r.subject], index[r.object], occ] = r.confidence
    return probs, has


def reason_frame(reasoner, fusion: Fusion, graph: SceneGraph, rgb: np.ndarray,
                 depth: np.ndarray | None, camera_pose: Pose, stamp: float, *,
                 config: RelationConfig | None = None, slop: float = 0.02,
                 min_confidence: float = 0.5) -> tuple[list[Relation], object]:
    """Fused relations (source FUSED, confidence >= ``min_confidence``) of the graph's objects
    seen at ``stamp``, and the model's output. Fewer than two such objects: no relations."""
    ids, boxes = frame_objects(graph, stamp, slop)
    out = reasoner.predict(rgb, depth, camera_pose.rotation, boxes=boxes, ids=ids)
    if len(ids) < 2:
        return [], out
    geo, has = geometric_probs(graph, ids, camera_pose, config)
    if depth is None or not np.isfinite(depth).any():
        has[:] = False
    fused = fusion.fuse(out.probs, geo, has[:, None] & has[None, :])
    objs = {o.id: o for o in graph.objects}
    rels = []
    for a, ia in enumerate(ids):
        for b, ib in enumerate(ids):
            if a == b:
                continue
            dist = float(np.linalg.norm(objs[ia].box.center - objs[ib].box.center))
            for j, (p, f) in enumerate(DECISION_KEYS):
                c = float(np.clip(fused[a, b, j], 1e-3, 1 - 1e-3))
                if c >= min_confidence:
                    rels.append(Relation(subject=ia, predicate=p, object=ib, confidence=c,
                                         distance=dist, frame=f, source=Source.FUSED))
    return rels, out
