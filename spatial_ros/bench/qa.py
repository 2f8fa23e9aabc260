"""`spatial-ros bench qa`: SpatialBench questions and relation goals answered from the sensed
scene graph, against ground truth.

Per scene and sensor preset: the scene-graph pipeline runs over a few frames (as in `bench
relations`), then every question of the scene (the generator's templates, L1-L5, about the
objects in view) is answered by spatial_ros.language from the sensed graph and compared with the
ground-truth answer: yes/no exactly, object lists as sets of "colour shape" names (an object too
little in view for the questions may be named too: the camera saw it, and the truth does not
cover it), distances within ``metric_tolerance`` metres. A question the planner refuses (no
object matches, ambiguous) counts as wrong. Placement: one random goal per scene between two
objects in view ("place A P B", P among left/right/in front of/behind/on top of); it succeeds
when the planner returns a pose at which A's exact box satisfies P against B's exact box and
overlaps no other exact box, or when it refuses a goal that the same planner also refuses on the
exact boxes (no room: something already stands on B).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.bench.generate import SPLITS, _questions, visible_ids
from spatial_ros.bench.relations import match_detections, scene_frames
from spatial_ros.language import Answer, QuestionError, answer_question
from spatial_ros.placement import PlacementError, place_relative
from spatial_ros.relations import Body, RelationConfig, pair_margins
from spatial_ros.scene import GENERIC_LABELS, OrientedBox, SceneGraph
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.vocabulary import Frame

__all__ = ["QaScores", "run_qa_bench", "format_qa_table"]

GOALS = ("left_of", "right_of", "in_front_of", "behind", "on_top_of")


@dataclass
class QaScores:
    correct: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    refused: int = 0
    placed: int = 0
    place_ok: int = 0
    place_refused: int = 0
    goals: int = 0
    infeasible: int = 0  #: goals the planner refuses even on the exact boxes
    infeasible_refused: int = 0  #: of those, refused on the sensed graph too (correct)

    def accuracy(self, level: int | None = None) -> float:
        keys = [level] if level else list(self.total)
        return sum(self.correct[k] for k in keys) / max(sum(self.total[k] for k in keys), 1)


def _names(text: str) -> set[str]:
    if text == "nothing":
        return set()
    return {part.split(" (id")[0].strip() for part in text.split(", ")}


def _by_identity(a: Answer, graph: SceneGraph, truth: SceneGraph, match: dict[int, int]) -> str:
    """The answer's text with each object the sensed graph could only call by a generic noun
    ("medium-sized red object": its shape word did not fit) named as the world object it is
    (its detection's pixels lie mostly on that object); the generator's answers name objects
    by colour and shape, and a name that says less is not a wrong one."""
    if a.kind not in ("which", "closer", "superlative") or not a.object_ids:
        return a.text
    world = {t: g for g, t in match.items()}
    names = []
    for i in a.object_ids:
        o = graph.object(i)
        g = world.get(i) if o.label in GENERIC_LABELS else None
        names.append(o.name if g is None else f"{truth.object(g).color} {truth.object(g).label}")
    return ", ".join(names)


def _is_right(q: dict, text: str, tolerance: float, unseen: set[str] = frozenset()) -> bool:
    """``unseen``: names of objects too little in view for the questions (under
    ``VISIBLE_SHARE`` of the image), whose truth the answers do not cover: a list that also
    names one of them (the camera did see it) is not wrong for that."""
    if q["kind"] == "metric":
        return abs(float(text.split()[0]) - float(q["answer"])) <= tolerance
    if q["answer"] in ("yes", "no"):
        return text == q["answer"]
    return _names(text) - unseen == _names(q["answer"])


def _placement_ok(truth, gt_a, gt_b, target, predicate, camera) -> bool:
    a, b = truth.object(gt_a), truth.object(gt_b)
    placed = OrientedBox(center=target.translation, size=a.box.size, rotation=target.rotation)
    frame = Frame.ALLOCENTRIC if predicate == "on_top_of" else Frame.EGOCENTRIC
    margin = pair_margins(Body.from_box(a.id, placed, camera), Body.from_box(b.id, b.box, camera),
                          RelationConfig(), (frame,))[(predicate, frame)][0]
    if margin <= 0:
        return False
    lo, hi = placed.aabb()
    if predicate == "on_top_of":
        lo = lo + np.array([0, 0, 0.005])  # resting on b is contact
    for o in truth.objects:
        if o.id == a.id:
            continue
        olo, ohi = o.box.aabb()
        if np.all(hi > olo + 1e-4) and np.all(ohi > lo + 1e-4):
            return False
    return True


def run_qa_bench(*, split: str = "test", n: int = 50, seed: int = 0,
                 sensors: tuple[str, ...] = ("ideal", "realsense_d435"), frames: int = 3,
                 width: int = 640, height: int = 480, metric_tolerance: float = 0.05,
                 progress: bool = True, fused: bool = False) -> dict[str, QaScores]:
    """``fused``: replace the graph's relations by those fused with the shipped model (what
    planner_node answers from when reasoning_node runs), the model's regions the instance mask
    the graph was built with, as the launch files give reasoning_node the scene graph's."""
    from dataclasses import replace

    from tqdm import tqdm

    reasoner = fusion = None
    if fused:
        from spatial_ros.model.fusion import Fusion
        from spatial_ros.model.infer import SHIPPED_WEIGHTS, SpatialReasoner
        from spatial_ros.model.reason import reason_frame

        reasoner = SpatialReasoner(SHIPPED_WEIGHTS, device="cpu")
        fusion = Fusion.load(SHIPPED_WEIGHTS.with_suffix(".fusion.json"))

    out = {s: QaScores() for s in sensors}
    for sensor in sensors:
        sc = out[sensor]
        for i in tqdm(range(n), desc=f"qa {split} {sensor}", unit="scene", disable=not progress):
            *_, sf = scene_frames(split, seed, i, sensor, frames=frames, width=width,
                                  height=height)  # the graph of the last frame answers
            world, renderer, pose, fr, res = sf.world, sf.renderer, sf.pose, sf.frame, sf.result
            truth = ground_truth(world, renderer, pose)
            graph = res.graph
            if reasoner is not None:
                rels, _ = reason_frame(reasoner, fusion, graph, fr.rgb, sf.depth, pose,
                                       graph.stamp, focal=fr.intrinsics.fx, mask=fr.mask)
                graph = replace(graph, relations=rels)
            rng = np.random.default_rng([SPLITS[split], seed, i, 9])
            visible = visible_ids(fr.mask)
            seen_names = {f"{o.color} {o.label}" for o in truth.objects if o.id in visible}
            unseen = {f"{o.color} {o.label}" for o in truth.objects
                      if o.id not in visible} - seen_names
            match = match_detections(res, fr.mask)
            for q in _questions(truth, rng, pose, visible):
                sc.total[q["level"]] += 1
                try:
                    a = answer_question(graph, q["question"], camera_pose=pose)
                except QuestionError:
                    sc.refused += 1
                    continue
                text = _by_identity(a, graph, truth, match)
                sc.correct[q["level"]] += int(_is_right(q, text, metric_tolerance, unseen))
            # one relation goal per scene, between objects in view (as the questions are)
            grng = np.random.default_rng([SPLITS[split], seed, i, 11])
            ids = [o.id for o in truth.objects if o.id in visible]
            if len(ids) < 2:
                continue
            ga, gb = (int(x) for x in grng.choice(ids, 2, replace=False))
            pred = str(grng.choice(GOALS))
            sc.goals += 1
            try:  # is there room at all? the same planner on the exact boxes
                place_relative(truth, ga, pred, gb, camera_pose=pose)
                feasible = True
            except PlacementError:
                feasible = False
                sc.infeasible += 1
            if ga not in match or gb not in match:
                sc.place_refused += 1
                continue
            try:
                p = place_relative(graph, match[ga], pred, match[gb], camera_pose=pose)
            except PlacementError:
                sc.place_refused += 1
                if not feasible:  # refusing a goal that has no solution is the right answer
                    sc.infeasible_refused += 1
                    sc.place_ok += 1
                continue
            sc.placed += 1
            sc.place_ok += int(_placement_ok(truth, ga, gb, p.pose, pred, pose))
    return out


