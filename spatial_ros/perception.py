"""Objects from one RGB-D frame (ROS-free): back-projection, segmentation, per-object geometry.

Two segmentation paths:
    mask: an instance mask is given (Gazebo's segmentation camera, the project's renderer or an
        upstream detector): every non-zero id with enough valid depth is one object.
    class-agnostic: no mask. The dominant planes are found with RANSAC (Open3D) and removed
        (horizontal ones are remembered as support surfaces); the remaining pixels are grouped
        into depth-continuous regions of the image grid (an organised point cloud: neighbours
        whose relative depth jump is small are connected) and each region is split by colour
        where it holds several distinct hues (two touching objects of different colours).

Per object (world frame, gravity-aligned when the camera pose is in a gravity-aligned world):
centroid, an oriented box (yaw about world z from the footprint's minimum-area rectangle, or the
fitted sphere / cylinder where the points say so), axis-aligned bounds, extent, volume, a colour
name from its pixels, a shape guess (box, cylinder, sphere or unknown), the 2D box and the point
count. The box is amodal where a shape tells: a sphere is completed from a least-squares sphere
fit, a cylinder from its top disk, a box from its footprint (the top face, which a camera above
the support sees whole), and a bottom within ``support_snap`` of a support plane is extended to it.
An object whose bottom edge is hidden (in most image columns under it, the next pixels belong to
a nearer object or lie outside the image) stands on the highest surface below it that is known:
a support plane or the top of another object under its centre; its box is extended down to that
surface. Without this, a cylinder behind a box was its top cap alone, 2 cm tall instead of 16,
and "above" in the camera frame came out wrong for it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from spatial_ros.colors import color_name
from spatial_ros.geometry import CameraIntrinsics, Pose
from spatial_ros.scene import OrientedBox
from spatial_ros.shapes import default_classifier, features, image_features

__all__ = ["PerceptionConfig", "Detection", "FrameReport", "detect_objects", "hue_bins"]


@dataclass(frozen=True)
class PerceptionConfig:
    """Segmentation and geometry parameters (metres unless stated)."""

    stride: int = 2  #: use every stride-th pixel in each direction
    min_depth: float = 0.05  #: closer readings are ignored
    max_depth: float = 12.0  #: farther readings are absurd for an RGB-D camera: ignored, counted
    min_points: int = 25  #: objects with fewer valid points are dropped
    max_objects: int = 32  #: more segments than this: keep the largest, report the rest
    max_object_size: float = 1.5  #: segments larger than this (walls, furniture) are not objects
    # class-agnostic segmentation
    plane_distance: float = 0.012  #: RANSAC inlier distance
    plane_min_fraction: float = 0.12  #: a plane must hold this share of the points to be removed
    max_planes: int = 3
    plane_samples: int = 3000  #: points RANSAC sees (random subset)
    plane_iterations: int = 100  #: RANSAC iterations per plane
    depth_jump: float = 0.03  #: relative depth jump that separates neighbouring pixels
    color_split_fraction: float = 0.15  #: a hue holding this share of a region splits it off
    support_snap: float = 0.03  #: bottoms this close above a support plane are extended to it
    occluded_bottom_share: float = 0.5  #: share of the bottom edge hidden for a hidden bottom
    occluder_gap: float = 0.02  #: an occluder is at least this much nearer than the object
    mask_supports: bool = True  #: with a mask, find support planes in the unlabelled pixels
    # shape guesses
    noise_quadratic: float = 0.0  #: expected depth noise sigma = noise_quadratic * z^2
    shape_classifier: bool = True  #: name shapes with the learned classifier where it ships
    seed: int = 0  #: RANSAC sampling seed (same frame, same result)


@dataclass
class Detection:
    """One object seen in one frame (world frame)."""

    points: np.ndarray  # (N, 3) world
    centroid: np.ndarray
    box: OrientedBox  # gravity-aligned amodal box
    color: str
    rgb: np.ndarray  # mean colour in [0, 1]
    shape: str
    bbox2d: tuple[int, int, int, int]
    pixels: np.ndarray  # flat indices into the full-resolution image
    instance: int = 0  # mask id it came from (0 = class-agnostic)
    shape_features: np.ndarray | None = None  # spatial_ros.shapes.FEATURES, None if too few points
    boxes: dict[str, OrientedBox] = field(default_factory=dict)  # amodal box per supported shape

    @property
    def point_count(self) -> int:
        return int(len(self.points))

    @property
    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        return self.box.aabb()

    @property
    def extent(self) -> np.ndarray:
        lo, hi = self.aabb
        return hi - lo

    @property
    def volume(self) -> float:
        return self.box.volume


@dataclass
class FrameReport:
    """What happened to one frame: counts and reasons for anything dropped or degraded."""

    valid_points: int = 0
    absurd_points: int = 0
    segments: int = 0
    dropped_small: int = 0
    dropped_cap: int = 0
    planes: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (normal, d)
    support_heights: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_RAYS: dict[tuple, np.ndarray] = {}


def _rays(intr: CameraIntrinsics, stride: int) -> np.ndarray:
    key = (intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy, stride)
    if key not in _RAYS:
        if len(_RAYS) > 8:
            _RAYS.clear()
        _RAYS[key] = intr.ray_directions(stride)
    return _RAYS[key]


def hue_bins(rgb: np.ndarray) -> np.ndarray:
    """A coarse colour class per pixel: 12 hue bins for saturated pixels, 12-14 for dark, grey
    and light unsaturated ones."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0].astype(np.int16), hsv[..., 1], hsv[..., 2]
    bins = ((h + 7) % 180) // 15
    grey = s < 60
    bins = np.where(grey, np.where(v < 50, 12, np.where(v < 180, 13, 14)), bins)
    return np.where(~grey & (v < 40), 12, bins).astype(np.uint8)


