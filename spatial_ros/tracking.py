"""Multi-object tracking in the world frame (ROS-free): stable ids across frames.

Detections arrive in the world frame (the camera pose is applied before), so a moving camera
needs nothing special. Association is greedy on a cost that mixes centroid distance (relative to
the object's size), 3D box overlap and colour; a pair is only allowed inside a gate that grows
with the time since the track was last seen (``max_speed``). Matched tracks smooth their
position and box exponentially (``smoothing``), jumping straight to the measurement when it moved
more than ``move_threshold`` (an object picked up and put elsewhere). Unmatched detections start
new tracks; tracks unseen for ``forget_after`` seconds are dropped, so objects that leave the view
stay in the graph for that long.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.perception import Detection
from spatial_ros.scene import GENERIC_NOUN, OrientedBox, SceneObject

__all__ = ["TrackerConfig", "Track", "Tracker", "aabb_iou", "blend_boxes"]


@dataclass(frozen=True)
class TrackerConfig:
    gate: float = 0.08  #: metres a still object's centroid may differ between frames
    max_speed: float = 1.0  #: m/s an object may move while unseen (widens the gate)
    size_gate: float = 0.5  #: plus this share of the object's size
    smoothing: float = 0.5  #: weight of the new measurement (1 = no smoothing)
    move_threshold: float = 0.05  #: a jump larger than this is taken as is (no smoothing)
    color_penalty: float = 1.0  #: cost added when the colour names differ
    label_penalty: float = 1.0  #: ... and when a detector named both, differently
    forget_after: float = 5.0  #: seconds a track is kept after its object was last seen
    min_hits: int = 1  #: frames a track must be seen before it is reported


def _yaw(rotation: np.ndarray) -> float:
    return math.atan2(rotation[1, 0], rotation[0, 0])


def blend_boxes(old: OrientedBox, new: OrientedBox, weight: float) -> OrientedBox:
    """``(1 - weight) * old + weight * new`` for gravity-aligned boxes.

    A box's yaw is only defined modulo 90 degrees (its x and y axes may swap between frames), so
    the new box is first expressed with the axes closest to the old one's.
    """
    delta = _yaw(new.rotation) - _yaw(old.rotation)
    quarter = round(delta / (math.pi / 2))
    delta -= quarter * math.pi / 2
    size = new.size[[1, 0, 2]] if quarter % 2 else new.size
    yaw = _yaw(old.rotation) + weight * delta
    c, s = math.cos(yaw), math.sin(yaw)
    return OrientedBox(center=(1 - weight) * old.center + weight * new.center,
                       size=(1 - weight) * old.size + weight * size,
                       rotation=np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))


def aabb_iou(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    inter = np.prod(np.clip(np.minimum(a[1], b[1]) - np.maximum(a[0], b[0]), 0.0, None))
    union = np.prod(a[1] - a[0]) + np.prod(b[1] - b[0]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    id: int
    centroid: np.ndarray
    box: OrientedBox
    color: str
    shape: str
    first_seen: float
    last_seen: float
    hits: int = 1
    point_count: int = 0
    bbox2d: tuple[int, int, int, int] = (0, 0, 0, 0)
    instance: int = 0
    label: str = ""  # an upstream detector's class name ("" = none: the shape names it)
    shape_votes: dict[str, int] = field(default_factory=dict)
    fit_votes: dict[str, int] = field(default_factory=dict)  # frames whose fit held, per shape

    @property
    def noun(self) -> str:
        """Its shape word where at least half the frames that named it so had a fit that
        supports it (spatial_ros.perception.shapes.shape_fits), else the generic noun."""
        if self.shape == "unknown":
            return self.shape
        fits = 2 * self.fit_votes.get(self.shape, 0) >= self.shape_votes.get(self.shape, 0)
        return self.shape if fits else GENERIC_NOUN

    def vote(self, d: Detection) -> None:
        """Count ``d``'s shape (and whether its fit held); the track's shape is the most voted."""
        self.shape_votes[d.shape] = self.shape_votes.get(d.shape, 0) + 1
        self.fit_votes[d.shape] = self.fit_votes.get(d.shape, 0) + int(d.shape_fits)
        known = {k: v for k, v in self.shape_votes.items() if k != "unknown"}
        self.shape = max(known, key=known.get) if known else "unknown"

    def to_object(self, now: float) -> SceneObject:
        conf = min(1.0, self.hits / 5.0) * (1.0 if self.last_seen >= now else 0.8)
        return SceneObject(id=self.id, centroid=self.centroid.copy(), box=self.box,
                           label=self.label or self.noun, color=self.color, confidence=conf,
                           bbox2d=self.bbox2d, point_count=self.point_count,
                           last_seen=self.last_seen)


class Tracker:
    """Keeps objects and their ids across frames."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1
        self.last_stamp = -np.inf


    def reset(self) -> None:
        """Forget every track; the next new track gets id 1 again."""
        self.tracks.clear()
        self._next_id = 1
    def _cost(self, t: Track, d: Detection, now: float) -> float:
        c = self.config
        dist = float(np.linalg.norm(t.centroid - d.centroid))
        size = float(max(np.max(t.box.size), np.max(d.box.size)))
        gate = c.gate + c.size_gate * size + c.max_speed * max(now - t.last_seen, 0.0)
        if dist > gate:
            return np.inf
        cost = dist / gate + (1.0 - aabb_iou(t.box.aabb(), d.box.aabb()))
        if t.color != d.color:
            cost += c.color_penalty
        if t.label and d.label and t.label != d.label:
            cost += c.label_penalty
        return cost

    def update(self, detections: list[Detection], now: float) -> list[tuple[Track, Detection]]:
        """Associate ``detections`` (taken at time ``now``, seconds) with the tracks.

        Returns the (track, detection) pairs, new tracks included.
        """
        c = self.config
        self.last_stamp = now
        pairs = sorted(((self._cost(t, d, now), ti, di)
                        for ti, t in enumerate(self.tracks) for di, d in enumerate(detections)),
                       key=lambda x: x[0])
        used_t, used_d = set(), set()
        out: list[tuple[Track, Detection]] = []
        for cost, ti, di in pairs:
            if not np.isfinite(cost) or ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t, d = self.tracks[ti], detections[di]
            self._absorb(t, d, now)
            out.append((t, d))
        for di, d in enumerate(detections):
            if di in used_d:
                continue
            t = Track(id=self._next_id, centroid=d.centroid.copy(), box=d.box, color=d.color,
                      shape=d.shape, first_seen=now, last_seen=now, point_count=d.point_count,
                      bbox2d=d.bbox2d, instance=d.instance, label=d.label)
            t.vote(d)
            self._next_id += 1
            self.tracks.append(t)
            out.append((t, d))
        self.tracks = [t for t in self.tracks if now - t.last_seen <= c.forget_after]
        return out

    def _absorb(self, t: Track, d: Detection, now: float) -> None:
        c = self.config
        moved = float(np.linalg.norm(t.centroid - d.centroid)) > c.move_threshold
        a = 1.0 if moved else c.smoothing
        t.vote(d)
        t.centroid = (1 - a) * t.centroid + a * d.centroid
        # the amodal box of the shape the track has settled on, where this frame supports it
        t.box = blend_boxes(t.box, d.boxes.get(t.shape, d.box), a)
        t.color = d.color
        t.last_seen = now
        t.hits += 1
        t.point_count = d.point_count
        t.bbox2d = d.bbox2d
        t.instance = d.instance
        t.label = d.label or t.label  # a frame without the detector's name keeps the last one

    def objects(self, now: float) -> list[SceneObject]:
        """The tracked objects to report at ``now``."""
        return [t.to_object(now) for t in self.tracks if t.hits >= self.config.min_hits]