def format_qa_table(results: dict[str, QaScores]) -> str:
    sensors = list(results)
    rows = ["| metric | " + " | ".join(sensors) + " |", "|---|" + "---|" * len(sensors)]
    names = {1: "L1 yes/no", 2: "L2 which", 3: "L3 metric / closer", 4: "L4 multi-hop",
             5: "L5 frames of reference"}
    rows.append("| **all questions** | " + " | ".join(
        f"**{100 * r.accuracy():.1f}%** ({sum(r.correct.values())}/{sum(r.total.values())})"
        for r in results.values()) + " |")
    for level, name in names.items():
        rows.append(f"| {name} | " + " | ".join(
            f"{100 * r.accuracy(level):.1f}% ({r.correct[level]}/{r.total[level]})"
            for r in results.values()) + " |")
    rows.append("| questions refused (no/ambiguous match) | " + " | ".join(
        str(r.refused) for r in results.values()) + " |")
    rows.append("| **placement success** | " + " | ".join(
        f"**{100 * r.place_ok / max(r.goals, 1):.1f}%** ({r.place_ok}/{r.goals}; "
        f"{r.place_refused} refused)" for r in results.values()) + " |")
    rows.append("| goals with no room even on the exact boxes (refused / all) | " + " | ".join(
        f"{r.infeasible_refused}/{r.infeasible}" for r in results.values()) + " |")
    return "\n".join(rows)
