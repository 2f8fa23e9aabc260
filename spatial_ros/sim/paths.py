"""Camera paths for the simulated camera (ROS-free): static, orbiting or scripted."""
from __future__ import annotations

import math
import os
import pathlib
import sys

import numpy as np

from spatial_ros.errors import SdfError
from spatial_ros.geometry import Pose
from spatial_ros.sim.sdf import OPTICAL_FROM_BODY, euler_to_matrix

__all__ = ["look_at", "CameraPath", "find_world"]


def look_at(eye: np.ndarray, target: np.ndarray) -> Pose:
    """World pose of an optical frame at ``eye`` looking at ``target`` with world z up."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return Pose(rotation=np.stack([x, y, z], axis=1), translation=eye)


class CameraPath:
    """Pose of the optical frame at time t for a static, orbiting or scripted camera.

    Args:
        mode: ``static`` (the SDF pose), ``orbit`` (circle around the point the SDF camera looks
            at, at its height, one turn per ``period`` s) or ``scripted`` (waypoints
            ``x y z roll pitch yaw`` of the sensor body, held ``period`` s each, cycling).
    """

    def __init__(self, base: Pose, *, mode: str = "static", period: float = 20.0,
                 waypoints: list[list[float]] | None = None) -> None:
        if mode not in ("static", "orbit", "scripted"):
            raise ValueError(f"camera path {mode!r}: expected static, orbit or scripted")
        if period <= 0:
            raise ValueError(f"camera path period {period} must be positive")
        if mode == "scripted" and not waypoints:
            raise ValueError("scripted camera path needs at least one waypoint")
        for wp in waypoints or []:
            if len(wp) != 6:
                raise ValueError(f"waypoint {wp}: expected 6 numbers x y z roll pitch yaw")
        self.base, self.mode, self.period = base, mode, period
        self.waypoints = waypoints or []
        fwd = base.rotation[:, 2]
        t = -base.translation[2] / fwd[2] * 0.9 if fwd[2] < -1e-3 else 2.0
        self.target = base.translation + fwd * min(max(t, 0.5), 5.0)

    def pose(self, t: float) -> Pose:
        if self.mode == "static":
            return self.base
        if self.mode == "orbit":
            rel = self.base.translation - self.target
            radius = math.hypot(rel[0], rel[1])
            angle = math.atan2(rel[1], rel[0]) + 2 * math.pi * t / self.period
            eye = self.target + np.array([radius * math.cos(angle), radius * math.sin(angle),
                                          rel[2]])
            return look_at(eye, self.target)
        x, y, z, r, p, yw = self.waypoints[int(t // self.period) % len(self.waypoints)]
        return Pose(rotation=euler_to_matrix(r, p, yw) @ OPTICAL_FROM_BODY,
                    translation=np.array([x, y, z]))


def find_world(name_or_path: str) -> pathlib.Path:
    """A world file by path, or by name in sim/worlds of the source tree or installed share."""
    path = pathlib.Path(name_or_path)
    if path.suffix in (".sdf", ".world") or path.exists():
        if not path.is_file():
            raise SdfError(f"{path}: SDF file not found")
        return path
    candidates = [pathlib.Path(__file__).resolve().parents[2] / "sim" / "worlds",
                  pathlib.Path(sys.prefix) / "share" / "spatial_ros" / "sim" / "worlds"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(pathlib.Path(prefix) / "share" / "spatial_ros" / "sim" / "worlds")
    for folder in candidates:
        if (folder / f"{name_or_path}.sdf").is_file():
            return folder / f"{name_or_path}.sdf"
    raise SdfError(f"world {name_or_path!r} not found (looked in "
                   f"{', '.join(str(c) for c in candidates)})")