def _yaw_rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _fit_sphere(p: np.ndarray, max_points: int = 500) -> tuple[np.ndarray, float, float]:
    """Least-squares sphere (centre, radius, rms residual), from at most ``max_points`` evenly
    spread points (more add time, not accuracy)."""
    if len(p) > max_points:
        p = p[np.linspace(0, len(p) - 1, max_points).astype(int)]
    a = np.c_[2 * p, np.ones(len(p))]
    b = (p ** 2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    c = sol[:3]
    r = math.sqrt(max(sol[3] + c @ c, 1e-12))
    for _ in range(5):  # Gauss-Newton on the geometric distance (the algebraic fit is biased)
        diff = p - c
        dist = np.maximum(np.linalg.norm(diff, axis=1), 1e-9)
        jac = np.c_[-diff / dist[:, None], -np.ones(len(p))]
        step, *_ = np.linalg.lstsq(jac, -(dist - r), rcond=None)
        c, r = c + step[:3], abs(r + step[3])
    res = np.linalg.norm(p - c, axis=1) - r
    return c, r, float(np.sqrt(np.mean(res ** 2)))


def _geometry(p: np.ndarray, config: PerceptionConfig, camera: Pose,
              supports: list[float], image: np.ndarray | None = None
              ) -> tuple[OrientedBox, str, np.ndarray | None, dict[str, OrientedBox]]:
    """Amodal gravity-aligned box, shape guess and shape features of an object's world points.

    The shape comes from the learned classifier (spatial_ros.shapes) where it ships and
    ``config.shape_classifier`` is on, else from the rules below; the amodal box follows the
    shape where its fit supports it (a sphere from the sphere fit, a cylinder from the circle
    around its top face) and is the footprint rectangle otherwise.
    """
    z = p[:, 2]
    zmin, zmax = float(z.min()), float(z.max())
    rng = float(np.linalg.norm(p.mean(axis=0) - camera.translation))
    sigma = config.noise_quadratic * rng ** 2
    xy = p[:, :2].astype(np.float32)
    (cx, cy), (w, h), angle = cv2.minAreaRect(xy)
    span = max(w, h, zmax - zmin)
    rule = "unknown"
    sphere = top_fit = None
    feats = None
    sphere_ok = False
    if len(p) >= 20 and span > 0:  # the rules need 40 points; the classifier copes with 20
        centre, radius, rms = _fit_sphere(p.astype(np.float64))
        sphere = (centre, radius, rms)
        sphere_ok = 0.3 * span < radius < 0.8 * span and centre[2] - radius < zmin + 0.3 * radius
        shape_rms = math.sqrt(max(rms ** 2 - sigma ** 2, 0.0))  # the noise's share removed
        footprint = 2 * radius / max(w, h, 1e-9)  # a sphere's footprint is its diameter
        if len(p) >= 40 and sphere_ok and shape_rms < 0.05 * radius and footprint > 0.85:
            rule = "sphere"
        top = xy[z > zmax - max(0.006, 2 * sigma)]
        if len(top) >= 5:
            (tcx, tcy), (tw, th), tang = cv2.minAreaRect(top)
            hull = cv2.convexHull(top)
            fill = cv2.contourArea(hull) / max(tw * th, 1e-12)
            aspect = min(tw, th) / max(tw, th, 1e-12)
            top_fit = (len(top) / len(p), aspect, fill, max(tw, th), top)
            if rule == "unknown" and len(top) >= 20 and len(p) >= 40:
                if aspect > 0.75 and fill < 0.88 and min(w, h) > 0.5 * max(tw, th):
                    rule = "cylinder"
                elif fill >= 0.88 or aspect <= 0.75:
                    rule = "box"
        feats = features(p, w=w, h=h, span=span, sphere=sphere,
                         top=None if top_fit is None else top_fit[:4], sigma=sigma,
                         camera_position=camera.translation, image=image)
    shape = rule
    classifier = default_classifier() if config.shape_classifier else None
    if classifier is not None and feats is not None:
        shape = classifier.predict(feats)
    # amodal boxes for each shape the fits support; the tracker may pick another than this
    # frame's guess when the object's shape over many frames says so
    rect = OrientedBox(center=[cx, cy, (zmin + zmax) / 2], size=[w, h, zmax - zmin],
                       rotation=_yaw_rotation(math.radians(angle)))
    candidates = {"box": rect}
    if sphere_ok:
        centre, radius, _ = sphere
        candidates["sphere"] = OrientedBox(center=centre, size=np.full(3, 2 * radius))
    if top_fit is not None and len(top_fit[4]) >= 20:
        (ccx, ccy), r = cv2.minEnclosingCircle(top_fit[4])
        candidates["cylinder"] = OrientedBox(center=[ccx, ccy, (zmin + zmax) / 2],
                                             size=[2 * r, 2 * r, zmax - zmin])
    for kind, b in candidates.items():
        lo = float(b.center[2] - b.size[2] / 2)
        below = [s for s in supports if s <= lo + 1e-3 and lo - s < config.support_snap]
        if below and kind != "sphere":
            candidates[kind] = _with_bottom(b, max(below))
    box = candidates.get(shape, candidates["box"])
    return box, shape, feats, candidates


def _refit_plane(points: np.ndarray, n: np.ndarray, d: float, distance: float,
                 rounds: int = 3) -> tuple[np.ndarray, float]:
    """Least-squares plane (unit normal, offset) through the points within ``distance`` of
    the plane (n, d), refitted ``rounds`` times; the normal keeps its sign."""
    for _ in range(rounds):
        inl = points[np.abs(points @ n + d) < distance]
        if len(inl) < 3:
            break
        c = inl.mean(axis=0)
        normal = np.linalg.svd(inl - c, full_matrices=False)[2][-1]
        n = normal if normal @ n >= 0 else -normal
        d = float(-n @ c)
    return n, d


def _find_planes(points: np.ndarray, config: PerceptionConfig, report: FrameReport,
                 ) -> np.ndarray:
    """Remove dominant planes; return the mask of points that are not on one."""
    import open3d as o3d

    keep = np.ones(len(points), bool)
    rng = np.random.default_rng(config.seed)
    for _ in range(config.max_planes):
        idx = np.flatnonzero(keep)
        if len(idx) < 3 * config.min_points:
            break
        sub = idx if len(idx) <= config.plane_samples else idx[rng.integers(
            0, len(idx), config.plane_samples)]
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[sub].astype(np.float64)))
        o3d.utility.random.seed(int(config.seed))
        model, inliers = pcd.segment_plane(config.plane_distance, 3, config.plane_iterations)
        # share of *all* points (estimated from the subset): object faces never qualify
        if len(inliers) / len(sub) * len(idx) < config.plane_min_fraction * len(points):
            break
        n, d = np.asarray(model[:3]), float(model[3])
        norm = np.linalg.norm(n)
        n, d = n / norm, d / norm
        # Open3D's RANSAC runs on threads and varies from run to run despite its seed (a known
        # Open3D issue); a least-squares refit on the inliers brings runs within a few
        # micrometres of each other (they were up to 0.2 mm apart), not bit for bit
        n, d = _refit_plane(points[idx], n, d, config.plane_distance)
        on = np.abs(points[idx] @ n + d) < config.plane_distance
        keep[idx[on]] = False
        report.planes.append((n, d))
        if abs(n[2]) > 0.95:  # horizontal: a support surface at height -d / n_z
            report.support_heights.append(-d / n[2])
    return keep


