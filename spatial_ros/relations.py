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
from spatial_ros.vocabulary import DIRECTIONAL, Frame, Source

__all__ = ["RelationConfig", "DEPTH_NOISE_QUADRATIC", "depth_noise", "needs_gravity",
           "GRAVITY_PREDICATES", "Body", "margin_table",
           "pair_margins", "confidences",
           "compute_relations", "sigmoid", "viewer_relation"]

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


#: Expected depth noise of each camera model, sigma = noise_quadratic * z^2 (m): what a
#: ``depth_noise_model`` parameter names. The simulator's sensor presets (spatial_ros.sim.sensors)
#: use the same figures.
DEPTH_NOISE_QUADRATIC: dict[str, float] = {
    "ideal": 0.0,
    "realsense_d435": 0.08 / (383.0 * 0.050),  # 0.08 px disparity, 383 px focal, 50 mm baseline
    "kinect": 0.0019,
}


#: predicates whose meaning rests on which way is up whatever the frame (support, containment)
GRAVITY_PREDICATES = frozenset({"on_top_of", "under", "inside", "contains"})


def needs_gravity(predicate: str, frame: Frame) -> bool:
    """Whether ``predicate`` in ``frame`` needs to know which way is up: support and
    containment, and the directions of the world (allocentric) and gravity-aligned frames. The
    camera's own directions (egocentric), distances, sizes and occlusion do not."""
    if predicate in GRAVITY_PREDICATES:
        return True
    return predicate in DIRECTIONAL and frame != Frame.EGOCENTRIC


def depth_noise(model: str) -> float:
    """``noise_quadratic`` of the camera model ``model`` (a key of DEPTH_NOISE_QUADRATIC)."""
    if model not in DEPTH_NOISE_QUADRATIC:
        raise ValueError(f"depth_noise_model {model!r}: expected one of "
                         f"{', '.join(DEPTH_NOISE_QUADRATIC)}")
    return DEPTH_NOISE_QUADRATIC[model]


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

    def centre(self, frame: Frame) -> np.ndarray:
        return (self.lo[frame] + self.hi[frame]) / 2.0

    @property
    def size(self) -> float:
        w = Frame.ALLOCENTRIC
        return float(np.max(self.hi[w] - self.lo[w]))


def _before(lo: np.ndarray, hi: np.ndarray, axis: int, sign: int) -> np.ndarray:
    """(n, n) margins of 'a before b' along sign * axis, a indexing rows and b columns."""
    lo, hi = lo[:, axis], hi[:, axis]
    c = (lo + hi) / 2
    if sign > 0:  # min(b.lo - a.c, b.c - a.hi)
        return np.minimum(lo[None, :] - c[:, None], c[None, :] - hi[:, None])
    return np.minimum(c[:, None] - hi[None, :], lo[:, None] - c[None, :])


