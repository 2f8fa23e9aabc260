"""Objects from one RGB-D frame (ROS-free): back-projection, segmentation, per-object geometry.

Two segmentation paths:
    mask: an instance mask is given (Gazebo's segmentation camera, the project's renderer or an
        upstream detector): every non-zero id with enough valid depth is one object. Its flying
        pixels (a reading between the object and what lies behind it, at the mask's outline)
        are left out: a reading with under two neighbours in the mask within ``mask_flying``
        (relative) of it, where at least half of the object's readings remain.
    class-agnostic: no mask. The dominant planes are found with RANSAC (Open3D) and removed
        (perception.supports: horizontal ones are support surfaces, tilted ones structure only
        when larger than any object); the remaining pixels are grouped into object regions of
        the image grid (perception.segmentation: depth-continuous regions with flying-pixel
        edges cut, split at colour boundaries and necks, fragments of one colour merged).

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

import cv2
import numpy as np

from spatial_ros.colors import balanced, illuminant_gains, surface_color
from spatial_ros.geometry import CameraIntrinsics, Pose, percentile, take_rows
from spatial_ros.perception.amodal import (
    bottom_hidden,
    extend_down,
    object_geometry,
    surface_below,
)
from spatial_ros.perception.learned import grid_features
from spatial_ros.perception.segmentation import (
    cells_by_region,
    depth_regions,
    label_order,
    weighted_lab,
)
from spatial_ros.perception.shapes import image_features, shape_fits
from spatial_ros.perception.supports import HORIZONTAL, find_planes, surface_extent
from spatial_ros.perception.types import (
    SEGMENTATIONS,
    Detection,
    FrameReport,
    PerceptionConfig,
    workspace_box_error,
)
from spatial_ros.scene import OrientedBox, Support

__all__ = ["detect_objects", "frame_stride"]

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_SQUARE = np.ones((3, 3), np.uint8)
_LEVEL_COS = float(np.cos(np.radians(30.0)))  #: a level region's least spread: within 30 deg of up

_RAYS: dict[tuple, np.ndarray] = {}


def _rays(intr: CameraIntrinsics, stride: int) -> np.ndarray:
    key = (intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy, stride)
    if key not in _RAYS:
        if len(_RAYS) > 8:
            _RAYS.clear()
        _RAYS[key] = intr.ray_directions(stride)
    return _RAYS[key]


def _grid_pixels(cells: np.ndarray, grid_width: int, stride: int, width: int) -> np.ndarray:
    """Full-resolution flat pixel indices of strided-grid cells."""
    rows, cols = np.divmod(cells, grid_width)
    return (rows * stride) * width + cols * stride


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
    check_workspace(config)
    report = FrameReport()
    h, w = depth.shape
    if rgb.shape[:2] != (h, w) or (mask is not None and mask.shape[:2] != (h, w)):
        raise ValueError(f"image sizes differ: colour {rgb.shape[1]}x{rgb.shape[0]}, depth "
                         f"{w}x{h}" + ("" if mask is None else
                                       f", mask {mask.shape[1]}x{mask.shape[0]}"))
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise ValueError(f"depth is {w}x{h} but the camera is "
                         f"{intrinsics.width}x{intrinsics.height}")
    s = frame_stride(w, config)
    d = block_sample(depth, s, config.depth_jump)
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
    rows, cols = np.divmod(vi, sw)  # each reading's image-border bits: 1 top, 2 bottom, ...
    sides = ((rows <= 1) * 1 | (rows >= sh - 2) * 2 | (cols <= 1) * 4
             | (cols >= sw - 2) * 8).astype(np.uint8)
    optical = take_rows(_rays(intrinsics, s), vi) * dv[:, None]  # (N, 3) optical frame, float32
    pts = optical @ camera_pose.rotation.T + camera_pose.translation  # (N, 3) world
    rgb_s = rgb[::s, ::s]
    interior: dict[int, np.ndarray] = {}  # class-agnostic: image cells that are not surface
    objectness = None  # learned segmentation: the network's objectness of each grid cell
    if mask is not None:
        lab = mask[::s, ::s].ravel()[vi].astype(np.int32)
        if supports is not None:
            report.support_heights = list(supports)
        elif config.mask_supports:  # support surfaces from the unlabelled background
            bg = lab == 0
            find_planes(take_rows(pts, bg), config, report, dv[bg], sides[bg], vi[bg], (sh, sw))
        if config.mask_flying > 0:
            grid = np.zeros(sh * sw, np.int32)
            grid[vi] = lab
            lab = _without_flying(lab, _isolated(np.where(valid, d, 0.0), grid.reshape(sh, sw),
                                                 config.mask_flying).ravel()[vi])
    else:
        off_plane = find_planes(pts, config, report, dv, sides, vi, (sh, sw))
        fg = np.zeros(sh * sw, bool)
        fg[vi[off_plane]] = True
        sil_grid = np.zeros((sh, sw), np.int32)
        grid_pts = np.zeros((sh * sw, 3), np.float32)
        grid_pts[vi] = optical
        affinities = None
        if config.segmentation != "geometric":
            from spatial_ros.model.segmenter import load_segmenter  # torch, only when used

            objectness, *affinities = load_segmenter(config.segmenter_weights).predict(
                grid_features(grid_pts.reshape(sh, sw, 3), valid, rgb_s, camera_pose.rotation))
            fg[vi[raised_cells(pts, dv, off_plane, report.planes, objectness.ravel()[vi],
                               vi, (sh, sw), config)]] = True
        grid = depth_regions(np.where(valid, d, 0.0), fg.reshape(sh, sw), rgb_s, config,
                             silhouette=sil_grid, points=grid_pts.reshape(sh, sw, 3),
                             affinities=affinities)
        lab = grid.ravel()[vi]
        interior = {k: _grid_pixels(c, sw, s, w) for k, c in cells_by_region(sil_grid).items()}
    order = label_order(lab)
    sorted_lab = lab[order]
    starts = np.flatnonzero(np.diff(sorted_lab, prepend=-1))  # each label's first place
    ends = np.append(starts[1:], len(sorted_lab))
    segments = [(int(sorted_lab[a]), order[a:b]) for a, b in zip(starts, ends)
                if sorted_lab[a] > 0]  # (label, indices into pts)
    report.segments = len(segments)

    def drop(why: str, idx: np.ndarray) -> None:  # a segment left out (FrameReport.dropped)
        report.dropped.append((why, _grid_pixels(vi[idx], sw, s, w)))

    small = [sg[1] for sg in segments if len(sg[1]) < config.min_points]
    if small:
        drop("small", np.concatenate(small))
    segments = [sg for sg in segments if len(sg[1]) >= config.min_points]
    report.dropped_small = report.segments - len(segments)
    segments.sort(key=lambda sg: -len(sg[1]))
    if len(segments) > config.max_objects:
        report.dropped_cap = len(segments) - config.max_objects
        report.warnings.append(f"{len(segments)} segments exceed max_objects "
                               f"{config.max_objects}: kept the largest, dropped "
                               f"{report.dropped_cap}")
        drop("over max_objects", np.concatenate([sg[1] for sg in
                                                 segments[config.max_objects:]]))
        segments = segments[:config.max_objects]
    dets: list[Detection] = []
    hidden_bottom: list[bool] = []
    rgb_flat = rgb_s.reshape(-1, 3)
    labels = np.zeros(sh * sw, np.int32)
    labels[vi] = lab
    labels = labels.reshape(sh, sw)
    dgrid = np.where(valid, d, np.nan)
    # the light's colour taken out of the pixels that name colours (colors.illuminant_gains)
    gains = illuminant_gains(rgb) if config.white_balance and segments else None
    # each pixel's brightest channel (shape features), once for the frame, not once per crop
    grey = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) if segments else None
    for inst, idx in segments:
        p = take_rows(pts, idx).astype(np.float64)
        # structure, told before any geometry is fitted: beyond the workspace, or part of a
        # large support (a leg, an apron)
        if not in_workspace(p.mean(axis=0), camera_pose, config):
            report.beyond_workspace += 1
            drop("beyond the workspace", idx)
            continue
        band = height_band(p, camera_pose, config)  # what the three tests below read
        if support_part(p, report.large_supports, config) or (
                mask is None and in_support(band, report.large_supports, config)):
            report.support_parts += 1
            drop("a support's part", idx)
            continue
        if mask is None and wall_patch(p, band, report.planes, config):
            drop("a wall's patch", idx)
            continue
        patch = level_patch(p, band, config)
        if patch is not None:  # a floor or table patch the plane search left: a support
            report.surfaces.append(patch)
            report.support_heights.append(patch.height)
            drop("a level patch", idx)
            continue
        cells = vi[idx]
        if objectness is not None and _learned_structure(
                float(objectness.ravel()[cells].mean()), p, band, report.support_heights,
                config):
            report.learned_structure += 1  # the network's structure: a panel, a tote's wall
            drop("the network's structure", idx)
            continue
        rows, cols = np.divmod(cells, sw)
        own = labels[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == inst  # its cells
        u0, v0, u1, v1 = (int(cols.min() * s), int(rows.min() * s),  # a stride that does not
                          min(int(cols.max() * s + s - 1), w - 1),  # divide the image size
                          min(int(rows.max() * s + s - 1), h - 1))  # ends at its edge
        if mask is not None:  # the full-resolution silhouette
            sil = mask[v0:v1 + 1, u0:u1 + 1] == inst
        else:  # the strided region, blown up to full resolution
            sil = _blow_up(own.view(np.uint8), s, (v1 + 1 - v0, u1 + 1 - u0)).view(bool)
        image = image_features(sil, grey[v0:v0 + sil.shape[0], u0:u0 + sil.shape[1]])
        spacing = s / intrinsics.fx
        if s > 1 and len(idx) < config.dense_below:  # small or far: every pixel's reading
            if mask is not None:  # the mask's pixels between the grid's outer cells too
                du0, dv0 = max(u0 - s + 1, 0), max(v0 - s + 1, 0)
                dense = _dense_points(depth, mask[dv0:v1 + s, du0:u1 + s] == inst, du0, dv0,
                                      intrinsics, camera_pose, config, None, flying=True)
            else:
                block = _blow_up(dgrid[rows.min():rows.max() + 1, cols.min():cols.max() + 1],
                                 s, sil.shape)
                dense = _dense_points(depth, sil, u0, v0, intrinsics, camera_pose, config, block)
            if len(dense) > len(p):
                p, spacing = dense, 1.0 / intrinsics.fx
        box, shape, feats, boxes = object_geometry(
            p, config, camera_pose, report.support_heights, image,
            spacing=spacing if mask is None else 0.0)
        if float(np.max(box.size)) > config.max_object_size:
            drop("over max_object_size", idx)
            continue
        px = rgb_flat[cells].astype(np.float32)
        # the best-lit pixels show the surface colour least shaded (what merges compare)
        bright = np.maximum(np.maximum(px[:, 0], px[:, 1]), px[:, 2])
        colour = np.median(px[bright >= percentile(bright, 75)], axis=0) / 255.0
        # the name: the object's own pixels, its boundary cells (background mixed in) left out
        inner = cv2.erode(own.view(np.uint8), _CROSS, borderValue=0)[rows - rows.min(),
                                                                      cols - cols.min()] > 0
        name_px = px[inner] if inner.sum() >= max(9, len(px) // 4) else px
        dets.append(Detection(
            points=p, centroid=p.mean(axis=0), box=box,
            color=surface_color(balanced(name_px / 255.0, gains)),
            rgb=colour,
            shape=shape, shape_features=feats, shape_fits=shape_fits(shape, feats), boxes=boxes,
            pixels=_grid_pixels(cells, sw, s, w),
            interior=interior.get(inst) if mask is None else None,
            instance=inst if mask is not None else 0,
            bbox2d=(u0, v0, u1, v1)))
        # a sphere's box is completed by its fit: no need to look under it
        hidden_bottom.append(shape != "sphere"
                             and bottom_hidden(rows, cols, labels, dgrid, inst, config))
    if mask is None and config.absorb_inside > 0:
        pairs = _Pairs(dets, camera_pose, (sh, sw), s, w, config) \
            if (config.join_behind > 0 or config.attach_share > 0) and len(dets) > 1 else None
        dets, hidden_bottom = _absorb_fragments(dets, hidden_bottom, config, pairs)
    for det, hidden in zip(dets, hidden_bottom):
        if not hidden:
            continue
        floor = surface_below(det, dets, report.support_heights, config.support_snap)
        if floor is not None:
            det.boxes = extend_down(det.boxes, floor)
            det.box = det.boxes.get(det.shape, det.boxes["box"])
    if mask is None and config.outline_cells and dets:
        _add_outlines(dets, labels == 0, fg.reshape(sh, sw) & valid, s, w, config.outline_cells)
    return dets, report


def _owner_grid(dets: list[Detection], grid: tuple[int, int], s: int, width: int
                ) -> np.ndarray:
    """(H, W) uint16 grid of each cell's detection, index + 1 (0: none), from their surface
    pixels (uint16: OpenCV's morphology takes no int32)."""
    owner = np.zeros(grid, np.uint16)
    for k, det in enumerate(dets):
        rows, cols = np.divmod(det.pixels, width)
        owner[rows // s, cols // s] = k + 1
    return owner


def _add_outlines(dets: list[Detection], unlabelled: np.ndarray, off_plane: np.ndarray,
                  s: int, width: int, rings: int) -> None:
    """Each detection's image region takes the grid cells along its outline that the
    segmentation cut (off every plane, with a reading, in no segment: flying pixels between
    the object and what lies behind it) and that touch it alone of the detections, ``rings``
    cells deep, as ``interior`` (its image region, not its surface)."""
    owner = _owner_grid(dets, unlabelled.shape, s, width)
    free = unlabelled & off_plane & (owner == 0)
    big = np.uint16(len(dets) + 1)
    for _ in range(rings):
        hi = cv2.dilate(owner, _SQUARE)
        lo = cv2.erode(np.where(owner > 0, owner, big), _SQUARE)
        take = free & (hi > 0) & (hi == lo)
        if not take.any():
            break
        owner[take] = hi[take]
        free &= ~take
    rows, cols = np.nonzero((owner > 0) & unlabelled & off_plane)
    who = owner[rows, cols].astype(np.int64) - 1
    grid_width = unlabelled.shape[1]
    flat = _grid_pixels(rows * grid_width + cols, grid_width, s, width)
    for k in np.unique(who):
        det = dets[int(k)]
        cells = flat[who == k]
        det.interior = cells if det.interior is None else np.concatenate([det.interior, cells])


def frame_stride(width: int, config: PerceptionConfig) -> int:
    """The stride a frame ``width`` pixels wide is sampled at: ``stride``, scaled up for frames
    wider than ``working_width`` (stride x width / working_width, rounded)."""
    if config.working_width <= 0 or width <= config.working_width:
        return config.stride
    return max(config.stride, round(config.stride * width / config.working_width))


def block_sample(depth: np.ndarray, s: int, jump: float) -> np.ndarray:
    """Every s-th pixel's reading in each direction, where a pixel has none, a reading of
    its s x s block (their lower median: a real reading, never a mix of two surfaces) where
    the block's readings lie on one surface (within ``jump``, relative): a hole at a depth
    edge stays a hole, and keeps the two sides apart. Only for sparse depth, where more cells
    lack a reading of their own but have one in their block than have their own: on dense
    depth the filled holes (at edges, on dark and shiny surfaces) cost the SpatialBench room
    split 5 points of class-agnostic recall and masks 0.1-0.4 points of relations. Depth
    of a lower resolution registered into the colour image reads in one pixel of each 2 x 2
    or so: the plain grid met mostly holes and a shelf's books broke into specks (SpatialBench
    with `lowres_registered` depth: no object found before)."""
    d = depth[::s, ::s]
    if s <= 1:
        return d
    bad = ~(d > 0)  # NaN or no reading
    hh, ww = depth.shape[0] // s, depth.shape[1] // s
    sub = bad[:hh, :ww]
    if not sub.any():
        return d
    blocks = depth[:hh * s, :ww * s].reshape(hh, s, ww, s).transpose(0, 2, 1, 3)[sub]
    blocks = np.where(blocks > 0, blocks, np.inf).reshape(len(blocks), -1)
    count = np.isfinite(blocks).sum(axis=1)
    if np.count_nonzero(count) <= np.count_nonzero(~sub):
        return d  # dense depth: a hole is a hole (an edge, a dark or shiny patch)
    blocks.sort(axis=1)
    rows = np.arange(len(blocks))
    pick = blocks[rows, np.maximum(count - 1, 0) // 2]
    lo, hi = blocks[:, 0], blocks[rows, np.maximum(count - 1, 0)]
    with np.errstate(invalid="ignore"):  # blocks without a reading: inf - inf
        one = (count > 0) & (hi - lo <= jump * lo)  # one surface: not a hole at an edge
    d = d.copy()
    d[:hh, :ww][sub] = np.where(one, pick, np.nan)
    return d


def _blow_up(grid: np.ndarray, s: int, shape: tuple[int, int]) -> np.ndarray:
    """A crop of the strided grid at full resolution: each cell becomes s x s pixels (a
    nearest-neighbour resize), cut to ``shape`` where the stride does not divide the image."""
    return cv2.resize(grid, None, fx=s, fy=s, interpolation=cv2.INTER_NEAREST
                      )[:shape[0], :shape[1]]


def check_workspace(config: PerceptionConfig) -> None:
    """Raise ValueError naming the parameter when the workspace has no volume (or the
    segmentation is none of SEGMENTATIONS)."""
    if config.segmentation not in SEGMENTATIONS:
        raise ValueError(f"segmentation {config.segmentation!r}: one of "
                         f"{', '.join(SEGMENTATIONS)}")
    if config.workspace_range < 0:
        raise ValueError(f"workspace_range {config.workspace_range}: must be >= 0 (0 = no limit)")
    reason = workspace_box_error(config.workspace_box)
    if reason:
        raise ValueError(reason)


def support_part(points: np.ndarray, supports: list[float], config: PerceptionConfig) -> bool:
    """Whether a segment's ``points`` (world) are part of a large support (a leg, an apron,
    a board's edge): it lies below one of the ``supports`` (world heights; 90 % of its
    points at most 5 mm over it), reaches up to it (within ``support_part_gap``) and down
    from it (10 % of its points 2 cm or more under it). An object resting on the support
    lies above it: even a marker lying flat keeps most of its points over the surface."""
    if config.support_part_span <= 0:
        return False
    low, high = (float(z) for z in percentile(points[:, 2], [10, 90]))
    return any(h - config.support_part_gap <= high <= h + 0.005 and low <= h - 0.02
               for h in supports)


def height_band(points: np.ndarray, camera_pose: Pose, config: PerceptionConfig
                ) -> tuple[float, float, float] | None:
    """A segment's heights, 5th and 95th percentile of its ``points`` (world z), and the
    depth-noise sigma at its range; None under 3 points (too few to tell)."""
    if len(points) < 3:
        return None
    lo, hi = (float(z) for z in percentile(points[:, 2], [5, 95]))
    rng = float(np.linalg.norm(points.mean(axis=0) - camera_pose.translation))
    return lo, hi, config.noise_quadratic * rng ** 2


def in_support(band: tuple[float, float, float] | None, supports: list[float],
               config: PerceptionConfig) -> bool:
    """Whether a segment (its ``height_band``) lies within a large support's slab, rising
    nowhere above it: its heights between ``plane_distance`` plus two depth-noise sigmas
    under the support and two sigmas over it. A patch of the table the plane search left (a
    noisy or darker spot); a thing lying on the table rises above it."""
    if band is None:
        return False
    lo, hi, sigma = band
    return any(h - config.plane_distance - 2 * sigma <= lo and hi <= h + 2 * sigma
               for h in supports)


def raised_cells(points: np.ndarray, ranges: np.ndarray, off_plane: np.ndarray,
                 planes: list[tuple[np.ndarray, float]], objectness: np.ndarray,
                 cells: np.ndarray, grid: tuple[int, int],
                 config: PerceptionConfig) -> np.ndarray:
    """The readings the plane search took with a support that belong to an object all the
    same (a mask over ``points``, world): within the support's inlier distance but
    ``raised_height`` or more above it, called object by the network (``objectness`` of each
    reading at least ``raised_objectness``), where they make ``raised_share`` of their blob
    of foreground (the readings off every plane) or more (8-connected in the ``grid``;
    ``cells``: each reading's place in it). A marker or a pen lying on the table, 1-2 cm
    high, lies mostly within the plane's inlier distance and was lost with it; a standing
    object's lowest centimetre, a small share of its blob, stays with the table (taken back,
    it grew a can's fitted sphere by a tenth)."""
    out = np.zeros(len(points), bool)
    if config.raised_objectness >= 1 or not planes:
        return out
    tol = config.plane_distance + config.plane_sigmas * config.noise_quadratic * ranges ** 2
    for n, d in planes:
        if abs(float(n[2])) <= HORIZONTAL:  # a wall's
            continue
        height = (points @ n + d) * math.copysign(1.0, float(n[2]))
        out |= (height >= config.raised_height) & (height < tol)
    out &= ~off_plane & (objectness >= config.raised_objectness)
    if not out.any():
        return out
    raised = np.zeros(grid[0] * grid[1], bool)
    raised[cells[out]] = True
    blobs = raised.copy()
    blobs[cells[off_plane]] = True
    count, labels = cv2.connectedComponents(blobs.reshape(grid).astype(np.uint8),
                                            connectivity=8)
    labels = labels.ravel()
    share = np.bincount(labels[raised], minlength=count) / np.maximum(
        np.bincount(labels[blobs], minlength=count), 1)
    return out & (share[labels[cells]] >= config.raised_share)


def wall_patch(points: np.ndarray, band: tuple[float, float, float] | None,
               planes: list[tuple[np.ndarray, float]], config: PerceptionConfig) -> bool:
    """Whether a segment is a patch of a wall the plane search removed (``planes``, world
    (normal, offset); the level ones are supports, other tests'): 90 % of its ``points``
    within ``plane_distance`` plus ``wall_sigmas`` depth-noise sigmas at its range (``band``,
    height_band's) of one. A real depth camera's error is long waves: where a far wall's
    readings leave the plane's inlier distance they do so in patches, which segment as
    objects. A thing standing against a wall stands out of it by its depth."""
    if config.wall_sigmas <= 0 or band is None or not planes:
        return False
    tol = config.plane_distance + config.wall_sigmas * band[2]
    need = 0.9 * len(points)
    return any(abs(float(n[2])) <= HORIZONTAL and
               np.count_nonzero(np.abs(points @ n + d) < tol) >= need for n, d in planes)


def level_patch(points: np.ndarray, band: tuple[float, float, float] | None,
                config: PerceptionConfig) -> Support | None:
    """A segment that is a level surface, not an object: its heights (``band``,
    height_band's) spread under ``flat_height`` plus two depth-noise sigmas at its range, over
    ``support_part_span`` or more across: a patch of floor between a table's legs, a table
    top cut off by the things on it, that the plane search left (it holds too few readings
    or is no one surface). As a Support (large), else None. A book or a tray lying flat is
    smaller; a thing lying on the floor stands above it."""
    if config.flat_height <= 0 or band is None:
        return None
    lo, hi, sigma = band
    if hi - lo > config.flat_height + 2 * sigma:
        return None
    height = float(np.median(points[:, 2]))
    box = surface_extent(points, height)
    if float(np.max(box.size[:2])) < config.support_part_span:
        return None
    return Support(id=0, height=height, box=box, point_count=len(points), large=True)


def _learned_structure(objectness: float, points: np.ndarray,
                       band: tuple[float, float, float] | None, supports: list[float],
                       config: PerceptionConfig) -> bool:
    """Whether a region the network scores ``objectness`` is structure (a panel, a tote's
    wall): under ``min_objectness``, unless it is level (its points' least spread within 30
    deg of vertical, world z), raised over ``flat_height`` above the highest support under
    it (all of it: ``band``'s 5th percentile, height_band) and either at least
    ``level_objectness`` or, over a support, of a package's top's size (its footprint from
    ``top_min_width`` to ``top_max_width`` along its axes, a rim's strip narrower, a pile's
    top wider): a package lying flat in a tote, whose top the network takes for the floor
    under it. A patch of a support that the plane search left lies at its height, not above
    it."""
    if objectness >= config.min_objectness:
        return False
    if band is None:
        return True
    if objectness >= config.stand_objectness and _stands(points, band, supports, config):
        return False
    _w, axes = np.linalg.eigh(np.cov(points.T))
    if abs(float(axes[2, 0])) < _LEVEL_COS:
        return True
    low = band[0]
    under = [h for h in supports if h <= low + config.flat_height]
    if bool(under) and low - max(under) <= config.flat_height:
        return True
    if objectness >= config.level_objectness:
        return False
    if config.top_min_width <= 0 or not under:
        return True
    small, large = _footprint(points)  # its footprint along its own axes
    return not (config.top_min_width <= small and large <= config.top_max_width)


def _footprint(points: np.ndarray) -> np.ndarray:
    """The extents (smaller, larger) of points' footprint (world x, y) along its own axes."""
    xy = points[:, :2] - points[:, :2].mean(axis=0)
    return np.sort(np.ptp(xy @ np.linalg.eigh(xy.T @ xy)[1], axis=0))


def _stands(points: np.ndarray, band: tuple[float, float, float], supports: list[float],
            config: PerceptionConfig) -> bool:
    """Whether a region (its world ``points`` and ``height_band``) stands on one of the
    ``supports`` (heights) with a package's size (_learned_structure's ``stand_objectness``
    test)."""
    lo, hi, sigma = band
    below = config.plane_distance + 2 * sigma
    if not any(h - below <= lo <= h + config.stand_gap and
               config.flat_height < hi - h <= config.top_max_width for h in supports):
        return False
    small, large = _footprint(points)
    return config.stand_min_width <= small and large <= config.top_max_width


def in_workspace(centre: np.ndarray, camera_pose: Pose, config: PerceptionConfig) -> bool:
    """Whether an object centred at ``centre`` (world frame) lies in the workspace."""
    if config.workspace_range > 0 and \
            np.linalg.norm(centre - camera_pose.translation) > config.workspace_range:
        return False
    box = config.workspace_box
    return not box or all(box[2 * i] <= centre[i] <= box[2 * i + 1] for i in range(3))


def _dense_points(depth: np.ndarray, sil: np.ndarray, u0: int, v0: int,
                  intrinsics: CameraIntrinsics, camera_pose: Pose, config: PerceptionConfig,
                  block: np.ndarray | None, *, flying: bool = False) -> np.ndarray:
    """World points of every full-resolution pixel of an object's silhouette crop ``sil``
    (top-left pixel ``u0, v0``) with a valid reading; with ``block`` (the depth of the grid
    cell each pixel lies in), only those within ``depth_jump`` of it: a cell blown up to
    s x s pixels covers some of what lies beside the object. ``flying``: without the readings
    isolated in depth (``_isolated``), where at least half of them remain."""
    crop = depth[v0:v0 + sil.shape[0], u0:u0 + sil.shape[1]]
    with np.errstate(invalid="ignore"):
        ok = sil & (crop > config.min_depth) & (crop < config.max_depth)
        if block is not None:
            ok &= np.abs(crop - block) <= config.depth_jump * block
        if flying and config.mask_flying > 0:  # the crop as one instance (label 1)
            fly = _isolated(np.where(ok, crop, 0.0), ok.view(np.uint8), config.mask_flying)
            ok = _without_flying(ok.ravel().astype(np.intp), fly.ravel()).reshape(ok.shape) > 0
    ys, xs = np.nonzero(ok)
    z = crop[ys, xs].astype(np.float64)
    optical = _rays(intrinsics, 1)[(ys + v0) * intrinsics.width + xs + u0] * z[:, None]
    return optical @ camera_pose.rotation.T + camera_pose.translation


def _isolated(depth: np.ndarray, labels: np.ndarray, jump: float) -> np.ndarray:
    """Readings (``depth`` > 0, ``labels`` > 0) with fewer than two of their 8 neighbours of the
    same label within ``jump`` (relative) of their depth, where they have two or more such
    neighbours at all (one, where they have one): a flying pixel at an object's outline, between
    its surface and what lies behind, which a mask drawn around the object takes in. Flying
    pixels come singly or in pairs; a surface's reading, even at a corner of its outline, has
    neighbours on the surface."""
    h, w = depth.shape
    d = np.pad(depth.astype(np.float32), 1)
    lab = np.pad(labels, 1)
    centre, own = d[1:h + 1, 1:w + 1], lab[1:h + 1, 1:w + 1]
    near = np.zeros((h, w), np.uint8)  # neighbours of its label within jump
    kin = np.zeros((h, w), np.uint8)  # neighbours of its label
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                nd = d[1 + dy:h + 1 + dy, 1 + dx:w + 1 + dx]
                same = (lab[1 + dy:h + 1 + dy, 1 + dx:w + 1 + dx] == own) & (nd > 0)
                kin += same
                near += same & (np.abs(nd - centre) <= jump * centre)
    return (centre > 0) & (own > 0) & (near < np.minimum(kin, 2))


def _without_flying(lab: np.ndarray, fly: np.ndarray) -> np.ndarray:
    """Instance labels with the flying-pixel readings ``fly`` set to 0 (none), for every
    instance that keeps at least half of its readings (a thin or far object may be all edge)."""
    n = np.bincount(lab, minlength=1)
    n_fly = np.bincount(lab[fly], minlength=len(n))
    drop = fly & (lab > 0) & (2 * n_fly[lab] <= n[lab])
    return np.where(drop, 0, lab)


class _Pairs:
    """What the image and the points say of two detections (indices, the first no larger),
    each read when first asked (most pairs fail the colour test before):

    - ``behind``: one flat surface seen in two pieces around a nearer object lying across it
      (a package under another in a tote): both planar within ``join_behind`` (their points'
      least spread) and on one plane (the smaller's points within ``join_behind`` of the
      larger's plane, 90th percentile, the normals within 20 deg), and a third detection
      touching both in the image (within two cells) is nearer the camera than both by
      ``join_behind`` or more (median depths: a flat package lying on another is 1-2 cm
      nearer);
    - ``touching``: within two cells in the image and ``gap`` in space (a handle, a cap);

    ``joined`` gives the neighbours of the one absorbed to the one that absorbs it."""

    _COS = float(np.cos(np.radians(20.0)))

    def __init__(self, dets: list[Detection], camera_pose: Pose, grid: tuple[int, int],
                 s: int, width: int, config: PerceptionConfig) -> None:
        self.owner = _owner_grid(dets, grid, s, width)
        self.dets, self.tol, self.s, self.pose = dets, config.join_behind, s, camera_pose
        self._near: dict[int, set[int]] = {}
        self._depth: dict[int, float] = {}
        self._planes: dict[int, tuple] = {}

    def near(self, k: int) -> set[int]:
        """The detections within two grid cells of detection k in the image."""
        if k not in self._near:
            u0, v0, u1, v1 = (c // self.s for c in self.dets[k].bbox2d)
            r0, c0 = max(v0 - 2, 0), max(u0 - 2, 0)
            crop = self.owner[r0:v1 + 3, c0:u1 + 3]
            ring = cv2.dilate((crop == k + 1).astype(np.uint8), _SQUARE, iterations=2) > 0
            self._near[k] = {int(o) - 1 for o in np.unique(crop[ring]) if o and o != k + 1}
        return self._near[k]

    def depth(self, k: int) -> float:
        """Detection k's median distance along the optical axis."""
        if k not in self._depth:
            view = self.pose.rotation[:, 2]
            self._depth[k] = float(np.median((self.dets[k].points - self.pose.translation)
                                             @ view))
        return self._depth[k]

    def _plane(self, k: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Centroid, unit normal and the least spread (m) of detection k's points."""
        if k not in self._planes:
            p = self.dets[k].points
            c = p.mean(axis=0)
            w, v = np.linalg.eigh((p - c).T @ (p - c) / len(p))
            self._planes[k] = (c, v[:, 0], float(np.sqrt(max(w[0], 0.0))))
        return self._planes[k]

    def behind(self, i: int, j: int) -> bool:
        between = [k for k in self.near(i) & self.near(j) if k not in (i, j)]
        if not between or min(self.depth(k) for k in between) > \
                min(self.depth(i), self.depth(j)) - self.tol:
            return False
        (_ci, ni, ti), (cj, nj, tj) = self._plane(i), self._plane(j)
        if max(ti, tj) > self.tol or abs(float(ni @ nj)) < self._COS:
            return False
        off = np.abs((self.dets[i].points - cj) @ nj)
        return float(percentile(off, 90)) <= self.tol

    def touching(self, i: int, j: int, gap: float) -> bool:
        if gap <= 0 or j not in self.near(i):
            return False
        a, b = self.dets[i].points, self.dets[j].points
        a = a[np.linspace(0, len(a) - 1, min(len(a), 300)).astype(int)]  # evenly spread
        b = b[np.linspace(0, len(b) - 1, min(len(b), 1500)).astype(int)]
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return float(d2.min()) <= gap * gap  # the nearest two points' squared distance

    def joined(self, i: int, j: int) -> None:
        self._near[j] = (self.near(j) | self.near(i)) - {i, j}
        self._planes.pop(j, None)
        self._depth.pop(j, None)


def _absorb_fragments(dets: list[Detection], hidden: list[bool], config: PerceptionConfig,
                      pairs: _Pairs | None = None
                      ) -> tuple[list[Detection], list[bool]]:
    """Fragments of a larger object of their colour (within ``merge_chroma``, Lab) join it:

    - inside: a detection with at most half the points of a larger one and ``absorb_inside`` of
      its points within that one's box: a bowl's or a tub's floor that a concave crease cut
      from its wall in the image, yet inside the wall's box;
    - rim: a detection no larger, whose top (95th percentile height) lies within
      ``absorb_rim`` of the other's and ``absorb_inside`` of its points within the other's box
      grown by ``absorb_reach``: a mug's, cup's or bowl's inside seen over the rim (a depth
      step apart from the outside wall in front, both reaching up to the rim), a handle;
    - behind (``pairs``, join_behind): one flat surface in two pieces around a nearer
      object lying across it;
    - attached (``pairs``, attach_share, attach_gap): a piece with at most ``attach_share``
      of the other's points touching it in the image and in space (a mug's handle, a
      bottle's cap cut off by a depth step).

    For a rim, a piece behind or an attached one, the boxes grow to take the fragment in. One
    colour is also one in the other's shade (``absorb_shade``)."""
    gone: set[int] = set()
    labs = weighted_lab(np.array([np.clip(d.rgb, 0.0, 1.0) * 255.0 for d in dets], np.uint8)
                        .reshape(1, -1, 3), config)[0] if dets else []
    bright = [float(np.max(d.rgb)) for d in dets]

    def one_colour(i: int, j: int) -> bool:  # within merge_chroma, or in the other's shade
        if float(np.linalg.norm(labs[i] - labs[j])) <= config.merge_chroma:
            return True
        lo, hi = sorted((i, j), key=lambda k: bright[k])
        if config.absorb_shade <= 0 or bright[lo] < config.absorb_shade * bright[hi]:
            return False
        lit = np.clip(dets[lo].rgb * (bright[hi] / max(bright[lo], 1e-6)), 0.0, 1.0) * 255.0
        lab = weighted_lab(lit.astype(np.uint8).reshape(1, 1, 3), config)[0, 0]
        return float(np.linalg.norm(lab - labs[hi])) <= config.merge_chroma
    first = [d.points for d in dets]  # as detected, before any fragment joined
    tops: dict[int, float] = {}  # their 95th percentile heights, when asked

    def top(k: int) -> float:
        if k not in tops:
            tops[k] = float(percentile(first[k][:, 2], 95))
        return tops[k]

    for i in range(len(dets) - 1, -1, -1):  # smallest first (dets are largest first)
        a = dets[i]
        for j in range(i):
            b = dets[j]
            if j in gone or len(a.points) > len(b.points) or not one_colour(i, j):
                continue
            local = np.abs((a.points - b.box.center) @ b.box.rotation)  # in b's box axes
            half = b.box.size / 2
            inside = 2 * len(a.points) <= len(b.points) and \
                np.all(local <= half + 1e-3, axis=1).mean() >= config.absorb_inside
            rim = not inside and config.absorb_rim > 0 and \
                abs(top(i) - top(j)) <= config.absorb_rim and \
                np.all(local <= half + config.absorb_reach, axis=1).mean() >= config.absorb_inside
            # pairs: what the image and the points say of the two (a surface in two pieces
            # around a nearer object; a small piece touching a larger one)
            apart = not (inside or rim) and pairs is not None and (
                (config.join_behind > 0 and pairs.behind(i, j)) or
                (len(a.points) <= config.attach_share * len(b.points)
                 and pairs.touching(i, j, config.attach_gap)))
            if not (inside or rim or apart):
                continue
            if apart:
                pairs.joined(i, j)
            if rim or apart:
                b.boxes = {kind: _grown(box, a.points) for kind, box in b.boxes.items()}
                b.box = _grown(b.box, a.points)
            b.points = np.concatenate([b.points, a.points])
            b.centroid = b.points.mean(axis=0)
            b.pixels = np.concatenate([b.pixels, a.pixels])
            if a.interior is not None:
                b.interior = a.interior if b.interior is None else np.concatenate(
                    [b.interior, a.interior])
            u0, v0, u1, v1 = b.bbox2d
            b.bbox2d = (min(u0, a.bbox2d[0]), min(v0, a.bbox2d[1]), max(u1, a.bbox2d[2]),
                        max(v1, a.bbox2d[3]))
            gone.add(i)
            break
    keep = [k for k in range(len(dets)) if k not in gone]
    return [dets[k] for k in keep], [hidden[k] for k in keep]


def _grown(box: OrientedBox, points: np.ndarray) -> OrientedBox:
    """``box`` grown along its own axes to hold ``points`` (their 2nd to 98th percentile: a
    stray reading does not stretch it)."""
    local = (points - box.center) @ box.rotation
    lo = np.minimum(percentile(local, 2, axis=0), -box.size / 2)
    hi = np.maximum(percentile(local, 98, axis=0), box.size / 2)
    return OrientedBox(center=box.center + box.rotation @ ((lo + hi) / 2), size=hi - lo,
                       rotation=box.rotation)
