"""`spatial-ros bench model`: the research's ablation on our SpatialBench.

``--ablation shipped`` (below), ``hard`` (HARD_ROWS: the research's six rows, each also without
geometry tokens, trained by scripts/train_hard_ablation.sh on train + hard_train) or ``full`` (the
shipped model alone with geometry and fusion, to refit the fusion).

Rows: the four trained variants of SpatialNet (baseline: 1D positions, no depth bias, RGB only;
+2D positions; +depth-aware attention; full: + depth input channel and depth head, the shipped
model), the geometric scene graph alone (spatial_ros.pipeline on the 640x480 frame) and the
calibrated fusion of geometric and full (spatial_ros.model.fusion, fitted here on the val split).

Per scene of a split and sensor preset, the scene is rendered at 640x480 over ``frames`` frames
as in `bench relations`; the last frame is judged. Every row reasons about the same objects: the
ground-truth objects visible in the frame, with the instance mask as their regions (the model
pools inside it; the pipeline segments by it). Columns:

    L1-L5: accuracy on the scene's SpatialBench questions that a relation answers, asked of a
        graph holding the ground-truth objects (names) and the row's relations: L1 yes/no,
        L2 which, L3 "which is closer to the camera" (from the row's in-front-of confidences;
        the metric "how far" questions need boxes and are left to `bench qa`), L4 multi-hop,
        L5 world-frame and camera-frame yes/no (the other-object viewpoint questions need boxes).
    decisions: accuracy over every decision (21 per ordered pair) of the visible objects;
        depth-order decisions: over in front of and behind (camera and world frame) only.
    depth order, image height misleads: the camera-frame in-front-of and behind decisions of
        both orders of every pair whose nearer object does not reach lower in the image than
        the farther one (the 2D cue that gives depth order away on a table seen from above
        fails there). Below the table: the share of the split's camera-frame in-front-of facts
        where that cue holds.
    ECE: expected calibration error of those decisions' confidences.
    depth AbsRel: per 8x8 patch at the model's resolution, |d - d*| / d* against the clean
        render, of the depth head (model rows) or of the sensor (geometric row).
    params, CPU ms per frame (model rows: one forward with 8 objects, median of 20; geometric:
        the pipeline's median per frame), training cost relative to the baseline.
"""
from __future__ import annotations

import pathlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.bench.generate import SPLITS, _questions
from spatial_ros.bench.qa import _is_right
from spatial_ros.bench.relations import match_detections, scene_frames
from spatial_ros.errors import BenchError
from spatial_ros.language import QuestionError, answer_question
from spatial_ros.model.data import DECISION_KEYS, boxes_from_mask, prepare_frame
from spatial_ros.model.fusion import Fusion, expected_calibration_error, fit_fusion
from spatial_ros.scene import Relation, SceneGraph
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.vocabulary import Frame, Source

__all__ = ["MODEL_ROWS", "collect", "run_model_bench", "format_model_table", "format_key_table",
           "cue_share"]

#: row name -> run folder name of its trained weights
MODEL_ROWS = {"baseline (1D, no depth bias, RGB)": "baseline", "+2D positions": "pos2d",
              "+depth-aware attention": "depthbias", "full (+depth input, depth head)": "small"}
GEOMETRIC = "geometric scene graph"
FUSED = "fused (geometric + full)"
FULL = "full (+depth input, depth head)"
NO_GEOMETRY = ", no geometry tokens"
#: the hard-split ablation (spatial_ros/model/configs/hard/): the research's six rows, each also
#: without geometry tokens, every one trained by scripts/train_hard_ablation.sh into RUNS/<folder>
HARD_ROWS = {"baseline (1D, no depth bias, RGB)": "baseline", "+2D positions": "pos2d",
             "+depth-aware attention": "depthbias", FULL: "full",
             "+video pre-training (baseline)": "video", "both (full + video pre-training)": "both"}
