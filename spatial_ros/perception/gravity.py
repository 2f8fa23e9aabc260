"""Which way is up without a world pose: from the dominant support plane or an IMU (ROS-free).

A hand-held camera, or a bag with no tf to a level frame, gives perception no gravity, and
without gravity there is no above, on top of or under. Two sources give it from the data:

    plane: the largest plane of the frame that faces up (its normal, turned towards the camera,
        within ``max_tilt`` of the image's up direction ``up_hint``): a table or the floor. The
        camera's height above it is known too, so support heights are heights above that plane.
        Planes are tried largest first; a wall (tilted more than ``max_tilt``) is set aside and
        the search goes on among the readings left, so that a shelf bin seen from the front,
        whose back panel holds most readings and whose floor few, still gives its floor: a
        support holds ``min_fraction`` of the readings not on the walls set aside. Walls stand
        upright, so with one set aside a support must be perpendicular to it (within
        ``wall_tolerance``), and up is taken in the wall's plane: a grazing floor strip can
        otherwise lose to a plane through its edge and the objects' feet. Where no plane
        qualifies, the planes found still may: a floor that every wall meets at a right angle
        (a tote seen from almost straight above), or a board's underside seen from below (a
        shelf bin whose floor its contents hide); where those two disagree, the frame is
        ambiguous and says so (``_corner_support``).
    IMU: the accelerometer of a sensor at rest measures the reaction to gravity, which points
        up; a RealSense D435i/D455 publishes it (sensor_msgs/Imu) in an optical-convention
        frame. Samples are low-pass filtered (``ImuGravity``); the height is a given number.

Both return the camera's pose in a *level* frame: z up, x along the optical axis projected on
the horizontal (forward), y left (REP-103), origin on the support plane under the camera (plane)
or ``camera_height`` under it (IMU). Heading and horizontal position are not observed: the level
frame turns and moves with the camera, so a moving hand-held camera needs a short tracker memory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spatial_ros.errors import GravityError
from spatial_ros.geometry import CameraIntrinsics, Pose, take_rows
from spatial_ros.perception.supports import refit_plane

__all__ = ["level_pose", "PlaneGravityConfig", "gravity_from_plane", "ImuGravity",
           "STANDARD_GRAVITY", "LEVEL_CAMERA"]

STANDARD_GRAVITY = 9.80665

#: the optical frame's pose in a level frame when up is not known: the camera assumed level
#: (z up, x along the optical axis); the fallback of a frame without gravity, which then gives
#: only the relations that need none (spatial_ros.relations.needs_gravity)
LEVEL_CAMERA = Pose(rotation=np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
                    translation=np.zeros(3))


def level_pose(up: np.ndarray, height: float = 0.0) -> Pose:
    """The optical frame's pose in the level frame whose z is ``up`` (given in the optical frame).

    x is the optical axis projected on the horizontal; where the camera looks straight up or
    down, the image's up direction (-y) projected instead.
    """
    z = np.asarray(up, float)
    norm = float(np.linalg.norm(z))
    if not math.isfinite(norm) or norm < 1e-9:
        raise GravityError(f"up direction {np.round(z, 4).tolist()} has no length")
    z = z / norm
    for axis in (np.array([0.0, 0.0, 1.0]), np.array([0.0, -1.0, 0.0])):
        x = axis - z * float(axis @ z)
        if np.linalg.norm(x) > 1e-3:
            break
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    # rows: the level axes in optical coordinates, so R maps optical vectors to level ones
    return Pose(rotation=np.stack([x, y, z]), translation=np.array([0.0, 0.0, float(height)]))


@dataclass(frozen=True)
class PlaneGravityConfig:
    stride: int = 8  #: every stride-th pixel in each direction
    distance: float = 0.01  #: RANSAC inlier distance (m), plus ``sigmas`` x the depth noise
    sigmas: float = 2.5
    noise_quadratic: float = 0.0  #: depth noise sigma = noise_quadratic * z^2
    #: a support plane holds at least this share of the readings not on walls set aside
    min_fraction: float = 0.15
    max_planes: int = 5  #: planes tried, largest first
    iterations: int = 100
    up_hint: tuple[float, float, float] = (0.0, -1.0, 0.0)  #: roughly up, optical frame
    max_tilt: float = 75.0  #: degrees between a support's normal and ``up_hint``
    max_range: float = 6.0  #: readings beyond are ignored (m)
    #: degrees a support may be off perpendicular to the largest wall set aside
    wall_tolerance: float = 15.0
    #: with a wall set aside (a frontal view: the camera about level), a support's largest tilt
    #: from ``up_hint`` (degrees)
    frontal_max_tilt: float = 30.0
    #: where no support qualifies so: a plane facing the camera within this tilt from
    #: ``up_hint`` (degrees) that every wall found stands perpendicular to (within
    #: ``corner_tolerance``), the largest such: a floor under the room's walls, a tote's floor
    #: inside its sides seen from almost straight above; or a board's underside seen from
    #: below (_corner_support; 0 = no such fallback)
    corner_max_tilt: float = 85.0
    #: degrees two planes may be off a right angle to make a corner (the fallback above)
    corner_tolerance: float = 5.0
    #: the support is refitted on its largest patch of inliers connected in the image, so
    #: that a plane slicing two parallel surfaces at different heights (the floor beside a
    #: tote and the pile's top inside it) takes the orientation of one of them (False: off)
    patch_refit: bool = True
    seed: int = 0


def gravity_from_plane(depth: np.ndarray, intrinsics: CameraIntrinsics,
                       config: PlaneGravityConfig | None = None) -> tuple[Pose, float]:
    """The camera pose in the level frame of the frame's dominant support plane, and the
    share of the readings on that plane.

    Raises:
        GravityError: no plane facing up holds ``min_fraction`` of the readings (the camera
            sees no table or floor, or too little depth).
    """
    import open3d as o3d

    config = config or PlaneGravityConfig()
    s = config.stride
    sampled = np.asarray(depth, np.float32)[::s, ::s]
    grid = sampled.shape  # (rows, cols) of the strided grid
    d = sampled.ravel()
    ok = np.isfinite(d) & (d > 0.05) & (d < config.max_range)
    if ok.sum() < 200:
        raise GravityError(f"plane gravity: only {int(ok.sum())} depth readings in the frame "
                           "(at least 200 needed to find a support plane)")
    pts = take_rows(intrinsics.ray_directions(s), ok) * d[ok, None]
    cells = np.flatnonzero(ok)  # each reading's place in the strided grid
    hint = np.asarray(config.up_hint, float)
    hint /= np.linalg.norm(hint)
    cos_tilt = math.cos(math.radians(config.max_tilt))
    keep = np.ones(len(pts), bool)
    tried = []
    found: list[tuple[np.ndarray, float, float]] = []  # (normal, offset, share of all)
    wall: np.ndarray | None = None  # the largest plane set aside as a wall (its normal)
    sin_wall = math.sin(math.radians(config.wall_tolerance))
    cos_frontal = math.cos(math.radians(config.frontal_max_tilt))
    for _ in range(config.max_planes):
        idx = np.flatnonzero(keep)
        if len(idx) < 100:
            break
        here = take_rows(pts, idx)  # the readings not set aside
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(here.astype(np.float64)))
        o3d.utility.random.seed(int(config.seed))
        model, inl = pcd.segment_plane(config.distance, 3, config.iterations)
        n, off = np.asarray(model[:3], float), float(model[3])
        scale = float(np.linalg.norm(n))
        n, off = n / scale, off / scale
        if off < 0:  # turn the normal towards the camera (the optical origin)
            n, off = -n, -off
        # least-squares refit on the inliers, with the inlier distance of the depth noise
        tol = config.distance + config.sigmas * config.noise_quadratic * here[:, 2] ** 2
        n, off = refit_plane(here, n, off, tol, rounds=1)
        on = np.abs(here @ n + off) < tol
        share = float(on.sum()) / len(idx)  # of the readings not on the walls set aside
        if share < config.min_fraction:
            break
        tried.append(f"{share:.0%} at {math.degrees(math.acos(np.clip(n @ hint, -1, 1))):.0f} deg")
        found.append((n, off, float(on.sum()) / len(pts)))
        upright = wall is None or (abs(float(n @ wall)) <= sin_wall and n @ hint >= cos_frontal)
        if n @ hint >= cos_tilt and off > 0.05 and upright:
            # the support's final fit with the bare inlier distance: the noise allowance
            # grows with range (5 cm at 2 m) and lets a lower surface beyond (a desk, the
            # floor) tilt the plane; the perception's own tighter fit of the same table then
            # disagreed by 6 deg, too tilted to be a level support (SpatialBench household_val
            # gravity error p90 0.14 -> 0.05 deg)
            if config.patch_refit:
                n, off = _patch_refit(here, on, cells[idx], grid, n, off, tol)
            n, off = refit_plane(here, n, off, config.distance, rounds=3)
            if wall is not None:  # up lies in the wall's plane
                n = n - wall * float(n @ wall)
                n /= np.linalg.norm(n)
            return level_pose(n, off), float(on.sum()) / len(pts)
        if wall is None and n @ hint < cos_tilt:
            wall = n
        keep[idx[on]] = False  # a wall or a plane facing away: look for the next
    corner = _corner_support(found, hint, config)
    if corner is not None:
        return corner
    raise GravityError("plane gravity: no support plane (table or floor) in this frame: "
                       + (f"the planes found ({', '.join(tried)} from up_hint) are tilted more "
                          f"than {config.max_tilt:g} deg" if tried else
                          f"no plane holds {config.min_fraction:.0%} of the depth readings"))


def _patch_refit(points: np.ndarray, on: np.ndarray, cells: np.ndarray,
                 grid: tuple[int, int], n: np.ndarray, off: float, tol: np.ndarray
                 ) -> tuple[np.ndarray, float]:
    """The plane (n, off) refitted on the largest patch of its inliers (``on``: the points
    within ``tol`` of it) that is connected in the strided image grid (``cells``: each
    point's place in it)."""
    import cv2

    img = np.zeros(grid[0] * grid[1], np.uint8)
    img[cells[on]] = 1
    count, labels = cv2.connectedComponents(img.reshape(grid), connectivity=8)
    if count <= 2:  # one patch (or none): nothing to choose
        return n, off
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep = labels.ravel()[cells] == int(np.argmax(sizes))
    patch = take_rows(points, keep & on)
    if len(patch) < 50:
        return n, off
    return refit_plane(patch, n, off, tol[keep & on], rounds=3)


def _corner_support(found: list[tuple[np.ndarray, float, float]], hint: np.ndarray,
                    config: PlaneGravityConfig) -> tuple[Pose, float] | None:
    """The fallback when no support qualified, among the planes ``found`` (normal towards
    the camera, offset, share of the readings):

    - a surface seen from below: a plane facing down within ``frontal_max_tilt`` of
      ``-hint`` (the underside of the shelf board above a bin seen from the front, whose own
      floor the things on it hide): up is the other way, and its height the origin;
    - else a support in a corner: a plane within ``corner_max_tilt`` of ``hint`` that every
      wall found (a plane tilted beyond ``max_tilt``, not parallel to it) stands perpendicular
      to within ``corner_tolerance``, the largest such: a floor meets every wall at a right
      angle (a tote's floor seen from almost straight above, inside its sides); a plane
      through objects' fronts and tops, or another wall, rarely does.
    In either, up is taken perpendicular to the partner or the largest wall."""
    if config.corner_max_tilt <= 0:
        return None
    cos_max = math.cos(math.radians(config.corner_max_tilt))
    sin_corner = math.sin(math.radians(config.corner_tolerance))

    def square(n: np.ndarray, walls: list[np.ndarray]) -> np.ndarray:
        if walls:
            n = n - walls[0] * float(n @ walls[0])
        return n / np.linalg.norm(n)

    cos_tilt = math.cos(math.radians(config.max_tilt))
    cos_parallel = math.cos(math.radians(config.wall_tolerance))
    best = None
    for n, off, share in found:
        if off <= 0.05 or n @ hint < cos_max:
            continue
        # the walls: the planes tilted beyond max_tilt, not parallel to it (another board)
        walls = [w for w, _o, _s in found
                 if w @ hint < cos_tilt and abs(float(n @ w)) < cos_parallel]
        if walls and all(abs(float(n @ w)) <= sin_corner for w in walls) and \
                (best is None or share > best[2]):
            best = (n, off, share, walls)
    if best is not None:
        n, off, share, walls = best
        corner = level_pose(square(n, walls), off), share
    else:
        corner = None
    cos_frontal = math.cos(math.radians(config.frontal_max_tilt))
    for n, off, share in found:  # largest first
        if off > 0.05 and -(n @ hint) >= cos_frontal:
            walls = [w for w, _o, _s in found if abs(float(n @ w)) <= sin_corner]
            below = level_pose(square(-n, walls), -off), share
            agree = 1.0 if corner is None else \
                float(np.clip(corner[0].rotation[2] @ below[0].rotation[2], -1, 1))
            if agree < cos_parallel:
                angle = math.degrees(math.acos(agree))
                raise GravityError(  # a tote's side seen from above, or a board's underside
                    "plane gravity: ambiguous: a plane facing down (a board's underside seen "
                    f"from below?) and a floor meeting the walls (seen from above?) give ups "
                    f"{angle:.0f} deg apart; set the up hint (plane_up_hint) to the camera's "
                    "rough up")
            return below
    return corner


class ImuGravity:
    """Up from an accelerometer: each sample (m/s^2, in the IMU frame) is rotated into the
    optical frame and low-pass filtered.

    A sample whose magnitude is far from 1 g is not gravity alone (free fall, a shake, an
    all-zero message): it is refused with ``GravityError`` and does not enter the filter.
    """

    def __init__(self, *, imu_to_optical: np.ndarray | None = None, time_constant: float = 0.5,
                 tolerance: float = 0.3, camera_height: float = 0.0) -> None:
        self.rotation = np.eye(3) if imu_to_optical is None else np.asarray(imu_to_optical, float)
        self.time_constant = time_constant
        self.tolerance = tolerance  #: accepted |a| / g - 1
        self.camera_height = camera_height
        self.up: np.ndarray | None = None  # filtered, optical frame
        self._stamp: float | None = None

    def add(self, accel: np.ndarray, stamp: float) -> None:
        a = np.asarray(accel, float)
        g = float(np.linalg.norm(a))
        if not np.all(np.isfinite(a)) or abs(g / STANDARD_GRAVITY - 1.0) > self.tolerance:
            raise GravityError(f"IMU acceleration {np.round(a, 3).tolist()} m/s^2 (|a| = "
                               f"{g:.2f}) is not gravity: at rest it reads about "
                               f"{STANDARD_GRAVITY:.2f} m/s^2 (free fall, a shake or an unset "
                               "message?)")
        u = self.rotation @ (a / g)
        if self.up is None or self._stamp is None or stamp < self._stamp:
            self.up = u
        else:
            alpha = 1.0 - math.exp(-max(stamp - self._stamp, 0.0) / self.time_constant)
            self.up = (1 - alpha) * self.up + alpha * u
            self.up /= np.linalg.norm(self.up)
        self._stamp = stamp

    def pose(self) -> Pose:
        if self.up is None:
            raise GravityError("no IMU sample with gravity received yet")
        return level_pose(self.up, self.camera_height)
