"""Support surfaces and structure: the dominant planes of a frame (RANSAC, Open3D), refitted by
least squares; horizontal ones are support heights."""
from __future__ import annotations

import math

import numpy as np

from spatial_ros.geometry import percentile, take_rows
from spatial_ros.perception.types import FrameReport, PerceptionConfig
from spatial_ros.scene import OrientedBox, Support

__all__ = ["find_planes", "refit_plane", "rings_opening", "surface_extent",
           "HORIZONTAL"]

#: a plane whose normal's |z| is over this is horizontal (a support or a rim); under it, a wall
HORIZONTAL = 0.95


def refit_plane(points: np.ndarray, n: np.ndarray, d: float, distance: float | np.ndarray,
                rounds: int = 3, settle: int = 50, settle_points: int = 1500
                ) -> tuple[np.ndarray, float]:
    """Least-squares plane (unit normal, offset) through the points within ``distance`` of
    the plane (n, d) (one distance, or one per point), refitted ``rounds`` times; the normal
    keeps its sign.

    Then the plane settles: up to ``settle`` rounds of a Gaussian-weighted fit (sigma =
    distance / 2, every point weighted, none cut off, on about ``settle_points`` evenly spread
    points) to its fixed point, rounded to a micrometre. Open3D's RANSAC runs on threads and
    its planes vary from run to run despite its seed (a known Open3D issue); the hard cut-off
    kept starts a tenth of a millimetre apart (points at the cut-off change sides), the settled
    fit ends them on the same plane (2 of 45 SpatialBench planes varied over 8 runs each
    before, none after). ``settle=0``: the hard refit alone."""
    for _ in range(rounds):
        inl = take_rows(points, np.abs(points @ n + d) < distance)
        if len(inl) < 3:
            break
        n, d = _fit(inl, n)
    if settle <= 0:
        return n, d
    step = max(1, len(points) // settle_points)
    points = np.asarray(points[::step], float)
    inv_var = (1.0 / (np.asarray(distance, float) / 2) ** 2)
    if inv_var.ndim:
        inv_var = inv_var[::step]
    # each round's weighted sums (weight, first and second moments) are one product with the
    # points' moments, taken once: (N, 10) columns 1, x, y, z, xx, xy, xz, yy, yz, zz
    px, py, pz = points.T
    moments = np.stack([np.ones(len(points)), px, py, pz, px * px, px * py, px * pz, py * py,
                        py * pz, pz * pz], axis=1)
    history: list[np.ndarray] = []
    for _ in range(settle):
        r = points @ n + d
        m = np.exp(-0.5 * r * r * inv_var) @ moments
        if m[0] < 3 * np.finfo(float).eps:
            break
        n2, d2 = _fit_moments(m, n)
        done = np.abs(n2 - n).max() < 1e-9 and abs(d2 - d) < 1e-9
        n, d = n2, d2
        if done:
            break
        # the rounds close in geometrically (by a factor 0.7-0.9 each on real tables, 50
        # rounds were not enough): every third round jumps to the limit of the last three
        # (Aitken's extrapolation, per component), where their steps shrink alike
        history.append(np.append(n, d))
        if len(history) == 3:
            x0, x1, x2 = history
            d1, d2_ = x1 - x0, x2 - x1
            den = d2_ - d1
            ratio = np.divide(d2_, d1, out=np.zeros_like(d1), where=np.abs(d1) > 1e-15)
            ok = (np.abs(den) > 1e-15) & (ratio > 0) & (ratio < 0.97)
            if ok.all():
                x = x2 - d2_ * d2_ / den
                n, d = x[:3] / np.linalg.norm(x[:3]), float(x[3])
            history = []
    n = np.round(n, 6)
    return n / np.linalg.norm(n), round(d, 6)


def _fit(points: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane through the points, its normal on the side of ``n``."""
    # the centroid as a product with ones (BLAS): points.mean(axis=0) of an (N, 3) array
    # took 0.4 ms for 31 000 points, the product 0.02 ms
    c = np.ones(len(points)) @ points / len(points)
    x = points - c
    scatter = x.T @ x
    # the scatter's least eigenvector: the SVD's last right singular vector, from a 3x3
    normal = np.linalg.eigh(scatter)[1][:, 0]
    normal = normal if normal @ n >= 0 else -normal
    return normal, float(-normal @ c)


_SCATTER = np.array([[4, 5, 6], [5, 7, 8], [6, 8, 9]])  #: refit_plane's moments as a 3 x 3


def _fit_moments(m: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, float]:
    """The weighted least-squares plane of the weighted sums ``m`` (refit_plane's ten
    moments), its normal on the side of ``n``."""
    total = m[0]
    c = m[1:4] / total
    # the 3 x 3 by one fancy index and the outer product by broadcasting: what np.array of
    # nine scalars and np.outer gave, 26 -> 15 us a round (settling takes about 100 a frame)
    scatter = m[_SCATTER] - total * (c[:, None] * c[None, :])
    normal = np.linalg.eigh(scatter)[1][:, 0]
    normal = normal if normal @ n >= 0 else -normal
    return normal, float(-normal @ c)


def _span(points: np.ndarray, normal: np.ndarray) -> float:
    """The larger in-plane extent of a plane's inliers (2nd-98th percentile)."""
    if len(points) < 3:
        return 0.0
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    c = points - points.mean(axis=0)
    a, b = c @ u, c @ v
    cov = np.cov(np.stack([a, b]))
    _, vecs = np.linalg.eigh(cov)
    along = np.stack([a, b], axis=1) @ vecs[:, -1]
    lo, hi = percentile(along, [2, 98])
    return float(hi - lo)


_LEVEL = math.cos(math.radians(5.0))


def surface_extent(points: np.ndarray, height: float) -> OrientedBox:
    """A horizontal surface's extent from its inlier ``points`` (world): a rectangle at
    ``height`` along the principal axes of their x, y, over their 2nd to 98th percentile
    (stray inliers beyond the surface's edge left out); size z 0."""
    xy = np.asarray(points, float)[:, :2]
    if len(xy) < 3:
        c = xy.mean(axis=0) if len(xy) else np.zeros(2)
        return OrientedBox(center=[c[0], c[1], height], size=[0.0, 0.0, 0.0])
    c = xy.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov((xy - c).T))
    major = vecs[:, -1] if vecs[0, -1] >= 0 else -vecs[:, -1]  # x axis along the longer side
    axes = np.stack([major, [-major[1], major[0]]], axis=1)  # (2, 2) columns: box x, y
    local = (xy - c) @ axes
    lo, hi = percentile(local, [2, 98], axis=0)
    mid = c + axes @ ((lo + hi) / 2)
    rot = np.eye(3)
    rot[:2, :2] = axes
    return OrientedBox(center=[mid[0], mid[1], height], size=[hi[0] - lo[0], hi[1] - lo[1], 0.0],
                       rotation=rot)


def _one_surface(points: np.ndarray, inliers: np.ndarray, cells: np.ndarray | None,
                 grid: tuple[int, int] | None, span: float, normal: np.ndarray) -> bool:
    """Whether a plane's inliers are one large surface: the largest 8-connected region they
    form on the image grid holds half of them and spans ``span`` (m); without the grid, their
    span alone."""
    if cells is None or grid is None:
        return _span(take_rows(points, inliers), normal) >= span
    import cv2

    mask = np.zeros(grid[0] * grid[1], np.uint8)
    mask[cells[inliers]] = 1
    count, labels = cv2.connectedComponents(mask.reshape(grid), connectivity=8)
    if count <= 1:
        return False
    lab = labels.ravel()[cells[inliers]]
    sizes = np.bincount(lab, minlength=count)
    sizes[0] = 0
    biggest = int(sizes.argmax())
    if sizes[biggest] * 2 < len(inliers):
        return False
    return _span(points[inliers[lab == biggest]], normal) >= span


def rings_opening(points: np.ndarray, on: np.ndarray, cells: np.ndarray | None,
                  grid: tuple[int, int] | None, n: np.ndarray, d: float, depth: float) -> bool:
    """Whether a level plane's inliers (``on``, indices into ``points``) ring an opening: the
    readings within the convex hull of their image cells (``cells``: each point's flat index
    in the ``grid``) that are not inliers outnumber the inliers, and over half of them lie
    ``depth`` or more under the plane (n, d). A tote's rim seen from above rings its floor
    and contents; a table's outline holds the things standing on it, above it, and a floor's
    the table. With the rim taken for a large support, the packages in the tote under its
    height were parts of it (support_part: SpatialBench bin_val, 21 of 86 objects missed).
    The inliers' cells are opened (3 x 3) first: a wall's readings at a table's height are
    inliers too, a line that stretched the table's hull over the wall under it."""
    if cells is None or grid is None or depth <= 0 or len(on) < 3:
        return False
    import cv2

    mask = np.zeros(grid[0] * grid[1], np.uint8)
    mask[cells[on]] = 1
    mask = cv2.morphologyEx(mask.reshape(grid), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    rows, cols = np.nonzero(mask)
    if len(rows) < 3:
        return False
    hull = cv2.convexHull(np.stack([cols, rows], axis=1).astype(np.int32))
    inside = np.zeros(grid, np.uint8)
    cv2.fillConvexPoly(inside, hull, 1)
    height = np.full(grid[0] * grid[1], np.nan)  # over the plane: its normal turned up
    height[cells] = (points @ n + d) * (1.0 if n[2] >= 0 else -1.0)
    height[cells[on]] = np.nan  # the inliers themselves
    within = height[inside.ravel() > 0]
    within = within[np.isfinite(within)]
    return len(within) > len(on) and np.count_nonzero(within <= -depth) * 2 > len(within)


def _runs_out(sides: np.ndarray | None, inliers: np.ndarray, need: int) -> bool:
    """Whether a plane's inliers reach the image border on at least ``need`` sides (a side
    counts with at least 3 inlier points on it)."""
    if sides is None or need <= 0 or len(inliers) == 0:
        return False
    bits = sides[inliers]
    return sum(int(np.count_nonzero(bits & b) >= 3) for b in (1, 2, 4, 8)) >= need


def find_planes(points: np.ndarray, config: PerceptionConfig, report: FrameReport,
                ranges: np.ndarray | None = None, sides: np.ndarray | None = None,
                cells: np.ndarray | None = None, grid: tuple[int, int] | None = None
                ) -> np.ndarray:
    """Remove dominant planes; return the mask of points that are not on one.

    A point is on a plane within ``plane_distance`` plus ``plane_sigmas`` depth-noise sigmas at
    its ``ranges`` (the sensor model: a RealSense's noise grows with the square of the range,
    so far floor and table readings stay on their plane). A plane holds ``plane_min_fraction``
    of the readings, or, level and large, ``support_min_fraction`` (a floor beyond the table).
    A horizontal plane is a support; a
    tilted one is structure (a wall) where its inliers span ``structure_size``, or where they
    run out of the image on ``structure_border_sides`` of its sides (``sides``: each point's
    image-border bits, 1 top, 2 bottom, 4 left, 8 right; a wall seen from close by spans less
    than a big object but continues beyond the view). A big object's flat face is left to
    segmentation, and the search goes on past it for further planes. A large support (for
    the low share above, and for ``FrameReport.large_supports``) is one surface: most of its
    inliers form one region of the image grid (``cells``: each point's flat index in the
    ``grid`` of shape (rows, cols)), not the tops of several objects of one height. A level
    plane that rings an opening (rings_opening: a tote's rim) is structure, no support. A
    horizontal plane tilted more than ``support_max_tilt`` is no support either: its inliers
    stay (object faces) and the search goes on.
    """
    import open3d as o3d

    keep = np.ones(len(points), bool)
    faces = np.zeros(len(points), bool)  # object faces set aside from the search, kept
    rng = np.random.default_rng(config.seed)
    for _ in range(config.max_planes):
        idx = np.flatnonzero(keep & ~faces)
        if len(idx) < 3 * config.min_points:
            break
        sub = idx if len(idx) <= config.plane_samples else idx[rng.integers(
            0, len(idx), config.plane_samples)]
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(
            take_rows(points, sub).astype(np.float64)))
        o3d.utility.random.seed(int(config.seed))
        model, inliers = pcd.segment_plane(config.plane_distance, 3, config.plane_iterations)
        # share of *all* points (estimated from the subset): object faces never qualify
        share = len(inliers) / len(sub) * len(idx) / len(points)
        n, d = np.asarray(model[:3]), float(model[3])
        norm = np.linalg.norm(n)
        n, d = n / norm, d / norm
        low = share < config.plane_min_fraction
        if low and not (share >= config.support_min_fraction and abs(n[2]) >= _LEVEL
                        and _span(take_rows(points, sub[inliers]), n) >= config.support_part_span):
            break
        # Open3D's RANSAC varies from run to run despite its seed: the refit settles it
        rest = take_rows(points, idx)
        # refitted on at most refit_points evenly spread points: a plane of 60 000 readings
        # moves by micrometres when 20 000 of them fit it
        step = max(1, len(rest) // config.refit_points)
        n, d = refit_plane(rest[::step], n, d, config.plane_distance)
        tol = config.plane_distance if ranges is None else config.plane_distance \
            + config.plane_sigmas * config.noise_quadratic * ranges[idx] ** 2
        on = np.abs(rest @ n + d) < tol
        large = abs(n[2]) >= _LEVEL and _one_surface(points, idx[on], cells, grid,
                                                     config.support_part_span, n)
        if low and not large:
            break  # a level plane of little share that is no one surface: the tops of objects
        horizontal = abs(n[2]) > HORIZONTAL
        if horizontal and abs(n[2]) < math.cos(math.radians(config.support_max_tilt)):
            # no support: a level one's normal is within a few degrees of up; tilted more, it
            # runs through the tops of several objects and a table's front edge. Kept as the
            # objects' faces, and the search goes on
            faces[idx[on]] = True
            continue
        if horizontal and rings_opening(points, idx[on], cells, grid, n, d, config.rim_depth):
            keep[idx[on]] = False  # a frame around an opening (a tote's rim): structure
            report.planes.append((n, d))
            continue
        if not horizontal and _span(take_rows(rest, on), n) < config.structure_size and \
                not _runs_out(sides, idx[on], config.structure_border_sides):
            if config.structure_border_sides <= 0:
                break  # an object's face, not a wall: the largest plane left is no structure
            faces[idx[on]] = True  # an object's face: kept, and the search goes on
            continue
        keep[idx[on]] = False
        report.planes.append((n, d))
        if horizontal:  # a support surface at height -d / n_z
            report.support_heights.append(-d / n[2])
            step = max(1, int(on.sum()) // 5000)  # its extent from up to 5000 of its points
            report.surfaces.append(Support(
                id=0, height=-d / n[2], box=surface_extent(take_rows(rest, on)[::step], -d / n[2]),
                point_count=int(on.sum()), large=bool(large)))
            # a large support is level (within 5 deg): a plane tilted through several objects'
            # tops and sides can pass as horizontal (within 18 deg) and span as much
            if large:
                report.large_supports.append(-d / n[2])
    return keep
