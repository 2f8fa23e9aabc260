"""`spatial-ros bench real`: perception on real RGB-D frames against hand annotations.

Two sets, reported apart (see ``scripts/annotate_real.py`` for how their masks are made):

    tuning (``test/data/real_rgbd``): four RealSense tabletop frames. Perception's rules and
        thresholds were set on them, so their figures say little about a new scene.
    held-out (``test/data/real_rgbd_heldout``): four frames of four other cameras and rooms
        (RealSense F200, SR300 and D435 at 1280x720, Asus Xtion; a checkerboard table, a
        shelf bin seen from the front, a tote from above, a table in a room). Never tuned on:
        their figures are the ones that count. A failure seen there is reproduced in the
        simulator and fixed there.

The frames carry no camera pose: gravity comes from the support plane
(spatial_ros.perception.gravity); a frame where none is found is scored with the camera
assumed level and says so (column "gravity"). Each frame runs once through the scene-graph
pipeline (class-agnostic, RealSense noise model) with a fresh tracker, and:

    object recall / precision: an annotated object is found when a detection's mask overlaps
        it with IoU >= 0.5. IoU counts the pixels of the perception grid (every ``stride``-th)
        that have a depth reading, the only ones a detection can hold. Precision counts every
        detection, those on unannotated things off the table (a chair, a cart) included.
    detections per object: detections whose pixels lie mostly on one annotated object, per
        annotated object that has any (1.0 = no fragments).
    relation recall: annotated triples the graph reports (both objects found, the predicate in
        the annotated frame above ``min_confidence``); contradictions: annotated triples whose
        opposite the graph reports (``a P b`` annotated, ``a INVERSE[P] b`` or ``b P a`` reported).
    colour: found objects with a single-colour annotation whose colour name is one of those the
        annotation accepts; "colour (own pixels)": every such annotated object named from its
        own annotated pixels (eroded by 2 px) with the same naming (colors.surface_color), so
        that colour naming is measured apart from segmentation.
    names: found objects called by a shape word the annotation accepts ("shape") or by a
        generic noun (spatial_ros.perception.shapes.shape_fits); in brackets how many generic.
    ms per frame: gravity + pipeline, median over ``repeats`` runs of each frame.
"""
from __future__ import annotations

import json
import pathlib
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from spatial_ros.colors import balanced, illuminant_gains, surface_color
from spatial_ros.errors import BenchError, GravityError
from spatial_ros.geometry import CameraIntrinsics
from spatial_ros.language import QuestionError, answer_question
from spatial_ros.perception import PerceptionConfig
from spatial_ros.perception.detect import frame_stride
from spatial_ros.perception.gravity import LEVEL_CAMERA, PlaneGravityConfig, gravity_from_plane
from spatial_ros.pipeline import FrameResult, SceneGraphBuilder
from spatial_ros.relations import DEPTH_NOISE_QUADRATIC, RelationConfig
from spatial_ros.scene import GENERIC_LABELS
from spatial_ros.vocabulary import INVERSE, PREDICATES, Frame

__all__ = ["RealFrame", "load_real_frames", "default_data_dir", "heldout_data_dir",
           "REAL_SETS", "run_real_bench", "RealScores", "format_real_table", "D435_NOISE",
           "format_segmenter_table"]

D435_NOISE = DEPTH_NOISE_QUADRATIC["realsense_d435"]  #: the RealSense's depth noise
_FRAMES = {"egocentric": Frame.EGOCENTRIC, "allocentric": Frame.ALLOCENTRIC}


def default_data_dir() -> pathlib.Path:
    """The tuning frames of a source checkout (``test/data/real_rgbd``)."""
    return pathlib.Path(__file__).resolve().parents[2] / "test" / "data" / "real_rgbd"


def heldout_data_dir() -> pathlib.Path:
    """The held-out frames of a source checkout (``test/data/real_rgbd_heldout``)."""
    return pathlib.Path(__file__).resolve().parents[2] / "test" / "data" / "real_rgbd_heldout"


#: the two annotated sets, in the order reported: name -> folder
REAL_SETS = {"tuning": default_data_dir, "held-out": heldout_data_dir}


