"""Depth sensor models applied to ideal rendered depth: deterministic for a given seed.

Presets:
    ideal: the rendered depth as is.
    realsense_d435: active stereo. Noise sigma = z^2 * subpixel / (f * baseline) with the D435's
        50 mm baseline and 0.08 px subpixel accuracy at 640 px (about 4 mm at 1 m, 6.7 cm at
        4 m); disparity quantisation; 0.28 m minimum range; holes at depth discontinuities;
        dropouts on dark surfaces; output quantised to millimetres (16UC1).
    kinect: structured light (Kinect v1; Khoshelham & Elberink 2012, Nguyen et al. 2012): sigma =
        1.2 mm + 1.9 mm * (z - 0.4)^2 (z in m), disparity steps of 1/8 px over a 75 mm baseline,
        0.5 - 4.5 m range, a shadow band beside depth edges.
    rgb_only: no depth at all (every pixel NaN).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial_ros.errors import SpatialRosError

__all__ = ["SensorModel", "PRESETS", "get_sensor", "apply_sensor"]


@dataclass(frozen=True)
class SensorModel:
    name: str
    has_depth: bool = True
    min_range: float = 0.0
    max_range: float = float("inf")
    sigma_quadratic: float = 0.0  # sigma = sigma_const + sigma_quadratic * (z - z0)^2
    sigma_const: float = 0.0
    sigma_z0: float = 0.0
    disparity_step: float = 0.0  # depth quantum = disparity_step * z^2 (0 = none)
    edge_threshold: float = 0.0  # relative depth jump that makes a hole (0 = no edge holes)
    edge_dropout: float = 0.0  # probability that a pixel at a depth edge has no reading
    dark_threshold: int = 0  # mean RGB below which surfaces may drop out
    dark_dropout: float = 0.0
    millimetres: bool = False

    def sigma(self, z: np.ndarray) -> np.ndarray:
        """Expected depth noise (m) at depth ``z`` (m)."""
        return self.sigma_const + self.sigma_quadratic * (z - self.sigma_z0) ** 2


PRESETS: dict[str, SensorModel] = {
    "ideal": SensorModel("ideal"),
    "realsense_d435": SensorModel(
        "realsense_d435", min_range=0.28, max_range=10.0,
        sigma_quadratic=0.08 / (383.0 * 0.050), disparity_step=1.0 / (383.0 * 0.050 * 32),
        edge_threshold=0.04, edge_dropout=0.6, dark_threshold=40, dark_dropout=0.5,
        millimetres=True),
    "kinect": SensorModel(
        "kinect", min_range=0.5, max_range=4.5, sigma_const=0.0012, sigma_quadratic=0.0019,
        sigma_z0=0.4, disparity_step=1.0 / (580.0 * 0.075 * 8), edge_threshold=0.05,
        edge_dropout=0.9, millimetres=True),
    "rgb_only": SensorModel("rgb_only", has_depth=False),
}


def get_sensor(name: str) -> SensorModel:
    try:
        return PRESETS[name]
    except KeyError:
        raise SpatialRosError(f"unknown sensor preset {name!r}; expected one of "
                              f"{', '.join(PRESETS)}") from None


def _edges(depth: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels next to a relative depth jump larger than ``threshold`` (or next to no reading)."""
    d = np.where(np.isnan(depth), 0.0, depth)
    edge = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        a = np.take(d, range(1, d.shape[axis]), axis=axis)
        b = np.take(d, range(0, d.shape[axis] - 1), axis=axis)
        jump = np.abs(a - b) > threshold * np.maximum(np.minimum(a, b), 1e-6)
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        edge[tuple(lo)] |= jump
        edge[tuple(hi)] |= jump
    return edge


def apply_sensor(depth: np.ndarray, rgb: np.ndarray, sensor: SensorModel | str,
                 rng: np.random.Generator) -> np.ndarray:
    """Return the depth the sensor would report (float32 metres, NaN = no reading)."""
    model = get_sensor(sensor) if isinstance(sensor, str) else sensor
    if not model.has_depth:
        return np.full(depth.shape, np.nan, np.float32)
    out = depth.astype(np.float64, copy=True)
    valid = np.isfinite(out)
    z = out[valid]
    if model.sigma_quadratic or model.sigma_const:
        z = z + rng.normal(size=z.shape) * model.sigma(z)
    if model.disparity_step:
        quantum = model.disparity_step * z ** 2
        z = np.round(z / quantum) * quantum
    out[valid] = z
    drop = ~valid | (out < model.min_range) | (out > model.max_range)
    if model.edge_threshold:
        edges = _edges(depth, model.edge_threshold)
        drop |= edges & (rng.random(depth.shape) < model.edge_dropout)
    if model.dark_threshold:
        dark = rgb.mean(axis=2) < model.dark_threshold
        drop |= dark & (rng.random(depth.shape) < model.dark_dropout)
    if model.millimetres:
        out = np.round(out * 1000.0) / 1000.0
    out[drop] = np.nan
    return out.astype(np.float32)