def _regions(depth: np.ndarray, fg: np.ndarray, rgb: np.ndarray,
             config: PerceptionConfig) -> np.ndarray:
    """Depth-continuous, colour-consistent regions of the foreground; int32 labels, 0 = none."""
    d = np.where(fg, depth, 0.0).astype(np.float32)
    cut = np.zeros(fg.shape, bool)
    for axis in (0, 1):
        a = np.take(d, range(1, d.shape[axis]), axis=axis)
        b = np.take(d, range(0, d.shape[axis] - 1), axis=axis)
        jump = np.abs(a - b) > config.depth_jump * np.maximum(np.minimum(a, b), 1e-6)
        sl = [slice(None)] * 2
        sl[axis] = slice(1, None)
        cut[tuple(sl)] |= jump
    cells = (fg & ~cut).astype(np.uint8)
    n, labels = cv2.connectedComponents(cells, connectivity=4)
    bins = hue_bins(rgb)
    out = np.zeros(fg.shape, np.int32)
    nxt = 1
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(1, n + 1))
    for k in range(1, n):
        pix = order[starts[k - 1]:starts[k]]
        if len(pix) < config.min_points:
            continue
        b = bins.ravel()[pix]
        counts = np.bincount(b, minlength=15)
        major = np.flatnonzero(counts >= config.color_split_fraction * len(pix))
        if len(major) <= 1:
            out.ravel()[pix] = nxt
            nxt += 1
            continue
        # several distinct hues: each hue's pixels, regrouped by connectivity, is a segment
        for hb in major:
            sub = np.zeros(fg.shape, np.uint8)
            sub.ravel()[pix[b == hb]] = 1
            m, lab = cv2.connectedComponents(sub, connectivity=8)
            for j in range(1, m):
                sel = lab == j
                if sel.sum() >= config.min_points:
                    out[sel] = nxt
                    nxt += 1
    return out