HARD_ROWS = {**HARD_ROWS, **{row + NO_GEOMETRY: f"{folder}_nogeo"
                             for row, folder in HARD_ROWS.items()}}
#: the shipped model alone (with geometry and fused): refits the fusion without the other rows
ABLATIONS = {"shipped": MODEL_ROWS, "hard": HARD_ROWS, "full": {FULL: "small"}}
#: the regions a model pools over: instance masks, or their 2D bounding boxes
REGIONS = ("mask", "boxes")
#: decisions of depth order: in front of and behind, in the camera and the world frame
DEPTH_KEYS = [j for j, (p, _f) in enumerate(DECISION_KEYS) if p in ("in_front_of", "behind")]
_FRONT = DECISION_KEYS.index(("in_front_of", Frame.EGOCENTRIC))
_BEHIND = DECISION_KEYS.index(("behind", Frame.EGOCENTRIC))


@dataclass
class SceneRecord:
    """One judged frame: decisions of every source for the visible ground-truth objects."""

    ids: list[int]
    truth: np.ndarray  # (K, K, keys) bool
    probs: dict[str, np.ndarray]  # source -> (K, K, keys)
    has_geometry: np.ndarray  # (K,) bool: the pipeline sensed a box for the object
    questions: list[dict]
    graph_truth: SceneGraph
    absrel: dict[str, tuple[float, int]] = field(default_factory=dict)
    geometry_ms: float = 0.0
    #: (K,) lowest image row of each object's region in the judged frame (empty: not known)
    bottom: np.ndarray = field(default_factory=lambda: np.zeros(0, int))

    def misleading_pairs(self) -> list[tuple[int, int]]:
        """(nearer, farther) index pairs of camera-frame in-front-of facts where the nearer
        object does not reach lower in the image than the farther one."""
        if len(self.bottom) != len(self.ids):
            return []
        a, b = np.nonzero(self.truth[:, :, _FRONT])
        return [(i, j) for i, j in zip(a.tolist(), b.tolist())
                if self.bottom[i] <= self.bottom[j]]


