"""`spatial-ros bench real --model`: the depth-aware model on real RGB-D frames.

On the annotated frames of `bench real`, the objects are the annotated instances (their masks as
regions, as `bench model` uses SpatialBench's) and the camera's rotation comes from the support
plane. Every annotated relation ``a P b`` (in its frame) gives up to three decisions: ``a P b``
holds, ``b P a`` does not (P not symmetric) and ``a INVERSE(P) b`` does not (where P has another
inverse). Rows:

    model, RGB only: the model without depth;
    model, RGB-D: with the frame's real depth;
    geometric scene graph: the pipeline's graded relations (class-agnostic, as `bench real`),
        its detections matched to the annotated objects with mask IoU >= 0.5;
    fused: the model with real depth fused with the geometry (the weights' fusion.json).
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.bench.model import pipeline_decisions
from spatial_ros.bench.real import (
    D435_NOISE,
    FrameScore,
    _score,
    load_real_frames,
)
from spatial_ros.model.data import DECISION_KEYS
from spatial_ros.perception.detect import frame_stride
from spatial_ros.perception.gravity import PlaneGravityConfig, gravity_from_plane
from spatial_ros.pipeline import SceneGraphBuilder
from spatial_ros.relations import RelationConfig
from spatial_ros.vocabulary import INVERSE, Frame

__all__ = ["REAL_ROWS", "RealDecisions", "run_real_model_bench", "format_real_model_table",
           "decision_index"]

RGB, RGBD, GEOMETRY, FUSED = ("model, RGB only", "model, RGB-D (real depth)",
                              "geometric scene graph", "fused (geometry + model RGB-D)")
REAL_ROWS = (RGB, RGBD, GEOMETRY, FUSED)
_INDEX = {k: j for j, k in enumerate(DECISION_KEYS)}
SYMMETRIC = ("near", "far_from")  #: b P a holds with a P b


def decision_index(predicate: str, frame: Frame) -> int:
    """The model output of ``predicate`` in ``frame`` (its only frame, if it has one)."""
    if (predicate, frame) in _INDEX:
        return _INDEX[(predicate, frame)]
    for (p, _f), j in _INDEX.items():
        if p == predicate:
            return j
    raise KeyError(predicate)


@dataclass
class RealDecisions:
    """Per row: (right, asked) over all decisions, over the annotated relations holding, and
    per predicate of the annotation; wrong decisions named."""

    right: dict[str, int] = field(default_factory=dict)
    asked: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    relations: int = 0
    by_predicate: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    wrong: dict[str, list[str]] = field(default_factory=dict)

    def accuracy(self, row: str) -> float:
        return self.right.get(row, 0) / max(self.asked.get(row, 0), 1)


def _decisions(frame, probs: np.ndarray, index: dict[int, int]
               ) -> list[tuple[bool, bool, int, str]]:
    """(right, is the annotated relation itself, which annotated relation, text) of every
    decision of the frame."""
    out = []
    for n, (a, p, b, f) in enumerate(frame.relations):
        ia, ib = index[a], index[b]
        name = f"{frame.name}: {frame.objects[a]['name']} {p} {frame.objects[b]['name']}"
        j = decision_index(p, f)
        out.append((probs[ia, ib, j] >= 0.5, True, n, name))
        if p not in SYMMETRIC:
            out.append((probs[ib, ia, j] < 0.5, False, n, name + " (swapped)"))
        inverse = INVERSE.get(p)
        if inverse and inverse != p:
            out.append((probs[ia, ib, decision_index(inverse, f)] < 0.5, False, n,
                        name + f" (as {inverse})"))
    return out


def run_real_model_bench(*, weights: str | pathlib.Path | None = None,
                         fusion: str | pathlib.Path | None = None,
                         data: str | pathlib.Path | None = None,
                         progress: bool = True) -> RealDecisions:
    from spatial_ros.model.fusion import Fusion
    from spatial_ros.model.infer import SHIPPED_WEIGHTS, SpatialReasoner

    weights = pathlib.Path(weights or SHIPPED_WEIGHTS)
    reasoner = SpatialReasoner(weights, device="cpu")
    fuse = Fusion.load(fusion or weights.with_suffix(".fusion.json"))
    relations = RelationConfig(noise_quadratic=D435_NOISE)
    gravity = PlaneGravityConfig(noise_quadratic=D435_NOISE)
    res = RealDecisions()
    for frame in load_real_frames(data):
        pose, _share = gravity_from_plane(frame.depth, frame.intrinsics, gravity)
        builder = SceneGraphBuilder(relations=relations)
        result = builder.process(frame.rgb, frame.depth, frame.intrinsics, pose, 0.0)
        stride = frame_stride(frame.intrinsics.width, builder.perception)
        matches = _score(frame, result, stride, FrameScore(frame.name))
        ids = sorted(frame.objects)
        index = {a: k for k, a in enumerate(ids)}
        focal = frame.intrinsics.fx
        probs = {RGB: reasoner.predict(frame.rgb, None, pose.rotation, mask=frame.mask,
                                       ids=ids, focal=focal).probs,
                 RGBD: reasoner.predict(frame.rgb, frame.depth, pose.rotation, mask=frame.mask,
                                        ids=ids, focal=focal).probs}
        geo, has = pipeline_decisions(builder, result, pose, ids,
                                      {a: m[0] for a, m in matches.items()})
        probs[GEOMETRY] = geo
        probs[FUSED] = fuse.fuse(probs[RGBD], geo, has[:, None] & has[None, :])
        res.relations += len(frame.relations)
        for row in REAL_ROWS:
            all_right = [True] * len(frame.relations)
            for right, itself, n, text in _decisions(frame, probs[row], index):
                res.asked[row] = res.asked.get(row, 0) + 1
                res.right[row] = res.right.get(row, 0) + int(right)
                res.held[row] = res.held.get(row, 0) + int(right and itself)
                all_right[n] &= bool(right)
                if not right:
                    res.wrong.setdefault(row, []).append(text)
            for (_a, p, _b, _f), ok in zip(frame.relations, all_right):
                cell = res.by_predicate.setdefault((row, p), [0, 0])
                cell[0] += int(ok)
                cell[1] += 1
        if progress:
            print(f"[bench real --model] {frame.name}: " + ", ".join(
                f"{row} {res.right.get(row, 0)}/{res.asked.get(row, 0)}" for row in REAL_ROWS),
                flush=True)
    return res


def format_real_model_table(res: RealDecisions) -> str:
    preds = sorted({p for _r, p in res.by_predicate})
    head = ["row", "all decisions", "annotated relations held",
            *[f"{p} (every decision right)" for p in preds]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in REAL_ROWS:
        cells = [row, f"**{100 * res.accuracy(row):.1f}%** ({res.right.get(row, 0)}/"
                      f"{res.asked.get(row, 0)})",
                 f"{res.held.get(row, 0)}/{res.relations}"]
        for p in preds:
            c, n = res.by_predicate.get((row, p), [0, 0])
            cells.append(f"{c}/{n}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
