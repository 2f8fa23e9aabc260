"""Scene graph data types of the ROS-free core: objects (nodes) and relations (edges)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.vocabulary import Frame, Source, check_predicate

__all__ = ["OrientedBox", "SceneObject", "Relation", "SceneGraph", "Support", "size_class",
           "SIZE_CLASSES", "GENERIC_NOUN", "GENERIC_LABELS", "RESTING_GAP", "FLOOR_DROP",
           "resting_support", "resting_objects", "inferred_supports", "name_floor", "main_surface"]

#: size classes by an object's longest box side (m): under the first "small", from the
#: second "large" (a mug or a can is medium-sized, a cereal box large)
SIZE_CLASSES = (0.08, 0.2)
#: what an object whose shape word does not fit is called (with its size and colour)
GENERIC_NOUN = "object"
#: labels that name no kind of object: the shape word did not fit, or too few points
GENERIC_LABELS = (GENERIC_NOUN, "unknown")
#: a support surface an object's bottom lies this close to (m) is what it rests on
RESTING_GAP = 0.03
#: the lowest large support, with another large one this far (m) or more above it, is the floor
FLOOR_DROP = 0.3
#: an object rests on a support whose extent, grown by this much (m), its footprint overlaps:
#: the extent comes from the surface's visible readings, which the things on it hide and the
#: view's edge cuts (household_val: a table 0.99 m deep seen as 0.80 m, a can on its hidden
#: part 4 cm beyond the extent grown by 5 cm)
RESTING_MARGIN = 0.15
#: a bottom hidden behind the things in front of it, or cut off by the view, is seen up to
#: this much (m) too high: what an object rests on lies at most this far under its bottom
RESTING_DROP = 0.25


def size_class(box: OrientedBox) -> str:
    """"small", "medium-sized" or "large", by the box's longest side (``SIZE_CLASSES``)."""
    longest = float(np.max(box.size))
    return "small" if longest < SIZE_CLASSES[0] else "large" if longest >= SIZE_CLASSES[1] \
        else "medium-sized"


@dataclass
class OrientedBox:
    """A 3D box: ``rotation`` maps box axes to the parent frame; ``size`` is the full extent."""

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=np.float64).reshape(3)
        self.size = np.asarray(self.size, dtype=np.float64).reshape(3)
        self.rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)

    def corners(self) -> np.ndarray:
        """The 8 corners (8, 3) in the parent frame."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return self.center + (signs * (self.size / 2.0)) @ self.rotation.T

    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds (min, max) in the parent frame."""
        half = np.abs(self.rotation) @ (self.size / 2.0)
        return self.center - half, self.center + half

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))


@dataclass
class SceneObject:
    """One object of the scene graph (mirrors ``msg/SceneObject.msg``)."""

    id: int
    centroid: np.ndarray
    box: OrientedBox
    label: str = "unknown"
    color: str = "unknown"
    confidence: float = 1.0
    bbox2d: tuple[int, int, int, int] = (0, 0, 0, 0)  # u_min, v_min, u_max, v_max
    point_count: int = 0
    last_seen: float = 0.0  # seconds
    #: the support it rests on (``Support.id``); 0: none (it stands on another object, or no
    #: support seen lies under it)
    support_id: int = 0

    def __post_init__(self) -> None:
        self.centroid = np.asarray(self.centroid, dtype=np.float64).reshape(3)

    @property
    def name(self) -> str:
        """What a person would call it, e.g. ``red box``; an object of no known kind by its
        size and colour, e.g. ``large red object``."""
        if self.label in GENERIC_LABELS:
            return f"{size_class(self.box)} {self.color} object"
        return f"{self.color} {self.label}"

    @property
    def description(self) -> str:
        """Its name and id, e.g. ``red box (id 3)``."""
        return f"{self.name} (id {self.id})"


@dataclass(frozen=True)
class Relation:
    """A directed, graded relation ``subject predicate object`` (mirrors SpatialRelation.msg)."""

    subject: int
    predicate: str
    object: int
    confidence: float
    distance: float = math.nan
    frame: Frame = Frame.EGOCENTRIC
    source: Source = Source.GEOMETRY

    def __post_init__(self) -> None:
        check_predicate(self.predicate)
        if not (0.0 <= self.confidence <= 1.0):
            raise ValueError(f"relation confidence {self.confidence} must lie in [0, 1]")

    @classmethod
    def trusted(cls, subject: int, predicate: str, object: int, confidence: float,
                distance: float, frame: Frame, source: Source) -> Relation:
        """A relation from the relation engine, whose predicates and confidences are valid by
        construction: the checks (and a frozen dataclass's slow field setting) are skipped.
        A graph of 32 objects has thousands of relations per frame."""
        rel = cls.__new__(cls)
        rel.__dict__.update(subject=subject, predicate=predicate, object=object,
                            confidence=confidence, distance=distance, frame=frame,
                            source=source)
        return rel


