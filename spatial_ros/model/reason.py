"""One frame of reasoning (ROS-free): the scene graph's objects seen in the frame, the model over
all their ordered pairs, and the calibrated fusion with the graph's geometric confidences.

Geometric confidences of every decision are recomputed from the graph's boxes with the same
margins as the pipeline (relations.pair_margins); ``occludes`` needs the image and comes from
the graph's relations. An object without geometry (no valid depth: a box of zero size or no
supporting points) or frames without depth fall back to the model alone.
"""
from __future__ import annotations

import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.model.data import DECISION_KEYS
from spatial_ros.model.fusion import Fusion
from spatial_ros.relations import Body, RelationConfig, compute_relations
from spatial_ros.scene import Relation, SceneGraph
from spatial_ros.vocabulary import Frame, Source

__all__ = ["frame_objects", "geometric_probs", "mask_objects", "reason_frame", "UNSENSED_ID_BASE"]

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
    for r in compute_relations(bodies, config, report_all=True):
        j = _KEY_INDEX.get((r.predicate, r.frame))
        if j is not None:
            probs[index[r.subject], index[r.object], j] = r.confidence
    occ = _KEY_INDEX[("occludes", Frame.EGOCENTRIC)]
    probs[..., occ] = 1e-3
    for r in graph.relations:
        if r.predicate == "occludes" and r.subject in index and r.object in index:
            probs[index[r.subject], index[r.object], occ] = r.confidence
    return probs, has


#: ids given to mask instances that no scene-graph object covers (no depth): this + instance.
#: Above every tracker id (they count up from 1; 2**31 of them is 68 years of 1,000 new objects
#: a second) and below 2**32 (SpatialRelation's uint32 ids) for any mask id, Gazebo's 24-bit
#: ones included. Whether an object has depth is decided by membership in the graph (see
#: reason_frame), never by this range.
UNSENSED_ID_BASE = 1 << 31


def mask_objects(graph: SceneGraph, mask: np.ndarray, stamp: float, slop: float = 0.02,
                 min_iou: float = 0.5, *, ids_are_graph_ids: bool = False
                 ) -> tuple[list[int], list[int]]:
    """Instances of an instance mask and the object id each stands for: the graph object seen
    in this frame whose 2D box overlaps the instance's by ``min_iou`` (greedy, best first), or
    ``UNSENSED_ID_BASE + instance`` for an instance the graph has no object for (no depth).
    ``ids_are_graph_ids``: the mask was painted with the graph's own ids (an upstream
    detector's ids are not: they may be any numbers), so an instance is the object of its id
    when that object was seen in this frame."""
    from spatial_ros.model.data import boxes_from_mask

    instances = [int(i) for i in np.unique(mask) if i != 0]
    ids, boxes = frame_objects(graph, stamp, slop)
    if ids_are_graph_ids:
        return instances, [i if i in ids else UNSENSED_ID_BASE + i for i in instances]
    inst_boxes = boxes_from_mask(mask, instances)
    pairs = []
    for a, ib in enumerate(inst_boxes):
        for b, gb in enumerate(boxes):
            iw = min(ib[2], gb[2]) - max(ib[0], gb[0])
            ih = min(ib[3], gb[3]) - max(ib[1], gb[1])
            inter = max(iw, 0) * max(ih, 0)
            union = (ib[2] - ib[0]) * (ib[3] - ib[1]) + (gb[2] - gb[0]) * (gb[3] - gb[1]) - inter
            iou = inter / union if union > 0 else 0.0
            if iou >= min_iou:
                pairs.append((iou, a, b))
    taken_a, taken_b, owner = set(), set(), {}
    for _iou, a, b in sorted(pairs, reverse=True):
        if a not in taken_a and b not in taken_b:
            taken_a.add(a)
            taken_b.add(b)
            owner[a] = ids[b]
    return instances, [owner.get(a, UNSENSED_ID_BASE + inst) for a, inst in enumerate(instances)]


def reason_frame(reasoner, fusion: Fusion, graph: SceneGraph, rgb: np.ndarray,
                 depth: np.ndarray | None, camera_pose: Pose, stamp: float, *,
                 config: RelationConfig | None = None, slop: float = 0.02,
                 min_confidence: float = 0.5, mask: np.ndarray | None = None,
                 focal: float | None = None, mask_ids_are_graph_ids: bool = False
                 ) -> tuple[list[Relation], object]:
    """Fused relations (confidence >= ``min_confidence``; source FUSED, or MODEL for a pair
    that lacks geometry: an object without depth, a frame without depth) and the model's
    output.

    Objects are the graph's objects seen at ``stamp`` (regions: their 2D boxes), or, with an
    instance ``mask``, every instance (regions: the mask), named by the graph object it
    matches; an instance without one (no valid depth) gets id ``UNSENSED_ID_BASE + instance``
    and relations from the model alone. Fewer than two objects: no relations. ``focal``: the
    frame's focal length in pixels (SpatialReasoner.predict). ``mask_ids_are_graph_ids``: the
    mask's ids are the graph's object ids (a mask painted from the graph's own segmentation),
    each instance that object, not matched by box.
    """
    if mask is not None:
        instances, ids = mask_objects(graph, mask, stamp, slop,
                                      ids_are_graph_ids=mask_ids_are_graph_ids)
        out = reasoner.predict(rgb, depth, camera_pose.rotation, mask=mask, ids=instances,
                               focal=focal)
        out.ids = ids
    else:
        ids, boxes = frame_objects(graph, stamp, slop)
        out = reasoner.predict(rgb, depth, camera_pose.rotation, boxes=boxes, ids=ids,
                               focal=focal)
    if len(ids) < 2:
        return [], out
    in_graph = {o.id for o in graph.objects}
    sensed = [i for i in ids if i in in_graph]  # the objects with depth: the graph's
    geo = np.full((len(ids), len(ids), len(DECISION_KEYS)), 0.5, np.float32)
    has = np.zeros(len(ids), bool)
    if sensed:
        g, h = geometric_probs(graph, sensed, camera_pose, config)
        where = [ids.index(i) for i in sensed]
        geo[np.ix_(where, where)] = g
        has[where] = h
    if depth is None or not np.isfinite(depth).any():
        has[:] = False
    fused = fusion.fuse(out.probs, geo, has[:, None] & has[None, :])
    objs = {o.id: o for o in graph.objects}
    rels = []
    for a, ia in enumerate(ids):
        for b, ib in enumerate(ids):
            if a == b:
                continue
            dist = float(np.linalg.norm(objs[ia].box.center - objs[ib].box.center)) \
                if ia in objs and ib in objs else float("nan")
            # a pair without geometry on both sides is the model's alone
            source = Source.FUSED if has[a] and has[b] else Source.MODEL
            for j, (p, f) in enumerate(DECISION_KEYS):
                c = float(np.clip(fused[a, b, j], 1e-3, 1 - 1e-3))
                if c >= min_confidence:
                    rels.append(Relation(subject=ia, predicate=p, object=ib, confidence=c,
                                         distance=dist, frame=f, source=source))
    return rels, out