def _bottom_hidden(rows: np.ndarray, cols: np.ndarray, labels: np.ndarray, d: np.ndarray,
                   inst: int, config: PerceptionConfig) -> bool:
    """Whether the object's bottom edge is hidden: below the lowest pixel of each of its image
    columns (strided grid), the next two pixels lie outside the image or show a nearer object.
    Columns whose next pixels have no depth reading are not counted."""
    sh = labels.shape[0]
    order = np.lexsort((-rows, cols))  # per column, lowest pixel (largest row) first
    c_sorted = cols[order]
    first = np.ones(len(order), bool)
    first[1:] = c_sorted[1:] != c_sorted[:-1]
    br, bc = rows[order][first], c_sorted[first]
    own = d[br, bc]
    outside = br + 1 >= sh  # the object runs out of the image at the bottom
    occluded = np.zeros(len(br), bool)
    seen = outside.copy()
    for step in (1, 2):
        r = np.minimum(br + step, sh - 1)
        below = d[r, bc]
        has = ~outside & np.isfinite(below)
        seen |= has
        occluded |= has & (labels[r, bc] > 0) & (labels[r, bc] != inst) \
            & (below < own - config.occluder_gap)
    hidden = int((outside | occluded).sum())
    counted = int(seen.sum())
    return counted >= 3 and hidden >= config.occluded_bottom_share * counted