@dataclass
class Support:
    """A support surface (mirrors ``msg/Support.msg``): a level surface that holds things (a
    table top, a shelf board, the floor, a bin's floor), kept apart from the objects.

    ``box`` is its extent: centred on the surface at ``height``, turned about the vertical,
    ``size`` its two sides (z 0), from the surface's visible readings (2nd to 98th percentile
    along its axes)."""

    id: int
    height: float
    box: OrientedBox
    kind: str = "surface"  #: ``KIND_FLOOR`` or ``KIND_SURFACE``
    point_count: int = 0
    #: spans ``support_part_span`` or more and is one connected surface (a table, a board, a
    #: floor), not a big box's top
    large: bool = True

    KIND_FLOOR = "floor"
    KIND_SURFACE = "surface"

    def holds(self, xy: np.ndarray, margin: float = RESTING_MARGIN) -> bool:
        """Whether the point ``xy`` (world x, y) lies over the surface, its extent grown by
        ``margin`` on every side."""
        local = (np.asarray(xy, float)[:2] - self.box.center[:2]) @ self.box.rotation[:2, :2]
        return bool(np.all(np.abs(local) <= self.box.size[:2] / 2 + margin))

    @property
    def area(self) -> float:
        return float(self.box.size[0] * self.box.size[1])


def resting_support(obj: SceneObject, supports: list[Support], others: list[SceneObject] = (),
                    gap: float = RESTING_GAP, drop: float = RESTING_DROP) -> int:
    """The id of the support ``obj`` rests on; 0 when none (it stands on another object, or
    no support lies under it). A support is under it where its footprint overlaps the
    support's extent (grown by ``RESTING_MARGIN``): objects at a table's edge overhang it.

    The support its box's bottom lies within ``gap`` of (the nearest in height), or that
    cuts through its box below its centre (a segment that took in a little of what lies
    under the surface). Failing that, where none of the ``others`` lies under it (it is not
    stacked), the highest support under it at most ``drop`` below its bottom: a bottom
    hidden behind the things in front of it or cut off by the view is seen too high, and
    objects do not float."""
    lo, hi = obj.box.aabb()
    bottom = float(lo[2])
    reach = RESTING_MARGIN + float(np.max(hi[:2] - lo[:2])) / 2
    under = [s for s in supports if s.holds(obj.centroid, reach)]
    best, best_d = 0, gap
    for sup in under:
        d = abs(bottom - sup.height)
        if d <= best_d:
            best, best_d = sup.id, d
    if best:
        return best
    through = [s for s in under if bottom < s.height < obj.centroid[2]]
    if through:
        return max(through, key=lambda s: s.height).id
    if any(_under(o, obj, gap) for o in others if o is not obj):
        return 0
    below = [s for s in under if 0 < bottom - s.height <= drop]
    return max(below, key=lambda s: s.height).id if below else 0


def _under(low: SceneObject, high: SceneObject, gap: float,
           drop: float = RESTING_DROP) -> bool:
    """Whether ``low`` lies under ``high``, holding it up: its top at most ``gap`` over
    ``high``'s bottom and at most ``drop`` under it, their footprints overlapping, and
    ``high``'s centre above ``low``'s. Without the ``drop``, a thing on the floor half a metre
    under a table's far corner held up the bag lying there (a tuning frame's bag was on no
    support, and off the count of things on the table), and a chair's back stood on
    whatever lay under it."""
    llo, lhi = low.box.aabb()
    hlo, hhi = high.box.aabb()
    return bool(hlo[2] - drop <= lhi[2] <= hlo[2] + gap and high.centroid[2] > low.centroid[2]
                and np.all(llo[:2] < hhi[:2]) and np.all(hlo[:2] < lhi[:2]))


def _inside(inner: SceneObject, outer: SceneObject) -> bool:
    """Whether ``inner``'s centre lies within ``outer``'s box (a thing in a bowl or a bin)."""
    lo, hi = outer.box.aabb()
    return bool(np.all(lo <= inner.centroid) and np.all(inner.centroid <= hi))


