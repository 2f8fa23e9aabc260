"""Relation goals -> target poses (ROS-free): "place the red cube left of the blue box".

Candidate placements are sampled on the support surface (the surface the reference object
stands on, or the reference's top for on_top_of), keeping the object's orientation; "on the
table" (or the floor, a shelf, ...) samples over that support's extent (``place_on_support``).
A candidate is kept when the relation holds with ``margin`` under the project's predicate
definitions (spatial_ros.relations) and the object's box, grown by ``clearance``, overlaps no
other object's box. Sensed boxes are off by a centimetre or two, so a kept candidate's *slack*
counts: how far beyond the required margin the relation holds and how far beyond the clearance
the nearest other box is. The candidate nearest the reference among those with at least
``slack`` to spare wins (the most slack where none has that much). Goals that cannot be met are
refused with the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from spatial_ros.errors import SpatialRosError
from spatial_ros.geometry import Pose
from spatial_ros.language import (
    QuestionError,
    _normalise,
    named_support,
    parse_predicate,
    resolve,
)
from spatial_ros.relations import Body, RelationConfig, pair_margins
from spatial_ros.scene import OrientedBox, SceneGraph
from spatial_ros.vocabulary import DIRECTIONAL, Frame

__all__ = ["PlacementError", "Placement", "place_relative", "place_on_support", "parse_goal",
           "PLACEABLE"]

PLACEABLE = ("left_of", "right_of", "in_front_of", "behind", "near", "on_top_of", "inside",
             "above")


class PlacementError(SpatialRosError):
    """A goal that cannot be met; the message says why."""


@dataclass
class Placement:
    object_id: int
    reference_id: int
    predicate: str
    frame: Frame
    pose: Pose  # target pose of the object's box centre (world)
    box: OrientedBox
    margin: float  # the relation's margin at the target (m)
    candidates: int  # samples tried
    valid: int  # samples that met the relation and collided with nothing
    support_id: int = 0  # the support it is placed on (place_on_support; reference_id 0)


def parse_goal(goal: str) -> tuple[str, str, str, Frame]:
    """'place|put|move <object> <predicate> <reference>' -> (object, predicate, reference,
    frame); 'in the world frame' anywhere selects the allocentric frame."""
    g = _normalise(goal)
    frame = Frame.EGOCENTRIC
    if "in the world frame" in g:
        frame = Frame.ALLOCENTRIC
        g = re.sub(r"\s*,?\s*in the world frame\s*,?\s*", " ", g).strip()
    m = re.fullmatch(r"(?:place|put|move|set) (.+)", g)
    if not m:
        raise PlacementError(f"cannot parse goal {goal.strip()!r}; expected 'place <object> "
                             "<relation> <object>', e.g. 'place the red cube left of the blue "
                             "box'")
    words = m.group(1).split()
    for k in range(1, len(words)):
        pred = parse_predicate(" ".join(words[k:]))
        if pred is not None and pred[1]:
            return " ".join(words[:k]), pred[0], pred[1], frame
    raise PlacementError(f"no relation found in goal {goal.strip()!r}")


def _gap(box: OrientedBox, others: list[OrientedBox]) -> float:
    """How far ``box``'s axis-aligned bounds stand apart from the nearest of ``others``', along
    the axis that separates them most (negative: they overlap); inf without others."""
    lo, hi = box.aabb()
    gap = np.inf
    for other in others:
        olo, ohi = other.aabb()
        gap = min(gap, float(np.maximum(olo - hi, lo - ohi).max()))
    return gap


class MotionMonitor:
    """Speeds of the graph's objects, from their centroids over successive graphs.

    ``update`` with every graph; ``speed(id)`` is the centroid displacement over the last
    ``window`` seconds of observations divided by their time span (None until an object has
    been seen over at least ``min_span`` s). Ids that vanish are forgotten after ``window``.
    """

    def __init__(self, window: float = 1.0, min_span: float = 0.3) -> None:
        self.window, self.min_span = window, min_span
        self._seen: dict[int, list[tuple[float, np.ndarray]]] = {}

    def update(self, graph: SceneGraph) -> None:
        for o in graph.objects:
            hist = self._seen.setdefault(o.id, [])
            if hist and o.last_seen < hist[-1][0]:  # time went back (a bag looped): restart
                hist.clear()
            if not hist or o.last_seen > hist[-1][0]:
                hist.append((o.last_seen, o.centroid.copy()))
            while hist and hist[-1][0] - hist[0][0] > self.window:
                hist.pop(0)
        for i in [i for i, h in self._seen.items() if graph.stamp - h[-1][0] > self.window]:
            del self._seen[i]

    def speed(self, object_id: int) -> float | None:
        hist = self._seen.get(object_id, [])
        if len(hist) < 2 or hist[-1][0] - hist[0][0] < self.min_span:
            return None
        return float(np.linalg.norm(hist[-1][1] - hist[0][1]) / (hist[-1][0] - hist[0][0]))


def _resolve(graph: SceneGraph, ref: str | int, frame: Frame, camera_pose: Pose):
    """The object ``ref`` names (an id, or words the language resolves); PlacementError with
    the reason where it names none or several."""
    try:
        return graph.object(ref) if isinstance(ref, int) else \
            resolve(graph, ref, frame, camera=camera_pose)
    except (QuestionError, KeyError) as exc:
        raise PlacementError(str(exc).strip('"')) from None


def _raised(box: OrientedBox, dz: float) -> OrientedBox:
    """``box`` moved ``dz`` (m) up."""
    return OrientedBox(center=box.center + [0.0, 0.0, dz], size=box.size, rotation=box.rotation)


def _check_object(graph: SceneGraph, o, max_age: float, motion, max_speed: float) -> None:
    """Refuse a goal naming an object unseen for ``max_age`` or moving over ``max_speed``."""
    if graph.stamp - o.last_seen > max_age:
        raise PlacementError(f"{o.description} has not been seen for "
                             f"{graph.stamp - o.last_seen:.1f} s; look at it first")
    speed = motion.speed(o.id) if motion is not None else None
    if speed is not None and speed > max_speed:
        raise PlacementError(f"{o.description} is moving ({speed:.2f} m/s, limit "
                             f"{max_speed:.2f}); wait until it stops")


def place_on_support(graph: SceneGraph, obj: str | int, word: str, *, camera_pose: Pose,
                     frame: Frame = Frame.EGOCENTRIC, clearance: float = 0.01,
                     samples: int = 600, slack: float = 0.03, release: float = 0.01,
                     edge: float = 0.03, max_age: float = 2.0, seed: int = 0,
                     motion: MotionMonitor | None = None, max_speed: float = 0.05
                     ) -> Placement:
    """A collision-free target pose for ``obj`` on the support ``word`` names ("table",
    "floor", ...; language.named_support): its box wholly over the support's extent, ``edge``
    (m) in from its sides, resting on it (``release`` above), clear of every other object by
    ``clearance``. Of the places with ``slack`` room to spare, the nearest to where the object
    is (the least travel); the roomiest where none has that much."""
    a = _resolve(graph, obj, frame, camera_pose)
    try:
        sup = named_support(graph, word)
    except QuestionError as exc:
        raise PlacementError(str(exc)) from None
    _check_object(graph, a, max_age, motion, max_speed)
    lo, hi = a.box.aabb()
    half_xy = (hi[:2] - lo[:2]) / 2
    room_xy = sup.box.size[:2] / 2 - edge - float(np.max(half_xy))
    if np.any(room_xy <= 0):
        raise PlacementError(f"{a.description} does not fit on the {word} "
                             f"({sup.box.size[0]:.2f} x {sup.box.size[1]:.2f} m seen)")
    rng = np.random.default_rng(seed)
    local = rng.uniform(-room_xy, room_xy, (samples, 2))
    xy = sup.box.center[:2] + local @ sup.box.rotation[:2, :2].T
    z = sup.height + a.box.size[2] / 2
    others = [o.box for o in graph.objects if o.id != a.id]
    best, valid = None, 0
    for (x, y), (u, v) in zip(xy, local):
        box = OrientedBox(center=[x, y, z], size=a.box.size, rotation=a.box.rotation)
        room = _gap(box, others)
        if room <= clearance:
            continue
        valid += 1
        spare = min(room - clearance, slack)
        dist = float(np.linalg.norm(np.array([x, y]) - a.box.center[:2]))
        if best is None or (-spare, dist) < (-best[2], best[0]):
            # how far inside the support's seen extent the box lies (m)
            inside = edge + float(np.min(room_xy - np.abs([u, v])))
            best = (dist, box, spare, inside)
    if best is None:
        raise PlacementError(f"no collision-free place on the {word} for {a.description} "
                             f"(tried {samples})")
    _d, box, _spare, inside = best
    box = _raised(box, release)
    return Placement(object_id=a.id, reference_id=0, predicate="on_top_of", frame=frame,
                     pose=Pose(rotation=box.rotation, translation=box.center), box=box,
                     margin=inside, candidates=samples, valid=valid, support_id=sup.id)


def place_relative(graph: SceneGraph, obj: str | int, predicate: str, ref: str | int, *,
                   camera_pose: Pose, frame: Frame = Frame.EGOCENTRIC, margin: float = 0.02,
                   clearance: float = 0.01, radius: float = 0.4, samples: int = 600,
                   slack: float = 0.03, release: float = 0.01,
                   max_age: float = 2.0, seed: int = 0, motion: MotionMonitor | None = None,
                   max_speed: float = 0.05) -> Placement:
    """A collision-free target pose for ``obj`` so that ``obj predicate ref`` holds.

    With ``motion``, a goal naming an object that moves faster than ``max_speed`` (m/s) is
    refused: a pose computed against a moving object is stale before it is reached.

    ``release``: for on_top_of, the pose holds the object this far (m) above where it would rest
    on the reference's sensed top, and the relation is checked where it comes to rest: sensed
    heights are a centimetre off (a sphere's fit under D435 noise reads 1 cm small), and an
    object lowered to a top that lies higher than sensed is pushed into it.
    """
    if predicate not in PLACEABLE:
        raise PlacementError(f"cannot place an object so that it is {predicate!r} another; "
                             f"placeable relations: {', '.join(PLACEABLE)}")
    a, b = (_resolve(graph, r, frame, camera_pose) for r in (obj, ref))
    if a.id == b.id:
        raise PlacementError(f"cannot place {a.description} relative to itself")
    for o in (a, b):
        _check_object(graph, o, max_age, motion, max_speed)
    config = RelationConfig()
    others = [o.box for o in graph.objects if o.id not in (a.id, b.id)]
    blo, bhi = b.box.aabb()
    half = a.box.size[2] / 2
    rng = np.random.default_rng(seed)
    if predicate in ("on_top_of", "above"):
        z = bhi[2] + half + (0.0 if predicate == "on_top_of" else 0.05)
        xy = rng.uniform(blo[:2], bhi[:2], (samples, 2))
    elif predicate == "inside":
        z = blo[2] + half + 0.01
        xy = rng.uniform(blo[:2], bhi[:2], (samples, 2))
    else:
        z = blo[2] + half  # on the surface the reference stands on
        xy = b.box.center[:2] + rng.uniform(-radius, radius, (samples, 2))
    best, valid = None, 0
    check = frame if predicate in DIRECTIONAL else Frame.ALLOCENTRIC
    required = margin if predicate != "inside" else 0.0
    for x, y in xy:
        box = OrientedBox(center=[x, y, z], size=a.box.size, rotation=a.box.rotation)
        # resting on the reference is contact, not collision: check that one from just above
        lifted = _raised(box, clearance + 1e-3)
        room = _gap(box, others)
        if predicate != "inside":
            room = min(room, _gap(lifted if predicate == "on_top_of" else box, [b.box]))
        if room <= clearance:
            continue
        margins = pair_margins(Body.from_box(a.id, box, camera_pose),
                               Body.from_box(b.id, b.box, camera_pose), config, (check,))
        m = margins[(predicate, check)][0]
        if m < required:
            continue
        valid += 1
        spare = min(m - required, room - clearance, slack)
        dist = float(np.linalg.norm(np.array([x, y]) - b.box.center[:2]))
        if best is None or (-spare, dist) < (-best[3], best[0]):
            best = (dist, box, m, spare)
    if best is None:
        raise PlacementError(f"no collision-free place puts {a.description} "
                             f"{predicate.replace('_', ' ')} {b.description} (tried {samples} "
                             f"places within {radius:.2f} m)")
    _d, box, m, _spare = best
    if predicate == "on_top_of" and release > 0:
        box = _raised(box, release)
    return Placement(object_id=a.id, reference_id=b.id, predicate=predicate, frame=frame,
                     pose=Pose(rotation=box.rotation, translation=box.center), box=box,
                     margin=m, candidates=samples, valid=valid)