@dataclass
class RealFrame:
    name: str
    rgb: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray  # (H, W) float32 metres, NaN = no reading
    intrinsics: CameraIntrinsics
    mask: np.ndarray  # (H, W) uint8 annotated instance ids, 0 = not annotated
    objects: dict[int, dict]  # id -> {"name", "colour": [accepted names], "shape": [words]}
    relations: list[tuple[int, str, int, Frame]]


def _read(path: pathlib.Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise BenchError(f"{path}: missing or not an image")
    return image


def load_real_frames(data: str | pathlib.Path | None = None) -> list[RealFrame]:
    """The annotated frames of ``data`` (default: ``default_data_dir()``), checked."""
    data = pathlib.Path(data) if data is not None else default_data_dir()
    ann_path = data / "annotations.json"
    if not ann_path.is_file():
        raise BenchError(f"{ann_path}: no annotations (expected the folder of annotated real "
                         "frames, e.g. test/data/real_rgbd)")
    per_frame = (data / "cameras.json").is_file()  # one camera per frame, by name
    try:
        ann = json.loads(ann_path.read_text())
        cams = json.loads((data / ("cameras.json" if per_frame else "camera.json")).read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{data}: unreadable annotations or camera file: {exc}") from exc
    frames = []
    for name, spec in ann["frames"].items():
        try:
            cam = cams[name] if per_frame else cams
            intr = CameraIntrinsics(width=int(cam["width"]), height=int(cam["height"]),
                                    fx=cam["fx"], fy=cam["fy"], cx=cam["cx"], cy=cam["cy"])
            unit = float(cam["depth_unit_m"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BenchError(f"{data}: no usable camera for frame {name}: {exc}") from exc
        bgr = _read(data / f"{name}_color.png", cv2.IMREAD_COLOR)
        raw = _read(data / f"{name}_depth.png", cv2.IMREAD_UNCHANGED)
        mask = _read(data / f"{name}_mask.png", cv2.IMREAD_UNCHANGED)
        if raw.dtype != np.uint16:
            raise BenchError(f"{name}_depth.png is {raw.dtype}, expected uint16 millimetres")
        if not (bgr.shape[:2] == raw.shape == mask.shape == (intr.height, intr.width)):
            raise BenchError(f"{name}: colour {bgr.shape[:2]}, depth {raw.shape} and mask "
                             f"{mask.shape} differ from the camera's {intr.height}x{intr.width}")
        depth = raw.astype(np.float32) * unit
        depth[raw == 0] = np.nan
        objects = {int(k): {"name": o["name"], "colour": list(o.get("colour", [])),
                            "shape": list(o.get("shape", []))}
                   for k, o in spec["objects"].items()}
        rels = []
        for a, p, b, f in spec["relations"]:
            if p not in PREDICATES or f not in _FRAMES or a not in objects or b not in objects:
                raise BenchError(f"{name}: bad relation {[a, p, b, f]}")
            rels.append((int(a), p, int(b), _FRAMES[f]))
        frames.append(RealFrame(name, np.ascontiguousarray(bgr[:, :, ::-1]), depth, intr,
                                mask, objects, rels))
    return frames


@dataclass
class FrameScore:
    name: str
    gravity: str = "plane"  #: where up came from: "plane", or why it could not be found
    objects: int = 0
    found: int = 0
    detections: int = 0
    on_objects: int = 0  # detections lying mostly on an annotated object
    fragmented_objects: int = 0  # annotated objects with any such detection
    relations: int = 0
    reported: int = 0
    contradictions: list[str] = field(default_factory=list)
    missed_relations: list[str] = field(default_factory=list)
    colours: int = 0
    colours_right: int = 0
    colour_errors: list[str] = field(default_factory=list)
    own_colours: int = 0  #: annotated objects with accepted colours, named from their pixels
    own_colours_right: int = 0
    own_colour_errors: list[str] = field(default_factory=list)
    names_right: int = 0  # found objects called by an accepted shape word or a generic noun
    names_generic: int = 0
    name_errors: list[str] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    ious: dict[int, float] = field(default_factory=dict)
    #: the planner's answers to "how many objects are there?" and "... on the table?" (None:
    #: no answer, e.g. no table); every annotated object rests on the table or on what does
    counts: tuple[int | None, int | None] = (None, None)

    @property
    def counts_right(self) -> int:
        return sum(c == self.objects for c in self.counts)


@dataclass
class RealScores:
    frames: list[FrameScore]

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.frames)

    @property
    def recall(self) -> float:
        return self.total("found") / max(self.total("objects"), 1)

    @property
    def precision(self) -> float:
        return self.total("found") / max(self.total("detections"), 1)  # IoU >= 0.5: one each

    @property
    def detections_per_object(self) -> float:
        return self.total("on_objects") / max(self.total("fragmented_objects"), 1)

    @property
    def relation_recall(self) -> float:
        return self.total("reported") / max(self.total("relations"), 1)

    @property
    def colour_accuracy(self) -> float:
        return self.total("colours_right") / max(self.total("colours"), 1)

    @property
    def own_colour_accuracy(self) -> float:
        return self.total("own_colours_right") / max(self.total("own_colours"), 1)

    @property
    def name_accuracy(self) -> float:
        return self.total("names_right") / max(self.total("found"), 1)

    @property
    def contradictions(self) -> int:
        return sum(len(f.contradictions) for f in self.frames)

    @property
    def counts_right(self) -> int:
        return self.total("counts_right")

    @property
    def ms_p50(self) -> float:
        return float(np.median([np.median(f.ms) for f in self.frames]))


def grid_region(pixels: np.ndarray, width: int, stride: int, shape: tuple[int, int]
                ) -> np.ndarray:
    """The cells of the perception grid (``shape``, every ``stride``-th pixel of an image
    ``width`` wide) that full-resolution flat ``pixels`` fall in: (H, W) bool. How a
    detection's region (Detection.mask_pixels) is scored against an annotated mask."""
    rows, cols = np.divmod(pixels, width)
    cells = np.zeros(shape, bool)
    cells[np.minimum(rows // stride, shape[0] - 1),
          np.minimum(cols // stride, shape[1] - 1)] = True
    return cells


def _score(frame: RealFrame, result: FrameResult, stride: int, score: FrameScore) -> dict:
    """Fill ``score`` from one pipeline result; return annotated id -> (track id, detection)."""
    grid = frame.mask[::stride, ::stride]
    sh, sw = grid.shape
    valid = np.isfinite(frame.depth[::stride, ::stride])
    ann_ids = sorted(frame.objects)
    area = np.bincount(grid[valid], minlength=256)  # annotated cells with a reading, per id
    score.objects, score.detections = len(ann_ids), len(result.detections)
    matches: dict[int, tuple] = {}
    hit: dict[int, int] = {}
    for track, det in result.detections:
        cells = grid_region(det.mask_pixels, frame.intrinsics.width, stride, (sh, sw)) & valid
        n = int(cells.sum())
        counts = np.bincount(grid[cells], minlength=256)  # intersection with each id
        counts[0] = 0
        best = int(counts.argmax())
        if best in frame.objects and counts[best] * 2 >= n > 0:
            hit[best] = hit.get(best, 0) + 1
        for a in ann_ids:
            inter = int(counts[a])
            if inter == 0:
                continue
            iou = inter / float(n + area[a] - inter)
            score.ious[a] = max(score.ious.get(a, 0.0), iou)
            if iou >= 0.5:
                matches[a] = (track.id, det, track.label or track.noun)
    score.found = len(matches)
    score.counts = tuple(_count(result.graph, q) for q in COUNT_QUESTIONS)
    score.on_objects = sum(hit.values())
    score.fragmented_objects = len(hit)
    reported = {(r.subject, r.predicate, r.object, r.frame) for r in result.graph.relations}
    for a, p, b, f in frame.relations:
        score.relations += 1
        text = f"{frame.objects[a]['name']} {p} {frame.objects[b]['name']}"
        if a not in matches or b not in matches:
            score.missed_relations.append(text + " (object not found)")
            continue
        ta, tb = matches[a][0], matches[b][0]
        if (ta, p, tb, f) in reported:
            score.reported += 1
        else:
            score.missed_relations.append(text)
        inverse = INVERSE.get(p)
        if (inverse and inverse != p and (ta, inverse, tb, f) in reported) or \
                (inverse != p and (tb, p, ta, f) in reported):
            score.contradictions.append(text)
    kernel = np.ones((5, 5), np.uint8)
    gains = illuminant_gains(frame.rgb)  # as detect_objects names colours
    for a, obj in frame.objects.items():  # colour naming apart from segmentation
        if not obj["colour"]:
            continue
        own = cv2.erode((frame.mask == a).astype(np.uint8), kernel) > 0
        name = surface_color(balanced(frame.rgb[own] / 255.0, gains))
        score.own_colours += 1
        if name in obj["colour"]:
            score.own_colours_right += 1
        else:
            score.own_colour_errors.append(f"{obj['name']}: {name}")
    for a, (_tid, det, noun) in matches.items():
        if noun in GENERIC_LABELS or noun in frame.objects[a]["shape"]:
            score.names_right += 1
            score.names_generic += noun in GENERIC_LABELS
        else:
            score.name_errors.append(f"{frame.objects[a]['name']}: {noun}")
        accepted = frame.objects[a]["colour"]
        if accepted:
            score.colours += 1
            if det.color in accepted:
                score.colours_right += 1
            else:
                score.colour_errors.append(f"{frame.objects[a]['name']}: {det.color}")
    return matches


#: the counting questions each frame is asked (the planner's language, on the frame's graph)
COUNT_QUESTIONS = ("how many objects are there?", "how many objects are on the table?")


def _count(graph, question: str) -> int | None:
    try:
        return len(answer_question(graph, question).object_ids)
    except QuestionError:
        return None


def _draw(frame: RealFrame, result: FrameResult, matches: dict, path: pathlib.Path) -> None:
    bgr = frame.rgb[:, :, ::-1]
    out = (bgr * 0.4).astype(np.uint8)
    matched = {id(m[1]) for m in matches.values()}
    rng = np.random.default_rng(5)
    for track, det in result.detections:
        colour = rng.integers(90, 255, 3)
        rows, cols = np.divmod(det.mask_pixels, frame.intrinsics.width)
        for dr in (0, 1):
            for dc in (0, 1):
                r = np.minimum(rows + dr, frame.intrinsics.height - 1)
                c = np.minimum(cols + dc, frame.intrinsics.width - 1)
                out[r, c] = (0.45 * bgr[r, c] + 0.55 * colour).astype(np.uint8)
        u0, v0, u1, v1 = det.bbox2d
        box_colour = (80, 220, 80) if id(det) in matched else (0, 160, 255)
        cv2.rectangle(out, (u0, v0), (u1, v1), box_colour, 1)
        cv2.putText(out, f"{track.id} {track.to_object(track.last_seen).name}",
                    (u0 + 2, max(v0 - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    for a, obj in frame.objects.items():
        if a in matches:
            continue
        sel = (frame.mask == a).astype(np.uint8)
        contours, _ = cv2.findContours(sel, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 0, 255), 2)
        ys, xs = np.nonzero(sel)
        cv2.putText(out, f"missed: {obj['name'][4:]}", (int(xs.min()), int(ys.max()) + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1, cv2.LINE_AA)
    cv2.putText(out, f"{frame.name}: green = found (IoU >= 0.5), orange = other detection, "
                "red = annotated object missed", (6, frame.intrinsics.height - 8),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), out)


def run_real_bench(*, data: str | pathlib.Path | None = None, repeats: int = 5,
                   images: str | pathlib.Path | None = None, progress: bool = True,
                   builder_factory=None, perception: dict | None = None) -> RealScores:
    """Score the pipeline on every annotated frame of ``data``; annotated PNGs to ``images``
    (``perception``: PerceptionConfig fields to set, e.g. the ``segmentation``)."""
    if repeats < 1:
        raise BenchError(f"repeats must be at least 1, got {repeats}")
    frames = load_real_frames(data)
    relations = RelationConfig(noise_quadratic=D435_NOISE)
    gravity = PlaneGravityConfig(noise_quadratic=D435_NOISE)
    config = PerceptionConfig(noise_quadratic=D435_NOISE, **(perception or {}))
    make = builder_factory or (lambda: SceneGraphBuilder(config, relations=relations))
    scores = []
    for frame in frames:
        score = FrameScore(frame.name)
        for k in range(repeats):
            builder = make()
            t0 = time.perf_counter()
            try:
                pose, _share = gravity_from_plane(frame.depth, frame.intrinsics, gravity)
            except GravityError as exc:  # scored with the camera level, and said so
                pose, score.gravity = LEVEL_CAMERA, f"none ({exc})"
            result = builder.process(frame.rgb, frame.depth, frame.intrinsics, pose, 0.0)
            score.ms.append((time.perf_counter() - t0) * 1e3)
            if k == 0:
                stride = frame_stride(frame.intrinsics.width, builder.perception)
                matches = _score(frame, result, stride, score)
                if images is not None:
                    _draw(frame, result, matches, pathlib.Path(images) / f"{frame.name}.png")
        if progress:
            print(f"[bench real] {frame.name}: gravity {score.gravity}, "
                  f"{score.found}/{score.objects} objects, "
                  f"{score.detections} detections, relations {score.reported}/"
                  f"{score.relations}, {np.median(score.ms):.0f} ms", flush=True)
        scores.append(score)
    return RealScores(scores)


def format_real_table(scores: RealScores) -> str:
    rows = ["| frame | gravity | objects found (IoU >= 0.5) | precision | detections per object "
            "| relations reported | contradictions | colour names | colour (own pixels) | "
            "names (generic) | counts: there, on the table | ms per frame (p50) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in scores.frames:
        gravity = "plane" if f.gravity == "plane" else "**none**"
        rows.append(f"| {f.name} | {gravity} | {f.found}/{f.objects} | {f.found}/"
                    f"{f.detections} | {f.on_objects / max(f.fragmented_objects, 1):.2f} | "
                    f"{f.reported}/{f.relations} | {len(f.contradictions)} | "
                    f"{f.colours_right}/{f.colours} | {f.own_colours_right}/{f.own_colours} | "
                    f"{f.names_right}/{f.found} "
                    f"({f.names_generic}) | {_said(f.counts[0])}, {_said(f.counts[1])} of "
                    f"{f.objects} | {np.median(f.ms):.0f} |")
    found = sum(f.gravity == "plane" for f in scores.frames)
    rows.append(f"| **all** | {found}/{len(scores.frames)} | **{scores.recall:.1%}** | "
                f"{scores.precision:.1%} | "
                f"**{scores.detections_per_object:.2f}** | **{scores.relation_recall:.1%}** | "
                f"**{scores.contradictions}** | "
                f"{scores.colour_accuracy:.1%} | {scores.own_colour_accuracy:.1%} | "
                f"{scores.name_accuracy:.1%} "
                f"({scores.total('names_generic')}) | {scores.counts_right}/"
                f"{2 * len(scores.frames)} right | **{scores.ms_p50:.0f}** |")
    return "\n".join(rows)


def format_segmenter_table(runs: dict[tuple[str, str], RealScores]) -> str:
    """The sets' summary rows side by side, one per (set, segmentation)."""
    rows = ["| set | segmentation | objects found (IoU >= 0.5) | precision | detections per "
            "object | relations reported | contradictions | colour names | counts right | "
            "ms per frame (p50) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (name, seg), sc in runs.items():
        rows.append(f"| {name} | {seg} | {sc.recall:.1%} ({sc.total('found')}/"
                    f"{sc.total('objects')}) | {sc.precision:.1%} | "
                    f"{sc.detections_per_object:.2f} | {sc.relation_recall:.1%} | "
                    f"{sc.contradictions} | {sc.colour_accuracy:.1%} | {sc.counts_right}/"
                    f"{2 * len(sc.frames)} | {sc.ms_p50:.0f} |")
    return "\n".join(rows)


def _said(count: int | None) -> str:
    return "-" if count is None else str(count)