def resting_objects(objects: list[SceneObject], gap: float = RESTING_GAP) -> list[SceneObject]:
    """The objects that rest on a support (``support_id``), or stand on or lie in one that
    does, however deep the stack: the things a person counts. The rest, that neither a
    support nor such an object holds up, is structure: a chair's back, a shelf's side panel,
    a wall's fragment, the far edge of a desk."""
    kept = {id(o) for o in objects if o.support_id}
    grown = True
    while grown:
        grown = False
        for o in objects:
            if id(o) in kept:
                continue
            if any(id(k) in kept and (_under(k, o, gap) or _inside(o, k)) for k in objects
                   if k is not o):
                kept.add(id(o))
                grown = True
    return [o for o in objects if id(o) in kept]


def inferred_supports(objects: list[SceneObject], first_id: int, gap: float = RESTING_GAP,
                      least: int = 2) -> list[Support]:
    """Supports the objects show where no plane was found: ``least`` or more objects on no
    support and on no other object whose bottoms lie within ``gap`` / 2 of one height stand
    on a surface there (a bin's floor or a shelf board that they hide, a table seen at a
    grazing angle). Each gets an extent over their footprints, ``point_count`` 0 (no
    readings: inferred) and ids from ``first_id``."""
    loose = [o for o in objects if o.support_id == 0
             and not any(_under(x, o, gap) for x in objects if x is not o)]
    loose.sort(key=lambda o: o.box.aabb()[0][2])
    out: list[Support] = []
    i = 0
    while i < len(loose):
        z0 = loose[i].box.aabb()[0][2]
        j = i
        while j < len(loose) and loose[j].box.aabb()[0][2] - z0 <= gap / 2:
            j += 1
        group = loose[i:j]
        if len(group) >= least:
            h = float(np.median([o.box.aabb()[0][2] for o in group]))
            lo = np.min([o.box.aabb()[0][:2] for o in group], axis=0)
            hi = np.max([o.box.aabb()[1][:2] for o in group], axis=0)
            size = hi - lo
            turn = np.eye(3) if size[0] >= size[1] else \
                np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
            out.append(Support(id=first_id + len(out), height=h, box=OrientedBox(
                center=[(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, h],
                size=[size.max(), size.min(), 0.0], rotation=turn), point_count=0,
                large=False))
            for o in group:
                o.support_id = out[-1].id
        i = j
    return out


def name_floor(supports: list[Support]) -> None:
    """Call the lowest large support the floor where another large one lies ``FLOOR_DROP``
    or more above it (a table over the floor, a shelf's boards over the room's floor); every
    other support is a surface."""
    large = sorted((s for s in supports if s.large), key=lambda s: s.height)
    for s in supports:
        s.kind = Support.KIND_SURFACE
    if len(large) >= 2 and large[-1].height - large[0].height >= FLOOR_DROP:
        large[0].kind = Support.KIND_FLOOR


def main_surface(graph: SceneGraph) -> Support | None:
    """The support a person means by "the table" (or "the shelf"): of the supports that are
    not the floor, the one most objects rest on (ties: the larger, then the higher); None
    where the graph has no such support."""
    pool = [s for s in graph.supports if s.kind != Support.KIND_FLOOR]
    if not pool:
        return None
    counts = {s.id: 0 for s in pool}
    for o in graph.objects:
        if o.support_id in counts:
            counts[o.support_id] += 1
    return max(pool, key=lambda s: (counts[s.id], s.large, s.area, s.height))


@dataclass
class SceneGraph:
    """Objects and relations of one frame, in frame ``frame_id`` at time ``stamp`` (seconds)."""

    objects: list[SceneObject] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    stamp: float = 0.0
    frame_id: str = ""
    gravity_source: str = ""  # where up came from (see msg/SceneGraph.msg)
    #: world pose of the camera's optical frame the graph was built with (None: not known)
    camera_pose: Pose | None = None
    #: world heights of the horizontal support surfaces seen (a table, the floor)
    support_heights: list[float] = field(default_factory=list)
    #: the support surfaces seen, with their extents (objects' ``support_id`` name them)
    supports: list[Support] = field(default_factory=list)

    def object(self, object_id: int) -> SceneObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"no object with id {object_id} in the scene graph")

    def support(self, support_id: int) -> Support:
        for sup in self.supports:
            if sup.id == support_id:
                return sup
        raise KeyError(f"no support with id {support_id} in the scene graph")
