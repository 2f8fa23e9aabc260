"""Objects from one RGB-D frame (ROS-free): back-projection, segmentation, per-object geometry.

Two segmentation paths:
    mask: an instance mask is given (Gazebo's segmentation camera, the project's renderer or an
        upstream detector): every non-zero id with enough valid depth is one object.
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

import numpy as np

from spatial_ros.colors import color_name
from spatial_ros.geometry import CameraIntrinsics, Pose
from spatial_ros.perception.amodal import (
    bottom_hidden,
    extend_down,
    object_geometry,
    surface_below,
)
from spatial_ros.perception.segmentation import cells_by_region, depth_regions, label_order
from spatial_ros.perception.shapes import image_features
from spatial_ros.perception.supports import find_planes
from spatial_ros.perception.types import Detection, FrameReport, PerceptionConfig

__all__ = ["detect_objects"]

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
    optical = _rays(intrinsics, s)[vi] * dv[:, None]  # (N, 3) optical frame, float32
    pts = optical @ camera_pose.rotation.T + camera_pose.translation  # (N, 3) world
    rgb_s = rgb[::s, ::s]
    interior: dict[int, np.ndarray] = {}  # class-agnostic: image cells that are not surface
    if mask is not None:
        lab = mask[::s, ::s].ravel()[vi].astype(np.int32)
        if supports is not None:
            report.support_heights = list(supports)
        elif config.mask_supports:  # support surfaces from the unlabelled background
            find_planes(pts[lab == 0], config, report, dv[lab == 0])
    else:
        off_plane = find_planes(pts, config, report, dv)
        fg = np.zeros(sh * sw, bool)
        fg[vi[off_plane]] = True
        sil_grid = np.zeros((sh, sw), np.int32)
        grid_pts = np.zeros((sh * sw, 3), np.float32)
        grid_pts[vi] = optical
        grid = depth_regions(np.where(valid, d, 0.0), fg.reshape(sh, sw), rgb_s, config,
                             silhouette=sil_grid, points=grid_pts.reshape(sh, sw, 3))
        lab = grid.ravel()[vi]
        interior = {k: _grid_pixels(c, sw, s, w) for k, c in cells_by_region(sil_grid).items()}
    order = label_order(lab)
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
        u0, v0, u1, v1 = (int(cols.min() * s), int(rows.min() * s),  # a stride that does not
                          min(int(cols.max() * s + s - 1), w - 1),  # divide the image size
                          min(int(rows.max() * s + s - 1), h - 1))  # ends at its edge
        if mask is not None:  # the full-resolution silhouette
            sil = mask[v0:v1 + 1, u0:u1 + 1] == inst
        else:  # the strided region, blown up to full resolution
            sil = np.kron(labels[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == inst,
                          np.ones((s, s), bool))[:v1 + 1 - v0, :u1 + 1 - u0]
        image = image_features(sil, rgb[v0:v0 + sil.shape[0], u0:u0 + sil.shape[1]].max(axis=2))
        box, shape, feats, boxes = object_geometry(p, config, camera_pose,
                                             report.support_heights, image)
        if float(np.max(box.size)) > config.max_object_size:
            continue
        px = rgb_flat[cells].astype(np.float32)
        bright = px.max(axis=1)  # the best-lit pixels show the surface colour least shaded
        colour = np.median(px[bright >= np.percentile(bright, 75)], axis=0) / 255.0
        dets.append(Detection(
            points=p, centroid=p.mean(axis=0), box=box, color=color_name(colour), rgb=colour,
            shape=shape, shape_features=feats, boxes=boxes, pixels=_grid_pixels(cells, sw, s, w),
            interior=interior.get(inst) if mask is None else None,
            instance=inst if mask is not None else 0,
            bbox2d=(u0, v0, u1, v1)))
        # a sphere's box is completed by its fit: no need to look under it
        hidden_bottom.append(shape != "sphere"
                             and bottom_hidden(rows, cols, labels, dgrid, inst, config))
    for det, hidden in zip(dets, hidden_bottom):
        if not hidden:
            continue
        floor = surface_below(det, dets, report.support_heights, config.support_snap)
        if floor is not None:
            det.boxes = extend_down(det.boxes, floor)
            det.box = det.boxes.get(det.shape, det.boxes["box"])
    return dets, report