def _with_bottom(b: OrientedBox, floor: float) -> OrientedBox:
    """``b`` with its bottom face moved to height ``floor`` (its top stays)."""
    hi = float(b.center[2] + b.size[2] / 2)
    return OrientedBox(center=[b.center[0], b.center[1], (floor + hi) / 2],
                       size=[b.size[0], b.size[1], hi - floor], rotation=b.rotation)


def _extend_down(boxes: dict[str, OrientedBox], floor: float) -> dict[str, OrientedBox]:
    """The boxes (but a sphere's, which its fit completes) with their bottoms lowered to
    ``floor`` where they end above it."""
    return {kind: b if kind == "sphere" or floor >= b.center[2] - b.size[2] / 2
            else _with_bottom(b, floor) for kind, b in boxes.items()}


def _surface_below(det: Detection, others: list[Detection], supports: list[float],
                   tolerance: float) -> float | None:
    """The highest known surface under ``det``: a support plane below its bottom, or the top of
    another object whose footprint holds its centre (and whose top is at most ``tolerance``
    above det's bottom: sensed tops of stacked objects touch, give or take the noise)."""
    lo = float(det.aabb[0][2])
    cx, cy = float(det.box.center[0]), float(det.box.center[1])
    heights = [s for s in supports if s <= lo + 1e-3]
    for o in others:
        if o is det:
            continue
        olo, ohi = o.aabb
        if olo[0] <= cx <= ohi[0] and olo[1] <= cy <= ohi[1] and ohi[2] <= lo + tolerance:
            heights.append(float(ohi[2]))
    return max(heights) if heights else None