def margin_table(bodies: list[Body], config: RelationConfig,
                 frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                 occlusion: np.ndarray | None = None
                 ) -> tuple[list[tuple[str, Frame]], np.ndarray, np.ndarray]:
    """Signed margin and scale of every predicate for every ordered pair of ``bodies``.

    Returns the (predicate, frame) keys and two (K, n, n) arrays, margins and scales, where
    entry [k, i, j] is predicate k for subject i and object j (the diagonal means nothing).

    Args:
        occlusion: (n, n) share of j's silhouette that i hides (from a render or a mask); None
            leaves occludes out.
    """
    n = len(bodies)
    w = Frame.ALLOCENTRIC
    lo = {f: np.array([b.lo[f] for b in bodies], float).reshape(n, 3) for f in (*frames, w)}
    hi = {f: np.array([b.hi[f] for b in bodies], float).reshape(n, 3) for f in (*frames, w)}
    rng = np.array([b.range_m for b in bodies], float)
    size = (hi[w] - lo[w]).max(axis=1) if n else np.zeros(0)
    volume = np.array([b.box.volume for b in bodies], float)
    noise = config.noise_quadratic * np.maximum(rng[:, None], rng[None, :]) ** 2
    mean = (size[:, None] + size[None, :]) / 2.0
    keys: list[tuple[str, Frame]] = []
    margins: list[np.ndarray] = []
    scales: list[np.ndarray] = []

    def put(key: tuple[str, Frame], margin: np.ndarray, scale) -> None:
        keys.append(key)
        margins.append(margin)
        scales.append(np.broadcast_to(scale, (n, n)))

    for frame in frames:
        for pred, (axis, sign) in _DIRECTIONAL_AXES[frame].items():
            put((pred, frame), _before(lo[frame], hi[frame], axis, sign),
                0.1 * mean + 0.005 + noise)
    alo, ahi = lo[w][:, None, :], hi[w][:, None, :]  # subject along rows
    blo, bhi = lo[w][None, :, :], hi[w][None, :, :]  # object along columns
    gap = np.sqrt((np.maximum(np.maximum(alo - bhi, blo - ahi), 0.0) ** 2).sum(axis=2))
    put(("near", w), config.near_distance + 0.5 * mean - gap, 0.02 + noise)
    put(("far_from", w), gap - config.far_distance, 0.05 + noise)
    ac, bc = (alo + ahi) / 2, (blo + bhi) / 2
    support = np.minimum(np.minimum(ac[..., 0] - blo[..., 0], bhi[..., 0] - ac[..., 0]),
                         np.minimum(ac[..., 1] - blo[..., 1], bhi[..., 1] - ac[..., 1]))
    contact = config.contact_tolerance - np.abs(alo[..., 2] - bhi[..., 2])
    put(("on_top_of", w), np.minimum(contact, support), 0.005 + noise)
    support_b = np.minimum(np.minimum(bc[..., 0] - alo[..., 0], ahi[..., 0] - bc[..., 0]),
                           np.minimum(bc[..., 1] - alo[..., 1], ahi[..., 1] - bc[..., 1]))
    put(("under", w), np.minimum(config.contact_tolerance - np.abs(blo[..., 2] - ahi[..., 2]),
                                 support_b), 0.005 + noise)
    inter = np.prod(np.maximum(np.minimum(ahi, bhi) - np.maximum(alo, blo), 0.0), axis=2)
    box_volume = np.prod(hi[w] - lo[w], axis=1)
    vol_a, vol_b = box_volume[:, None], box_volume[None, :]
    inside_a = inter / np.maximum(vol_a, 1e-12)
    inside_b = inter / np.maximum(vol_b, 1e-12)
    put(("inside", w), np.where(vol_a < vol_b, (inside_a - config.inside_fraction) * mean,
                                -mean), 0.02 * mean + noise)
    put(("contains", w), np.where(vol_b < vol_a, (inside_b - config.inside_fraction) * mean,
                                  -mean), 0.02 * mean + noise)
    logv = np.log(np.maximum(volume, 1e-12))
    ratio = logv[:, None] - logv[None, :]
    put(("larger_than", w), ratio - math.log(config.size_ratio), 0.1)
    put(("smaller_than", w), -ratio - math.log(config.size_ratio), 0.1)
    if occlusion is not None:
        put(("occludes", Frame.EGOCENTRIC), occlusion - config.occlusion_fraction, 0.02)
    if not keys:
        return keys, np.zeros((0, n, n)), np.zeros((0, n, n))
    return keys, np.stack(margins), np.stack(scales)


def pair_margins(a: Body, b: Body, config: RelationConfig,
                 frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                 occlusion: float | None = None) -> dict[tuple[str, Frame], tuple[float, float]]:
    """Signed margin and scale of every predicate for the ordered pair (a, b): the pair's
    entries of ``margin_table``.

    Args:
        occlusion: share of b's silhouette that a hides (from a render or a mask); None leaves
            occludes out.
    """
    occ = None if occlusion is None else np.array([[0.0, occlusion], [0.0, 0.0]])
    keys, margins, scales = margin_table([a, b], config, frames, occ)
    return {k: (float(m), float(s)) for k, m, s in zip(keys, margins[:, 0, 1],
                                                       scales[:, 0, 1])}


def confidences(margins: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Graded confidence of margins: sigmoid(margin / scale), kept inside the floor."""
    x = np.clip(margins / scales, -50.0, 50.0)
    return np.clip(1.0 / (1.0 + np.exp(-x)), CONFIDENCE_FLOOR, 1.0 - CONFIDENCE_FLOOR)


def compute_relations(bodies: list[Body], config: RelationConfig, *,
                      frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                      occlusion: dict[tuple[int, int], float] | None = None,
                      source: Source = Source.GEOMETRY, report_all: bool = False
                      ) -> list[Relation]:
    """Relations of every ordered pair, with confidence >= config.min_confidence (or all),
    subject by subject, then object by object, then predicate by predicate."""
    n = len(bodies)
    if n < 2:
        return []
    occ = None
    if occlusion is not None:
        index = {b.id: k for k, b in enumerate(bodies)}
        occ = np.zeros((n, n))
        for (i, j), share in occlusion.items():
            if i in index and j in index:
                occ[index[i], index[j]] = share
    keys, margins, scales = margin_table(bodies, config, frames, occ)
    conf = confidences(margins, scales).transpose(1, 2, 0)  # (subject, object, predicate)
    keep = np.ones(conf.shape, bool) if report_all else conf >= config.min_confidence
    ids = np.array([b.id for b in bodies])
    keep &= (ids[:, None] != ids[None, :])[..., None]
    centres = np.array([b.box.center for b in bodies], float)
    dist = np.sqrt(((centres[:, None] - centres[None, :]) ** 2).sum(axis=2))
    ii, jj, kk = np.nonzero(keep)
    return [Relation.trusted(s, keys[k][0], o, c, d, keys[k][1], source)
            for s, o, k, c, d in zip(ids[ii].tolist(), ids[jj].tolist(), kk.tolist(),
                                     conf[ii, jj, kk].tolist(), dist[ii, jj].tolist())]


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