def _patch_means(depth: np.ndarray, patch: int) -> np.ndarray:
    h, w = depth.shape
    d = depth.reshape(h // patch, patch, w // patch, patch)
    valid = np.isfinite(d)
    n = valid.sum((1, 3))
    s = np.where(valid, d, 0).sum((1, 3))
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _absrel(pred: np.ndarray, gt: np.ndarray) -> tuple[float, int]:
    ok = np.isfinite(pred) & np.isfinite(gt) & (gt > 0)
    return float((np.abs(pred[ok] - gt[ok]) / gt[ok]).sum()), int(ok.sum())


def collect(split: str, n: int, seed: int, sensor: str, reasoners: dict, *, frames: int = 2,
            visible_pixels: int = 50, progress: bool = True,
            regions: str = "mask") -> list[SceneRecord]:
    """Run the pipeline and every model over ``n`` scenes; ``reasoners``: source name ->
    SpatialReasoner. ``regions``: the models pool over each object's instance ``mask``, or over
    its 2D bounding box (``boxes``, what reasoning_node gives them from the graph)."""
    from tqdm import tqdm

    if regions not in REGIONS:
        raise BenchError(f"regions {regions!r}: expected one of {', '.join(REGIONS)}")

    records = []
    for i in tqdm(range(n), desc=f"model bench {split} {sensor}", unit="scene",
                  disable=not progress):
        *_, sf = scene_frames(split, seed, i, sensor, frames=frames, width=640, height=480)
        truth = ground_truth(sf.world, sf.renderer, sf.pose)
        counts = np.bincount(sf.frame.mask.ravel(), minlength=256)
        any_reasoner = next(iter(reasoners.values()))
        _, _, small_mask = prepare_frame(sf.frame.rgb, None, any_reasoner.size, sf.frame.mask)
        small_counts = np.bincount(small_mask.ravel(), minlength=256)
        ids = [o.id for o in truth.objects
               if counts[o.id] >= visible_pixels and small_counts[o.id] > 0]
        k = len(ids)
        if k < 2:
            continue
        holds = {(r.subject, r.predicate, r.object, r.frame) for r in truth.relations}
        t = np.zeros((k, k, len(DECISION_KEYS)), bool)
        for a, ga in enumerate(ids):
            for b, gb in enumerate(ids):
                if a != b:
                    for j, (p, f) in enumerate(DECISION_KEYS):
                        t[a, b, j] = (ga, p, gb, f) in holds
        # geometric: the pipeline's graded decisions, mapped to ground-truth ids
        match = match_detections(sf.result, sf.frame.mask)
        tracked = {o.id for o in sf.result.graph.objects}
        match = {g: tr for g, tr in match.items() if tr in tracked}
        geo, has = pipeline_decisions(sf.builder, sf.result, sf.pose, ids, match)
        bottom = np.array([int(np.nonzero((sf.frame.mask == g).any(1))[0].max()) for g in ids])
        rec = SceneRecord(ids=ids, truth=t, probs={GEOMETRIC: geo}, has_geometry=has,
                          questions=[], graph_truth=truth,
                          geometry_ms=sf.result.timings["total"], bottom=bottom)
        gt_patch = None
        region = {"mask": sf.frame.mask} if regions == "mask" else \
            {"boxes": boxes_from_mask(sf.frame.mask, ids)}
        for name, reasoner in reasoners.items():
            out = reasoner.predict(sf.frame.rgb, sf.depth, sf.pose.rotation, ids=ids,
                                   focal=sf.frame.intrinsics.fx, **region)
            rec.probs[name] = out.probs
            if gt_patch is None:
                _, clean, _ = prepare_frame(sf.frame.rgb, sf.frame.depth, reasoner.size)
                _, sensed, _ = prepare_frame(sf.frame.rgb, sf.depth, reasoner.size)
                p = reasoner.cfg.patch
                gt_patch = _patch_means(clean, p)
                rec.absrel[GEOMETRIC] = _absrel(_patch_means(sensed, p), gt_patch)
            if out.patch_depth is not None:
                rec.absrel[name] = _absrel(out.patch_depth, gt_patch)
        rng = np.random.default_rng([SPLITS[split], seed, i, 9])
        rec.questions = _questions(truth, rng, sf.pose, ids)
        records.append(rec)
    return records


def pipeline_decisions(builder, result, pose, ids: list[int], match: dict[int, int]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(K, K, keys) confidences of the pipeline's graded relations between the objects ``ids``
    (0 where one has no match), and (K,) whether each has one; ``match``: id -> graph object."""
    conf = {(r.subject, r.predicate, r.object, r.frame): r.confidence
            for r in builder.all_relations(result.graph, pose, result.occlusion)}
    geo = np.zeros((len(ids), len(ids), len(DECISION_KEYS)), np.float32)
    for a, ga in enumerate(ids):
        for b, gb in enumerate(ids):
            if a != b and ga in match and gb in match:
                for j, (p, f) in enumerate(DECISION_KEYS):
                    geo[a, b, j] = conf.get((match[ga], p, match[gb], f), 0.0)
    return geo, np.array([g in match for g in ids], bool)


def _graph(rec: SceneRecord, probs: np.ndarray) -> SceneGraph:
    rels = []
    for a, ga in enumerate(rec.ids):
        for b, gb in enumerate(rec.ids):
            if a != b:
                for j, (p, f) in enumerate(DECISION_KEYS):
                    c = float(probs[a, b, j])
                    if c >= 0.5:
                        rels.append(Relation(subject=ga, predicate=p, object=gb,
                                             confidence=min(c, 1.0), frame=f,
                                             source=Source.FUSED))
    objs = [o for o in rec.graph_truth.objects if o.id in rec.ids]
    return SceneGraph(objects=objs, relations=rels, stamp=0.0, frame_id="world")


def level_scores(rec: SceneRecord, probs: np.ndarray) -> dict[int, tuple[int, int]]:
    """(correct, asked) per level of the relation-answerable questions."""
    graph = _graph(rec, probs)
    index = {g: a for a, g in enumerate(rec.ids)}
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for q in rec.questions:
        level, kind = q["level"], q["kind"]
        if kind in ("metric", "yes_no_viewer"):
            continue
        if level == 3:  # "which is closer to the camera, A or B?" from in_front_of
            a, b = (index[i] for i in q["object_ids"])
            pick = a if probs[a, b, _FRONT] >= probs[b, a, _FRONT] else b
            o = graph.object(rec.ids[pick])
            text = f"{o.color} {o.label}"
        else:
            try:
                text = answer_question(graph, q["question"]).text
            except QuestionError:
                text = ""
        out[level][1] += 1
        out[level][0] += int(bool(text) and _is_right(q, text, 0.05))
    return {k: (v[0], v[1]) for k, v in out.items()}


def _flat(records: list[SceneRecord], name: str):
    p, t, g, pg = [], [], [], []
    for r in records:
        k = len(r.ids)
        off = ~np.eye(k, dtype=bool)
        p.append(r.probs[name][off])
        t.append(r.truth[off])
        pg.append(r.probs[GEOMETRIC][off])
        g.append((r.has_geometry[:, None] & r.has_geometry[None, :])[off])
    return np.concatenate(p), np.concatenate(t), np.concatenate(pg), np.concatenate(g)


def fit_on(records: list[SceneRecord]) -> Fusion:
    p, t, pg, g = _flat(records, FULL)
    return fit_fusion(p, t, pg, g)


def add_fused(records: list[SceneRecord], fusion: Fusion) -> None:
    for r in records:
        has = r.has_geometry[:, None] & r.has_geometry[None, :]
        r.probs[FUSED] = fusion.fuse(r.probs[FULL], r.probs[GEOMETRIC], has)


@dataclass
class RowScores:
    levels: dict[int, tuple[int, int]]
    decisions: float
    ece: float
    absrel: float
    depth_decisions: float = float("nan")  #: accuracy over DEPTH_KEYS only
    #: accuracy over the camera-frame depth-order decisions of the pairs where image height
    #: misleads (SceneRecord.misleading_pairs), and how many decisions that is
    misled: tuple[float, int] = (float("nan"), 0)
    per_key: np.ndarray = field(default_factory=lambda: np.zeros(0))  #: accuracy per key


def score(records: list[SceneRecord], name: str) -> RowScores:
    levels: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        for lv, (c, n) in level_scores(r, r.probs[name]).items():
            levels[lv][0] += c
            levels[lv][1] += n
    p, t, _, _ = _flat(records, name)
    src = FULL if name == FUSED else name
    s = sum(r.absrel.get(src, (0.0, 0))[0] for r in records)
    c = sum(r.absrel.get(src, (0.0, 0))[1] for r in records)
    right = (p >= 0.5) == t
    misled = []
    for r in records:
        guess = r.probs[name] >= 0.5
        for i, j in r.misleading_pairs():
            misled += [guess[x, y, k] == r.truth[x, y, k]
                       for x, y in ((i, j), (j, i)) for k in (_FRONT, _BEHIND)]
    return RowScores(levels={k: (v[0], v[1]) for k, v in levels.items()},
                     decisions=float(right.mean()) if len(p) else float("nan"),
                     ece=expected_calibration_error(p, t), absrel=s / c if c else float("nan"),
                     depth_decisions=float(right[:, DEPTH_KEYS].mean()) if len(p)
                     else float("nan"),
                     misled=(float(np.mean(misled)) if misled else float("nan"), len(misled)),
                     per_key=right.mean(0) if len(p) else np.full(len(DECISION_KEYS), np.nan))


def cue_share(records: list[SceneRecord]) -> tuple[float, int]:
    """Share of the camera-frame in-front-of facts whose nearer object reaches lower in the
    image than the farther one (the 2D cue holds), and the number of facts."""
    facts = sum(int(r.truth[:, :, _FRONT].sum()) for r in records if len(r.bottom))
    misled = sum(len(r.misleading_pairs()) for r in records)
    return (1 - misled / facts if facts else float("nan")), facts


def frame_times(reasoner, objects: int = 8, repeats: int = 20) -> np.ndarray:
    """Milliseconds of ``predict`` (resize from 640x480, regions, one forward over every pair)
    with ``objects`` boxes, after 3 warm-up calls."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 2.0, (480, 640)).astype(np.float32)
    boxes = np.array([[10 + 78 * i, 200, 60 + 78 * i, 260] for i in range(objects)], float)
    times = []
    for _ in range(repeats + 3):
        t0 = time.perf_counter()
        reasoner.predict(rgb, depth, np.eye(3), boxes=boxes)
        times.append(1000 * (time.perf_counter() - t0))
    return np.array(times[3:])


def cpu_ms(reasoner, objects: int = 8, repeats: int = 20) -> float:
    """Median time of one frame with ``objects`` objects (see frame_times)."""
    return float(np.median(frame_times(reasoner, objects, repeats)))


def run_model_bench(*, runs: str | pathlib.Path, weights: str | pathlib.Path | None = None,
                    splits: tuple[str, ...] = ("test", "shift"),
                    sensors: tuple[str, ...] = ("realsense_d435", "rgb_only"), n: int = 50,
                    n_val: int = 60, seed: int = 0, frames: int = 2, progress: bool = True,
                    out: str | pathlib.Path = "bench_results", ablation: str = "shipped",
                    fusion_regions: str = "boxes") -> dict:
    """``ablation``: ``shipped`` (MODEL_ROWS, full = the shipped weights or ``weights``; fusion
    fitted on val) or ``hard`` (HARD_ROWS, every row from ``runs``; fusion fitted on hard_val).
    ``fusion_regions``: the regions of the model's outputs the fusion is fitted on: ``boxes``
    (the objects' 2D boxes, as reasoning_node gives them from the graph) or ``mask``; the tables
    always score every row on the instance masks."""
    from spatial_ros.model.infer import SHIPPED_WEIGHTS, SpatialReasoner

    if ablation not in ABLATIONS:
        raise BenchError(f"unknown ablation {ablation!r}; expected one of {', '.join(ABLATIONS)}")
    if fusion_regions not in REGIONS:
        raise BenchError(f"fusion regions {fusion_regions!r}: expected one of "
                         f"{', '.join(REGIONS)}")
    runs = pathlib.Path(runs).expanduser()
    paths = {}
    for row, folder in ABLATIONS[ablation].items():
        path = pathlib.Path(weights or SHIPPED_WEIGHTS) if folder == "small" else \
            runs / folder / "model.pt"
        if not path.is_file():
            how = (f"scripts/train_hard_ablation.sh {runs} {folder}" if ablation == "hard" else
                   f"spatial-ros train --config spatial_ros/model/configs/{folder}.yaml --out "
                   f"{runs / folder}")
            raise BenchError(f"no weights for row {row!r} at {path}; make them with: {how}")
        paths[row] = path
    reasoners = {row: SpatialReasoner(p, device="cpu") for row, p in paths.items()}
    # fusion weights: fitted on the val split, over every sensor preset of the run
    val = []
    for sensor in sensors:
        val += collect("hard_val" if ablation == "hard" else "val", n_val, seed, sensor,
                       {FULL: reasoners[FULL]}, frames=frames, progress=progress,
                       regions=fusion_regions)
    fusion = fit_on(val)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fusion_path = out / ("fusion_hard.json" if ablation == "hard" else "fusion.json")
    fusion.save(fusion_path)
    results: dict = {"fusion": fusion, "fusion_path": fusion_path, "tables": {}, "cues": {}}
    def seconds(r) -> float:  # training time, pre-training included
        return float(r.checkpoint.get("train_seconds", float("nan"))) + \
            float(r.checkpoint.get("pretrain_seconds", 0.0))

    base_cost = seconds(reasoners[next(iter(paths))])
    meta = {}
    for row, r in reasoners.items():
        cost = seconds(r)
        meta[row] = {"params": sum(p.numel() for p in r.net.parameters()), "ms": cpu_ms(r),
                     "cost": cost / base_cost if base_cost else float("nan")}
    for split in splits:
        for sensor in sensors:
            recs = collect(split, n, seed, sensor, reasoners, frames=frames, progress=progress)
            add_fused(recs, fusion)
            geo_ms = float(np.median([r.geometry_ms for r in recs])) if recs else float("nan")
            rows = {}
            for row in [*paths, GEOMETRIC, FUSED]:
                rows[row] = score(recs, row)
            meta[GEOMETRIC] = {"params": 0, "ms": geo_ms, "cost": 0.0}
            meta[FUSED] = {"params": meta[FULL]["params"], "ms": geo_ms + meta[FULL]["ms"],
                           "cost": meta[FULL]["cost"]}
            results["tables"][(split, sensor)] = (rows, dict(meta), len(recs))
            results["cues"][(split, sensor)] = cue_share(recs)
    return results


def format_model_table(rows: dict[str, RowScores], meta: dict[str, dict],
                       cue: tuple[float, int] | None = None) -> str:
    """The ablation table; ``cue``: cue_share of its records, stated below it."""
    head = ["row", "L1", "L2", "L3", "L4", "L5", "all questions", "all decisions",
            "depth-order decisions", "depth order, image height misleads",
            "ECE", "depth AbsRel", "params", "CPU ms/frame", "train cost"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in rows.items():
        cells = [name]
        for lv in range(1, 6):
            c, n = s.levels.get(lv, (0, 0))
            cells.append(f"{100 * c / n:.1f}" if n else "–")
        right, asked = (sum(v[i] for v in s.levels.values()) for i in (0, 1))
        cells.append(f"{100 * right / asked:.1f}" if asked else "–")  # the research's metric
        cells.append(f"**{100 * s.decisions:.1f}**")
        cells.append(f"{100 * s.depth_decisions:.1f}")
        cells.append("–" if np.isnan(s.misled[0]) else f"{100 * s.misled[0]:.1f}")
        cells.append(f"{s.ece:.3f}")
        cells.append("–" if np.isnan(s.absrel) else f"{s.absrel:.3f}")
        m = meta[name]
        cells.append(f"{m['params'] / 1e6:.2f} M" if m["params"] else "–")
        cells.append(f"{m['ms']:.1f}")
        cells.append("–" if name == GEOMETRIC else f"{m['cost']:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    counts = {lv: rows[FULL].levels.get(lv, (0, 0))[1] for lv in range(1, 6)}
    lines.append("")
    lines.append("Questions per level: " + ", ".join(f"L{k} {v}" for k, v in counts.items()))
    if cue is not None and cue[1]:
        misled = rows[FULL].misled[1]
        lines.append(f"Image height gives depth order away in {100 * cue[0]:.1f} % of the "
                     f"{cue[1]} camera-frame in-front-of facts (the nearer object reaches lower "
                     f"in the image); where it misleads: {misled} decisions.")
    return "\n".join(lines)


def format_key_table(rows: dict[str, RowScores]) -> str:
    """Accuracy (%) of every row on each of the 21 decisions (spatial_ros.model.data.KEY_NAMES):
    where the rows differ, and which decisions need depth."""
    from spatial_ros.model.data import KEY_NAMES

    head = ["row", *KEY_NAMES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in rows.items():
        lines.append("| " + " | ".join([name, *(f"{100 * v:.0f}" for v in s.per_key)]) + " |")
    return "\n".join(lines)