def detect_objects(rgb: np.ndarray, depth: np.ndarray, intrinsics: CameraIntrinsics,
                   camera_pose: Pose, mask: np.ndarray | None = None,
                   config: PerceptionConfig | None = None, *,
                   supports: list[float] | None = None,
                   ) -> tuple[list[Detection], FrameReport]:
    """Objects of one frame, largest first, and a report of what was dropped and why.

    Args:
        rgb: (H, W, 3) uint8.
        depth: (H, W) float metres, NaN = no reading.
        intrinsics: the camera's intrinsics (size must match the images).
        camera_pose: world pose of the optical frame.
        mask: optional (H, W) instance ids, 0 = background.
        supports: support-surface heights known from earlier frames; with a mask they replace
            this frame's plane search (world heights do not change when the camera moves).
    """
    config = config or PerceptionConfig()
    report = FrameReport()
    h, w = depth.shape
    if rgb.shape[:2] != (h, w) or (mask is not None and mask.shape[:2] != (h, w)):
        raise ValueError(f"image sizes differ: colour {rgb.shape[1]}x{rgb.shape[0]}, depth "
                         f"{w}x{h}" + ("" if mask is None else
                                       f", mask {mask.shape[1]}x{mask.shape[0]}"))
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise ValueError(f"depth is {w}x{h} but the camera is "
                         f"{intrinsics.width}x{intrinsics.height}")
    s = config.stride
    d = depth[::s, ::s]
    sh, sw = d.shape
    finite = np.isfinite(d)
    absurd = finite & (d >= config.max_depth)
    valid = finite & ~absurd & (d > config.min_depth)
    report.absurd_points = int(absurd.sum())
    report.valid_points = int(valid.sum())
    if report.absurd_points:
        report.warnings.append(f"{report.absurd_points} depth readings beyond max_depth "
                               f"{config.max_depth:g} m ignored")
    if report.valid_points < config.min_points:
        report.warnings.append("no valid depth in this frame" if report.valid_points == 0 else
                               f"only {report.valid_points} valid depth readings")
        return [], report
    vi = np.flatnonzero(valid)  # flat indices (strided grid) of the valid readings
    dv = d.ravel()[vi]
    pts = (_rays(intrinsics, s)[vi] * dv[:, None]) @ camera_pose.rotation.T \
        + camera_pose.translation  # (N, 3) world
    rgb_s = rgb[::s, ::s]
    if mask is not None:
        lab = mask[::s, ::s].ravel()[vi].astype(np.int32)
        if supports is not None:
            report.support_heights = list(supports)
        elif config.mask_supports:  # support surfaces from the unlabelled background
            _find_planes(pts[lab == 0], config, report)
    else:
        off_plane = _find_planes(pts, config, report)
        fg = np.zeros(sh * sw, bool)
        fg[vi[off_plane]] = True
        grid = _regions(np.where(valid, d, 0.0), fg.reshape(sh, sw), rgb_s, config)
        lab = grid.ravel()[vi]
    order = np.argsort(lab, kind="stable")
    sorted_lab = lab[order]
    ids = np.unique(sorted_lab)
    ids = ids[ids > 0]
    starts = np.searchsorted(sorted_lab, ids)
    ends = np.searchsorted(sorted_lab, ids, side="right")
    segments = [(int(i), order[a:b]) for i, a, b in zip(ids, starts, ends)]  # indices into pts
    report.segments = len(segments)
    segments = [sg for sg in segments if len(sg[1]) >= config.min_points]
    report.dropped_small = report.segments - len(segments)
    segments.sort(key=lambda sg: -len(sg[1]))
    if len(segments) > config.max_objects:
        report.dropped_cap = len(segments) - config.max_objects
        report.warnings.append(f"{len(segments)} segments exceed max_objects "
                               f"{config.max_objects}: kept the largest, dropped "
                               f"{report.dropped_cap}")
        segments = segments[:config.max_objects]
    dets: list[Detection] = []
    hidden_bottom: list[bool] = []
    rgb_flat = rgb_s.reshape(-1, 3)
    labels = np.zeros(sh * sw, np.int32)
    labels[vi] = lab
    labels = labels.reshape(sh, sw)
    dgrid = np.where(valid, d, np.nan)
    for inst, idx in segments:
        p = pts[idx].astype(np.float64)
        cells = vi[idx]
        rows, cols = np.divmod(cells, sw)
        u0, v0, u1, v1 = (int(cols.min() * s), int(rows.min() * s),
                          int(cols.max() * s + s - 1), int(rows.max() * s + s - 1))
        if mask is not None:  # the full-resolution silhouette
            sil = mask[v0:v1 + 1, u0:u1 + 1] == inst
        else:  # the strided region, blown up to full resolution
            sil = np.kron(labels[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == inst,
                          np.ones((s, s), bool))[:v1 + 1 - v0, :u1 + 1 - u0]
        image = image_features(sil, rgb[v0:v0 + sil.shape[0], u0:u0 + sil.shape[1]].max(axis=2))
        box, shape, feats, boxes = _geometry(p, config, camera_pose,
                                             report.support_heights, image)
        if float(np.max(box.size)) > config.max_object_size:
            continue
        px = rgb_flat[cells].astype(np.float32)
        bright = px.max(axis=1)  # the best-lit pixels show the surface colour least shaded
        colour = np.median(px[bright >= np.percentile(bright, 75)], axis=0) / 255.0
        dets.append(Detection(
            points=p, centroid=p.mean(axis=0), box=box, color=color_name(colour), rgb=colour,
            shape=shape, shape_features=feats, boxes=boxes, pixels=(rows * s) * w + cols * s,
            instance=inst if mask is not None else 0,
            bbox2d=(u0, v0, u1, v1)))
        # a sphere's box is completed by its fit: no need to look under it
        hidden_bottom.append(shape != "sphere"
                             and _bottom_hidden(rows, cols, labels, dgrid, inst, config))
    for det, hidden in zip(dets, hidden_bottom):
        if not hidden:
            continue
        floor = _surface_below(det, dets, report.support_heights, config.support_snap)
        if floor is not None:
            det.boxes = _extend_down(det.boxes, floor)
            det.box = det.boxes.get(det.shape, det.boxes["box"])
    return dets, report
