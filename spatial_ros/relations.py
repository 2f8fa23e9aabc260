"""The single definition of every spatial predicate, with graded confidences (ROS-free).

Every predicate is a signed *margin* in metres (positive: it holds) and a *scale*; the
confidence is ``sigmoid(margin / scale)``, never a bare 0/1. The scale grows with the objects'
size and with the expected depth noise at their range, so far, noisy objects give softer
confidences. Ground truth applies the same margins to exact boxes (truth = margin > 0); the
scene-graph node applies them to sensed boxes.

Frames:
    EGOCENTRIC: camera optical frame (x right, y down, z forward): left/right along x,
        above/below along -y (image up), in_front_of/behind along z (closer = in front).
    ALLOCENTRIC: world frame (x forward, y left, z up): left/right along y, above/below along z,
        in_front_of/behind along x (further along +x = in front).
    GRAVITY_ALIGNED: the camera's position and yaw with the world's up: left/right across the
        viewing direction, above/below along world z, in_front_of/behind along the horizontal
        viewing direction (closer = in front).
Frame-free predicates (near, far_from, on_top_of, under, inside, contains, larger_than,
smaller_than) are reported once, with frame ALLOCENTRIC; occludes is EGOCENTRIC.

Directional rule, for "a is before b along an axis": a's centre lies before b's near face
and a's far face lies before b's centre: ``margin = min(b.lo - a.c, b.c - a.hi)``. Overlapping
objects are therefore neither left nor right of each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.scene import OrientedBox, Relation
from spatial_ros.vocabulary import Frame, Source

__all__ = ["RelationConfig", "Body", "pair_margins", "compute_relations", "sigmoid",
           "viewer_relation"]

_DIRECTIONAL_AXES = {  # predicate -> (axis index, sign): a before b along sign * axis
    Frame.EGOCENTRIC: {"left_of": (0, 1), "right_of": (0, -1), "above": (1, 1),
                       "below": (1, -1), "in_front_of": (2, 1), "behind": (2, -1)},
    Frame.ALLOCENTRIC: {"left_of": (1, -1), "right_of": (1, 1), "above": (2, -1),
                        "below": (2, 1), "in_front_of": (0, -1), "behind": (0, 1)},
    Frame.GRAVITY_ALIGNED: {"left_of": (1, -1), "right_of": (1, 1), "above": (2, -1),
                            "below": (2, 1), "in_front_of": (0, 1), "behind": (0, -1)},
}


@dataclass(frozen=True)
class RelationConfig:
    """Thresholds of the predicates (all in metres unless stated)."""

    near_distance: float = 0.10  #: surface gap under which objects are near (+ half mean size)
    far_distance: float = 1.0  #: surface gap over which objects are far from each other
    contact_tolerance: float = 0.02  #: |vertical gap| for on_top_of
    inside_fraction: float = 0.8  #: share of a's box inside b's box for inside
    size_ratio: float = 1.3  #: volume ratio for larger_than
    occlusion_fraction: float = 0.05  #: share of b's silhouette hidden by a for occludes
    min_confidence: float = 0.5  #: relations below this are not reported
    noise_quadratic: float = 0.0  #: expected depth noise sigma = noise_quadratic * z^2


#: Confidences are kept inside (0, 1): a measured relation is never certain (nor impossible),
#: and float32 messages would otherwise round large margins to exactly 1.
CONFIDENCE_FLOOR = 1e-3


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


@dataclass
class Body:
    """An object's geometry as the relation engine sees it.

    Built from a world box and the camera pose; ``range_m`` is its distance from the camera.
    """

    id: int
    box: OrientedBox  # world frame
    lo: dict[Frame, np.ndarray]
    hi: dict[Frame, np.ndarray]
    range_m: float

    @classmethod
    def from_box(cls, object_id: int, box: OrientedBox, camera: Pose) -> Body:
        corners = box.corners()
        cam_inv = camera.inverse()
        # Gravity-aligned frame: camera position, heading of the optical axis projected on the
        # ground, world z up (x forward, y left).
        fwd = camera.rotation[:, 2].copy()
        fwd[2] = 0.0
        fwd = fwd / np.linalg.norm(fwd) if np.linalg.norm(fwd) > 1e-9 else np.array([1., 0, 0])
        grav = Pose(rotation=np.stack([fwd, np.cross([0, 0, 1.0], fwd), [0, 0, 1.0]], axis=1),
                    translation=camera.translation)
        frames = {Frame.ALLOCENTRIC: corners, Frame.EGOCENTRIC: cam_inv.apply(corners),
                  Frame.GRAVITY_ALIGNED: grav.inverse().apply(corners)}
        lo = {f: c.min(axis=0) for f, c in frames.items()}
        hi = {f: c.max(axis=0) for f, c in frames.items()}
        rng = float(np.linalg.norm(box.center - camera.translation))
        return cls(id=object_id, box=box, lo=lo, hi=hi, range_m=rng)

    def __post_init__(self) -> None:
        # plain-float copies: the per-pair margins run on scalars, where numpy is slow
        self.lo_f = {f: tuple(float(x) for x in v) for f, v in self.lo.items()}
        self.hi_f = {f: tuple(float(x) for x in v) for f, v in self.hi.items()}
        w = Frame.ALLOCENTRIC
        self.size_f = max(self.hi_f[w][i] - self.lo_f[w][i] for i in range(3))
        self.volume = self.box.volume

    def centre(self, frame: Frame) -> np.ndarray:
        return (self.lo[frame] + self.hi[frame]) / 2.0

    @property
    def size(self) -> float:
        return self.size_f


def _before(a: Body, b: Body, frame: Frame, axis: int, sign: int) -> float:
    """Margin of 'a before b' along sign * axis."""
    alo, ahi = sign * a.lo_f[frame][axis], sign * a.hi_f[frame][axis]
    blo, bhi = sign * b.lo_f[frame][axis], sign * b.hi_f[frame][axis]
    if sign < 0:
        alo, ahi, blo, bhi = ahi, alo, bhi, blo
    ac, bc = (alo + ahi) / 2, (blo + bhi) / 2
    return float(min(blo - ac, bc - ahi))


def _gap(a: Body, b: Body) -> float:
    f = Frame.ALLOCENTRIC
    alo, ahi, blo, bhi = a.lo_f[f], a.hi_f[f], b.lo_f[f], b.hi_f[f]
    return math.sqrt(sum(max(0.0, alo[i] - bhi[i], blo[i] - ahi[i]) ** 2 for i in range(3)))


def pair_margins(a: Body, b: Body, config: RelationConfig,
                 frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                 occlusion: float | None = None) -> dict[tuple[str, Frame], tuple[float, float]]:
    """Signed margin and scale of every predicate for the ordered pair (a, b).

    Args:
        occlusion: share of b's silhouette that a hides (from a render or a mask); None leaves
            occludes out.
    """
    noise = config.noise_quadratic * max(a.range_m, b.range_m) ** 2
    mean = (a.size + b.size) / 2.0
    out: dict[tuple[str, Frame], tuple[float, float]] = {}
    for frame in frames:
        for pred, (axis, sign) in _DIRECTIONAL_AXES[frame].items():
            out[(pred, frame)] = (_before(a, b, frame, axis, sign), 0.1 * mean + 0.005 + noise)
    w = Frame.ALLOCENTRIC
    gap = _gap(a, b)
    out[("near", w)] = (config.near_distance + 0.5 * mean - gap, 0.02 + noise)
    out[("far_from", w)] = (gap - config.far_distance, 0.05 + noise)
    alo, ahi, blo, bhi = a.lo_f[w], a.hi_f[w], b.lo_f[w], b.hi_f[w]
    ac = [(alo[i] + ahi[i]) / 2 for i in range(3)]
    bc = [(blo[i] + bhi[i]) / 2 for i in range(3)]
    support = min(ac[0] - blo[0], bhi[0] - ac[0], ac[1] - blo[1], bhi[1] - ac[1])
    contact = config.contact_tolerance - abs(alo[2] - bhi[2])
    out[("on_top_of", w)] = (min(contact, support), 0.005 + noise)
    support_b = min(bc[0] - alo[0], ahi[0] - bc[0], bc[1] - alo[1], ahi[1] - bc[1])
    out[("under", w)] = (min(config.contact_tolerance - abs(blo[2] - ahi[2]), support_b),
                         0.005 + noise)
    inter = math.prod(max(0.0, min(ahi[i], bhi[i]) - max(alo[i], blo[i])) for i in range(3))
    vol_a = math.prod(ahi[i] - alo[i] for i in range(3))
    vol_b = math.prod(bhi[i] - blo[i] for i in range(3))
    inside_a = inter / max(vol_a, 1e-12)
    inside_b = inter / max(vol_b, 1e-12)
    out[("inside", w)] = ((inside_a - config.inside_fraction) * mean if vol_a < vol_b
                          else -mean, 0.02 * mean + noise)
    out[("contains", w)] = ((inside_b - config.inside_fraction) * mean if vol_b < vol_a
                            else -mean, 0.02 * mean + noise)
    ratio = math.log(max(a.volume, 1e-12) / max(b.volume, 1e-12))
    out[("larger_than", w)] = (ratio - math.log(config.size_ratio), 0.1)
    out[("smaller_than", w)] = (-ratio - math.log(config.size_ratio), 0.1)
    if occlusion is not None:
        out[("occludes", Frame.EGOCENTRIC)] = (occlusion - config.occlusion_fraction, 0.02)
    return out


def compute_relations(bodies: list[Body], config: RelationConfig, *,
                      frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                      occlusion: dict[tuple[int, int], float] | None = None,
                      source: Source = Source.GEOMETRY, report_all: bool = False
                      ) -> list[Relation]:
    """Relations of every ordered pair, with confidence >= config.min_confidence (or all)."""
    rels: list[Relation] = []
    for a in bodies:
        for b in bodies:
            if a.id == b.id:
                continue
            occ = None if occlusion is None else occlusion.get((a.id, b.id), 0.0)
            dist = math.dist(a.box.center, b.box.center)
            for (pred, frame), (margin, scale) in pair_margins(a, b, config, frames,
                                                               occ).items():
                conf = min(max(sigmoid(margin / scale), CONFIDENCE_FLOOR),
                           1.0 - CONFIDENCE_FLOOR)
                if report_all or conf >= config.min_confidence:
                    rels.append(Relation(subject=a.id, predicate=pred, object=b.id,
                                         confidence=conf, distance=dist, frame=frame,
                                         source=source))
    return rels


def viewer_relation(viewer, a, b, predicate: str, config: RelationConfig | None = None) -> bool:
    """Whether ``a predicate b`` holds for someone standing at ``viewer`` and facing ``b``
    (objects with a ``box``): the gravity-aligned frame of that viewer, the same definitions."""
    eye = viewer.box.center
    forward = b.box.center - eye
    forward[2] = 0.0  # facing horizontally
    norm = np.linalg.norm(forward)
    if norm < 1e-6:
        return False
    forward /= norm
    right = np.cross(forward, [0.0, 0.0, 1.0])
    pose = Pose(rotation=np.stack([right, np.cross(forward, right), forward], axis=1),
                translation=eye)
    ba, bb = Body.from_box(a.id, a.box, pose), Body.from_box(b.id, b.box, pose)
    margins = pair_margins(ba, bb, config or RelationConfig(), (Frame.GRAVITY_ALIGNED,))
    return margins[(predicate, Frame.GRAVITY_ALIGNED)][0] > 0
