"""`spatial-ros bench relations`: the scene-graph pipeline against exact ground truth.

For each SpatialBench scene of a split (generated in memory, the same scenes as `bench generate`
writes) and each sensor preset, a short sequence of frames is rendered while the camera drifts
slightly, the sensor model is applied with fresh noise per frame, and the pipeline
(spatial_ros.pipeline) runs over the sequence. On the last frame:

    relation accuracy: over every ordered pair of ground-truth objects that were both detected,
        every predicate (directional ones in both the egocentric and the allocentric frame), the
        share where "confidence > 0.5" agrees with the ground truth; also per predicate, and the
        F1 of the positive class (accuracy alone rewards saying "no").
    object recall: ground-truth objects with at least ``visible_pixels`` pixels in the view that
        a detection was matched to (a detection matches the object most of its pixels show).
    object precision: detections whose pixels lie mostly on one ground-truth object, of the
        detections; those lying mostly on an unlabelled thing (hard's grey pedestals,
        household's distractors: objects to a robot, named in no question) count neither way.
    id stability: share of frame-to-frame transitions in which a matched object kept its track id.

By default the pipeline gets the camera's true pose. With ``gravity="plane"`` it gets what a
real camera's frames give it (as bench real): up from the frame's support plane
(perception.gravity.gravity_from_plane, ``up_hint`` the camera's rough up), the camera assumed
level where none is found; the scene is scored in the world so tilted (``plane_level``), and
the table reports the frames without gravity and the error of the up found.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from spatial_ros.errors import BenchError, GravityError
from spatial_ros.geometry import Pose
from spatial_ros.perception import PerceptionConfig
from spatial_ros.perception.gravity import (
    LEVEL_CAMERA,
    PlaneGravityConfig,
    gravity_from_plane,
)
from spatial_ros.pipeline import SceneGraphBuilder
from spatial_ros.relations import RelationConfig
from spatial_ros.scene import GENERIC_LABELS, SceneGraph
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.sim.household import shape_words
from spatial_ros.sim.paint import dull as dull_frame
from spatial_ros.sim.paint import paint as paint_frame
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sensors import apply_sensor, get_sensor
from spatial_ros.vocabulary import DIRECTIONAL, PREDICATES, Frame, decision_keys

__all__ = ["RelationScores", "evaluate_frame", "run_relations_bench", "format_table",
           "plane_level", "GRAVITY_SOURCES"]

FRAMES = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC)
GRAVITY_SOURCES = ("true", "plane")  #: where the pipeline's up comes from (module docstring)
WRONG_UP = 5.0  #: degrees off the true up that make a frame's gravity wrong (the table's row)


def _frame_of(predicate: str, frame: Frame) -> Frame:
    if predicate in DIRECTIONAL:
        return frame
    return Frame.EGOCENTRIC if predicate == "occludes" else Frame.ALLOCENTRIC


@dataclass
class RelationScores:
    correct: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fn: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    visible: int = 0
    recalled: int = 0
    detections: int = 0  #: detections of the last frame
    on_objects: int = 0  #: ... whose pixels lie mostly on one labelled object
    #: ... mostly on an unlabelled thing (a pedestal, a distractor: generate.UNLABELLED_THINGS),
    #: objects to a robot, in no question: neither right nor wrong, left out of the precision
    on_things: int = 0
    objects_hit: int = 0  #: labelled objects that one or more of those lie on
    transitions: int = 0
    kept_id: int = 0
    frames: int = 0
    colours: int = 0  #: found objects whose colour name was checked
    colours_right: int = 0
    shapes_right: int = 0  #: found objects named by their true shape word
    shapes_generic: int = 0  #: ... by a generic noun (the shape word did not fit)
    ms: list[float] = field(default_factory=list)
    #: gravity="plane": degrees between the up found and the true up, per frame that found one
    up_errors: list[float] = field(default_factory=list)
    no_gravity: int = 0  #: gravity="plane": frames where no support plane gave up

    @property
    def precision(self) -> float:
        """Detections that are objects (mostly on one labelled object), of those not on an
        unlabelled thing: floor, walls, furniture and other structure taken for objects lower
        it."""
        return self.on_objects / max(self.detections - self.on_things, 1)

    @property
    def detections_per_object(self) -> float:
        """Detections on an object per object they lie on: an object in pieces raises it (as
        bench real's)."""
        return self.on_objects / max(self.objects_hit, 1)

    def add(self, other: RelationScores) -> None:
        for name in ("correct", "total", "tp", "fp", "fn"):
            mine = getattr(self, name)
            for k, v in getattr(other, name).items():
                mine[k] += v
        for name in ("visible", "recalled", "detections", "on_objects", "on_things", "objects_hit",
                     "transitions", "kept_id", "frames", "colours", "colours_right",
                     "shapes_right", "shapes_generic"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ms.extend(other.ms)
        self.up_errors.extend(other.up_errors)
        self.no_gravity += other.no_gravity

    @property
    def accuracy(self) -> float:
        return sum(self.correct.values()) / max(sum(self.total.values()), 1)

    def f1(self, predicate: str | None = None) -> float:
        keys = [predicate] if predicate else list(self.tp)
        tp = sum(self.tp[k] for k in keys)
        fp = sum(self.fp[k] for k in keys)
        fn = sum(self.fn[k] for k in keys)
        return 2 * tp / max(2 * tp + fp + fn, 1)

    @property
    def recall(self) -> float:
        return self.recalled / max(self.visible, 1)

    @property
    def id_stability(self) -> float:
        return self.kept_id / max(self.transitions, 1)

    @property
    def colour_accuracy(self) -> float:
        return self.colours_right / max(self.colours, 1)


def majority_object(det, mask: np.ndarray) -> int:
    """The labelled object most of a detection's pixels lie on, else 0."""
    counts = np.bincount(mask.ravel()[det.pixels], minlength=256)
    counts[0] = 0
    best = int(counts.argmax())
    return best if counts[best] * 2 >= len(det.pixels) > 0 else 0


def thing_pixels(world, frame) -> np.ndarray:
    """Flat bool mask of the pixels of ``frame`` (a RenderedFrame of ``world``) on an
    unlabelled thing (generate.UNLABELLED_THINGS: a pedestal, a distractor)."""
    from spatial_ros.bench.generate import UNLABELLED_THINGS

    things = [k for k, m in enumerate(world.models)
              if m.label is None and m.name.startswith(UNLABELLED_THINGS)]
    return np.isin(frame.model.ravel(), things)


def match_detections(result, mask: np.ndarray) -> dict[int, int]:
    """Ground-truth id -> track id, by the majority of each detection's pixels (the largest
    detection where several lie mostly on one object)."""
    best: dict[int, tuple[int, int]] = {}
    for track, det in result.detections:
        gt = majority_object(det, mask)
        if gt and (gt not in best or len(det.pixels) > best[gt][1]):
            best[gt] = (track.id, len(det.pixels))
    return {g: t for g, (t, _n) in best.items()}


def evaluate_frame(builder: SceneGraphBuilder, graph: SceneGraph, truth: SceneGraph,
                   match: dict[int, int], camera_pose: Pose, occlusion: dict,
                   scores: RelationScores) -> None:
    holds = {(r.subject, r.predicate, r.object, r.frame) for r in truth.relations}
    tracked = {o.id: o for o in graph.objects}
    match = {g: t for g, t in match.items() if t in tracked}
    for g, t in match.items():  # the colour a found object is named by, against the world's
        scores.colours += 1
        scores.colours_right += int(tracked[t].color == truth.object(g).color)
        scores.shapes_right += int(tracked[t].label in shape_words(truth.object(g).label))
        scores.shapes_generic += int(tracked[t].label in GENERIC_LABELS)
    predicted = {}
    for r in builder.all_relations(graph, camera_pose, occlusion):
        predicted[(r.subject, r.predicate, r.object, r.frame)] = r.confidence
    keys = decision_keys()
    for ga, ta in match.items():
        for gb, tb in match.items():
            if ga == gb:
                continue
            for p, f in keys:
                truth_value = (ga, p, gb, f) in holds
                guess = predicted.get((ta, p, tb, f), 0.0) > 0.5
                name = f"{p}/{f.name[:4].lower()}" if p in DIRECTIONAL else p
                scores.total[name] += 1
                scores.correct[name] += int(truth_value == guess)
                scores.tp[name] += int(truth_value and guess)
                scores.fp[name] += int(guess and not truth_value)
                scores.fn[name] += int(truth_value and not guess)


def graph_agreement(graph: SceneGraph, truth: SceneGraph, *, tolerance: float = 0.05
                    ) -> tuple[dict[int, int], int, int, list[tuple]]:
    """Match a sensed graph to the truth by box centre (within ``tolerance`` m) and compare every
    relation decision of the matched pairs: (ground-truth id -> sensed id, agreeing decisions,
    all decisions, the disagreements)."""
    match = {}
    for g in truth.objects:
        best = min(graph.objects, key=lambda o: np.linalg.norm(o.box.center - g.box.center),
                   default=None)
        if best is not None and np.linalg.norm(best.box.center - g.box.center) < tolerance:
            match[g.id] = best.id
    holds = {(r.subject, r.predicate, r.object, r.frame) for r in truth.relations}
    said = {(r.subject, r.predicate, r.object, r.frame) for r in graph.relations}
    agree = total = 0
    wrong = []
    for ga, ta in match.items():
        for gb, tb in match.items():
            if ga == gb:
                continue
            for p, f in decision_keys():
                total += 1
                t, s = (ga, p, gb, f) in holds, (ta, p, tb, f) in said
                agree += t == s
                if t != s:
                    wrong.append((ga, p, gb, f.name, "missed" if t else "extra"))
    return match, agree, total, wrong


def drift(pose: Pose, k: int, amount: float) -> Pose:
    """The camera moved a little: a small rotation about world z around the table centre."""
    a = amount * k
    c, s = math.cos(a), math.sin(a)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return Pose(rotation=rz @ pose.rotation, translation=rz @ pose.translation)


@dataclass
class SceneFrame:
    """One frame of a benchmark sequence and what the pipeline made of it."""

    world: object
    renderer: Renderer
    builder: SceneGraphBuilder
    pose: Pose
    frame: object  # RenderedFrame
    result: object  # FrameResult
    depth: np.ndarray | None = None  # the sensor's depth the pipeline got
    #: the camera pose the pipeline got: ``pose``, or with gravity="plane" the world tilted by
    #: the error of the up found (plane_level)
    level: Pose | None = None
    up_error: float | None = None  #: gravity="plane": degrees off the true up; None: none found


def check_colour_args(paint: float, dull: float) -> None:
    """Raises BenchError where ``paint`` (a share of the objects) is outside [0, 1] or
    ``dull`` (a strength) outside [0, 1)."""
    if not 0.0 <= paint <= 1.0:
        raise BenchError(f"paint is a share of the objects in [0, 1], got {paint}")
    if not 0.0 <= dull < 1.0:
        raise BenchError(f"dull is a strength in [0, 1), got {dull}")


def plane_level(pose: Pose, depth: np.ndarray, intrinsics, config: PlaneGravityConfig
                ) -> tuple[Pose, float | None]:
    """The camera pose a real camera's frame gives the pipeline, in the simulated world: up
    from the support plane (gravity_from_plane; the image's up where none is found, the camera
    assumed level, as bench real), put in the world by the smallest rotation that takes the
    true pose's world to one whose z is that up (heading and origin kept, so that only the
    gravity's error differs). Returns that pose and the degrees between the up found and the
    true up (None where none was found)."""
    try:
        up, found = gravity_from_plane(depth, intrinsics, config)[0].rotation[2], True
    except GravityError:
        up, found = LEVEL_CAMERA.rotation[2], False
    a = pose.rotation @ up  # the world direction the pipeline takes for up
    a = a / np.linalg.norm(a)
    c = float(a[2])
    if c < -1.0 + 1e-9:  # upside down: half a turn about x
        q = np.diag([1.0, -1.0, -1.0])
    else:
        v = np.cross(a, [0.0, 0.0, 1.0])
        vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
        q = np.eye(3) + vx + vx @ vx / (1.0 + c)
    error = math.degrees(math.acos(min(max(c, -1.0), 1.0))) if found else None
    return Pose(rotation=q @ pose.rotation, translation=q @ pose.translation), error


def scene_frames(split: str, seed: int, index: int, sensor: str, *, frames: int, width: int,
                 height: int, use_mask: bool = True, perception: dict | None = None,
                 paint: float = 0.0, dull: float = 0.0, gravity: str = "true",
                 up_hint: tuple[float, float, float] | None = None):
    """Scene ``index`` of a SpatialBench split, rendered ``frames`` times while the camera
    drifts, with the sensor's noise drawn afresh per frame, through a fresh pipeline
    (``perception``: PerceptionConfig fields to set); yields a SceneFrame per frame.
    ``paint``: the share of the objects given a print (spatial_ros.sim.paint; the same print
    in every frame of the scene), the background grain, before the sensor sees the colour.
    ``dull``: the strength of a real camera's duller colour rendering (sim.paint.dull, drawn
    afresh per frame) on the colour image the perception reads; the depth sensor sees the
    surfaces as rendered."""
    from spatial_ros.bench.generate import SPLITS, generate_scene

    if gravity not in GRAVITY_SOURCES:
        raise BenchError(f"gravity is one of {', '.join(GRAVITY_SOURCES)}, got {gravity!r}")
    model = get_sensor(sensor)
    plane = PlaneGravityConfig(noise_quadratic=model.sigma_quadratic,
                               **({"up_hint": tuple(up_hint)} if up_hint is not None else {}))
    world, pose0 = generate_scene(split, seed, index, width=width, height=height)
    renderer = Renderer(world)
    builder = SceneGraphBuilder(PerceptionConfig(noise_quadratic=model.sigma_quadratic,
                                                 **(perception or {})),
                                relations=RelationConfig(noise_quadratic=model.sigma_quadratic))
    for k in range(frames):
        pose = drift(pose0, k, 0.01)
        fr = renderer.render(pose)
        if paint > 0:
            fr = replace(fr, rgb=paint_frame(fr.rgb, fr.mask, np.random.default_rng(
                [SPLITS[split], seed, index, 5]), share=paint))
        depth = apply_sensor(fr.depth, fr.rgb, model,
                             np.random.default_rng([SPLITS[split], seed, index, k, 3]))
        if dull > 0:
            fr = replace(fr, rgb=dull_frame(fr.rgb, np.random.default_rng(
                [SPLITS[split], seed, index, k, 6]), dull))
        level, error = (pose, 0.0) if gravity == "true" else \
            plane_level(pose, depth, fr.intrinsics, plane)
        res = builder.process(fr.rgb, depth, fr.intrinsics, level, stamp=k / 10.0,
                              mask=fr.mask if use_mask else None)
        yield SceneFrame(world, renderer, builder, pose, fr, res, depth, level, error)


def run_relations_bench(*, split: str = "test", n: int = 50, seed: int = 0,
                        sensors: tuple[str, ...] = ("ideal", "realsense_d435"),
                        use_mask: bool = True, frames: int = 3, width: int = 640,
                        height: int = 480, visible_pixels: int = 200,
                        progress: bool = True, perception: dict | None = None,
                        paint: float = 0.0, dull: float = 0.0, gravity: str = "true",
                        up_hint: tuple[float, float, float] | None = None
                        ) -> dict[str, RelationScores]:
    """Scores per sensor preset (``perception``: PerceptionConfig fields to set, e.g. the
    class-agnostic ``segmentation``; ``paint``: share of the objects printed, ``dull``: a
    camera's duller colours; ``gravity``, ``up_hint``: where up comes from, scene_frames)."""
    check_colour_args(paint, dull)
    from tqdm import tqdm

    results = {s: RelationScores() for s in sensors}
    for sensor in sensors:
        for i in tqdm(range(n), desc=f"relations {split} {sensor}", unit="scene",
                      disable=not progress):
            sc = RelationScores()
            last_ids: dict[int, int] = {}
            for sf in scene_frames(split, seed, i, sensor, frames=frames, width=width,
                                   height=height, use_mask=use_mask, perception=perception,
                                   paint=paint, dull=dull, gravity=gravity, up_hint=up_hint):
                sc.ms.append(sf.result.timings["total"])
                if gravity != "true":
                    if sf.up_error is None:
                        sc.no_gravity += 1
                    else:
                        sc.up_errors.append(sf.up_error)
                match = match_detections(sf.result, sf.frame.mask)
                for g, t in match.items():
                    if g in last_ids:
                        sc.transitions += 1
                        sc.kept_id += int(last_ids[g] == t)
                    last_ids[g] = t
            counts = np.bincount(sf.frame.mask.ravel(), minlength=256)
            truth = ground_truth(sf.world, sf.renderer, sf.pose)
            visible = [o.id for o in truth.objects if counts[o.id] >= visible_pixels]
            sc.visible = len(visible)
            sc.recalled = sum(1 for g in visible if g in match)
            sc.detections = len(sf.result.detections)
            dets = [det for _t, det in sf.result.detections]
            hit = [majority_object(det, sf.frame.mask) for det in dets]
            sc.on_objects = sum(g > 0 for g in hit)
            things = thing_pixels(sf.world, sf.frame)
            sc.on_things = sum(g == 0 and 2 * np.count_nonzero(things[det.pixels])
                               >= len(det.pixels) for g, det in zip(hit, dets))
            sc.objects_hit = len(set(hit) - {0})
            sc.frames = frames
            evaluate_frame(sf.builder, sf.result.graph, truth, match, sf.level,
                           sf.result.occlusion, sc)
            results[sensor].add(sc)
    return results


def format_table(results: dict[str, RelationScores], *, title: str = "") -> str:
    """A markdown table: one column per sensor preset."""
    sensors = list(results)
    rows = [f"| {title or 'metric'} | " + " | ".join(sensors) + " |",
            "|---|" + "---|" * len(sensors)]

    def row(name, fn):
        rows.append(f"| {name} | " + " | ".join(fn(results[s]) for s in sensors) + " |")

    row("**relation accuracy**", lambda r: f"**{100 * r.accuracy:.1f}%**")
    row("relation F1 (positives)", lambda r: f"{100 * r.f1():.1f}%")
    row("**object recall**", lambda r: f"**{100 * r.recall:.1f}%** ({r.recalled}/{r.visible})")
    row("**object precision**", lambda r: f"**{100 * r.precision:.1f}%** "
                                          f"({r.on_objects}/{r.detections - r.on_things})")
    row("detections on unlabelled things (pedestals, distractors: left out of the precision)",
        lambda r: f"{r.on_things}")
    row("detections per object hit", lambda r: f"{r.detections_per_object:.2f} "
                                               f"({r.on_objects}/{r.objects_hit})")
    row("id stability", lambda r: f"{100 * r.id_stability:.1f}% ({r.kept_id}/{r.transitions})")
    row("colour names (found objects)",
        lambda r: f"{100 * r.colour_accuracy:.1f}% ({r.colours_right}/{r.colours})")
    def shapes(r: RelationScores) -> str:
        wrong = r.colours - r.shapes_right - r.shapes_generic
        return " / ".join(f"{100 * k / max(r.colours, 1):.1f}%"
                          for k in (r.shapes_right, r.shapes_generic, wrong))

    row("shape words right / generic noun / wrong (found objects)", shapes)
    if any(r.up_errors or r.no_gravity for r in results.values()):  # gravity="plane"
        row(f"gravity from the support plane: frames without / wrong (> {WRONG_UP:g} deg) / of",
            lambda r: f"{r.no_gravity} / {sum(e > WRONG_UP for e in r.up_errors)} / "
                      f"{r.no_gravity + len(r.up_errors)}")
        row("up error where found, degrees (median / p90)",
            lambda r: f"{np.median(r.up_errors):.2f} / {np.percentile(r.up_errors, 90):.2f}"
            if r.up_errors else "-")
    row("pipeline ms/frame (median)", lambda r: f"{np.median(r.ms):.1f}" if r.ms else "-")
    names = sorted(next(iter(results.values())).total,
                   key=lambda k: (PREDICATES.index(k.split("/")[0]), k))
    for name in names:
        row(name, lambda r, k=name: f"{100 * r.correct[k] / max(r.total[k], 1):.1f}% "
                                    f"(F1 {100 * r.f1(k):.0f})")
    return "\n".join(rows)

