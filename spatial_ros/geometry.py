"""Camera models and rigid transforms (ROS-free).

Conventions follow REP-103: camera optical frames are x right, y down, z forward; body and
world frames are x forward, y left, z up. Quaternions are (x, y, z, w) as in geometry_msgs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.errors import CameraInfoError

__all__ = [
    "CameraIntrinsics",
    "quat_to_matrix",
    "matrix_to_quat",
    "Pose",
    "take_rows",
]


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a camera, as carried by sensor_msgs/CameraInfo.

    Attributes:
        width: image width in pixels.
        height: image height in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels.
        distortion_model: ``plumb_bob``, ``rational_polynomial``, ``equidistant`` or ``""``.
        distortion: the distortion coefficients D.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: str = "plumb_bob"
    distortion: tuple[float, ...] = field(default=(0.0, 0.0, 0.0, 0.0, 0.0))

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise CameraInfoError(
                f"camera size must be positive, got width={self.width} height={self.height}"
            )
        for name in ("fx", "fy"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise CameraInfoError(f"camera focal length {name}={value} must be positive")
        for name in ("cx", "cy"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise CameraInfoError(f"camera principal point {name}={value} must be finite")

    @classmethod
    def from_hfov(cls, *, width: int, height: int, hfov: float) -> CameraIntrinsics:
        """Intrinsics of an ideal camera as Gazebo builds it: fx = fy = width / (2 tan(hfov/2)).

        Args:
            width: image width in pixels.
            height: image height in pixels.
            hfov: horizontal field of view in radians, in (0, pi).
        """
        if not (0.0 < hfov < math.pi):
            raise CameraInfoError(f"horizontal_fov={hfov} rad must lie in (0, pi)")
        if width <= 0 or height <= 0:
            raise CameraInfoError(
                f"camera size must be positive, got width={width} height={height}"
            )
        f = width / (2.0 * math.tan(hfov / 2.0))
        return cls(width=width, height=height, fx=f, fy=f, cx=width / 2.0,
                   cy=height / 2.0, distortion_model="plumb_bob",
                   distortion=(0.0, 0.0, 0.0, 0.0, 0.0))

    @property
    def K(self) -> np.ndarray:  # noqa: N802 (the conventional name)
        """The 3x3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def ray_directions(self, stride: int = 1) -> np.ndarray:
        """Optical-frame ray directions with unit z (N, 3), every ``stride``-th pixel, row-major:
        a ray's hit distance along it is the depth."""
        u, v = np.meshgrid(np.arange(0, self.width, stride, dtype=np.float32),
                           np.arange(0, self.height, stride, dtype=np.float32))
        return np.stack([(u - np.float32(self.cx)) / np.float32(self.fx),
                         (v - np.float32(self.cy)) / np.float32(self.fy), np.ones_like(u)],
                        axis=-1).reshape(-1, 3)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project optical-frame points (N, 3) to pixel coordinates (N, 2) (no distortion)."""
        z = points[:, 2]
        return np.stack([self.fx * points[:, 0] / z + self.cx,
                         self.fy * points[:, 1] / z + self.cy], axis=1)

    def backproject(self, depth: np.ndarray) -> np.ndarray:
        """Back-project a depth image (H, W) in metres to optical-frame points (H, W, 3).

        Pixels without a reading (NaN) give NaN points.
        """
        h, w = depth.shape
        if (w, h) != (self.width, self.height):
            raise CameraInfoError(
                f"depth image is {w}x{h} but the camera is {self.width}x{self.height}"
            )
        u = (np.arange(w, dtype=np.float32) - np.float32(self.cx)) / np.float32(self.fx)
        v = (np.arange(h, dtype=np.float32) - np.float32(self.cy)) / np.float32(self.fy)
        out = np.empty((h, w, 3), dtype=np.float32)
        out[..., 0] = depth * u[None, :]
        out[..., 1] = depth * v[:, None]
        out[..., 2] = depth
        return out


def take_rows(a: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The rows of ``a`` picked by ``which`` (a boolean mask or indices), as ``a[which]``
    gives them: ``take`` along the first axis, 6-8x faster than numpy's fancy and boolean
    indexing of an (N, 3) point array (460-600 us -> 76 us for 31 000 points, this CPU)."""
    which = np.asarray(which)
    return a.take(np.flatnonzero(which) if which.dtype == np.bool_ else which, axis=0)


def percentile(a: np.ndarray, q, axis: int | None = None):
    """``np.percentile(a, q, axis=axis)`` (linear interpolation), the same values and dtype bit
    for bit, for a 1-D array (``axis`` None) or each column of a 2-D one (``axis`` 0): one
    partition and the two neighbours of each quantile, without numpy's general machinery
    (9 against 45-60 us on the few thousand heights of an object, this CPU). Empty arrays
    and arrays holding NaN go to numpy, which answers them."""
    a = np.asarray(a)
    if axis is not None:
        if axis != 0 or a.ndim != 2:
            return np.percentile(a, q, axis=axis)
        cols = [percentile(a[:, j], q) for j in range(a.shape[1])]
        return np.array(cols) if np.ndim(q) == 0 else np.stack(cols, axis=-1)
    n = a.shape[0] if a.ndim == 1 else 0
    if n == 0:
        return np.percentile(a, q)
    scalar = np.ndim(q) == 0
    where = [float(q) / 100.0 * (n - 1)] if scalar else [float(x) / 100.0 * (n - 1) for x in q]
    lows = [int(math.floor(v)) for v in where]
    part = np.partition(a, sorted({*lows, *(min(k + 1, n - 1) for k in lows), n - 1}))
    if part.dtype.kind == "f" and np.isnan(part[n - 1]):  # numpy's NaN answer
        return np.percentile(a, q)
    out = []
    for v, lo in zip(where, lows):
        # numpy's _lerp: a Python float fraction for one quantile (the array's dtype), a
        # float64 one for several
        t = v - lo if scalar else np.float64(v - lo)
        x0, x1 = part[lo], part[min(lo + 1, n - 1)]
        diff = x1 - x0
        out.append(x1 - diff * (1 - t) if t >= 0.5 else x0 + diff * t)
    return out[0] if scalar else np.array(out)


def quat_to_matrix(q: np.ndarray | tuple[float, float, float, float]) -> np.ndarray:
    """Rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = (float(c) for c in q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n == 0.0 or not math.isfinite(n):
        raise ValueError(f"quaternion {q} has no valid norm")
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of a rotation matrix, with w >= 0."""
    m = np.asarray(r, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


@dataclass(frozen=True)
class Pose:
    """A rigid transform: ``p_parent = rotation @ p_child + translation``."""

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> Pose:
        return cls(rotation=np.asarray(m[:3, :3], float), translation=np.asarray(m[:3, 3], float))

    @property
    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m

    def inverse(self) -> Pose:
        rt = self.rotation.T
        return Pose(rotation=rt, translation=-rt @ self.translation)

    def __matmul__(self, other: Pose) -> Pose:
        return Pose(rotation=self.rotation @ other.rotation,
                    translation=self.rotation @ other.translation + self.translation)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points (N, 3) from the child frame to the parent frame."""
        return points @ self.rotation.T + self.translation
