"""Colour names from RGB (ROS-free): the nearest of a small palette in a perceptual-ish space."""
from __future__ import annotations

import numpy as np

__all__ = ["PALETTE", "color_name"]

#: Name -> RGB in [0, 1]. SpatialBench draws object colours from this palette.
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.10, 0.10),
    "green": (0.10, 0.70, 0.15),
    "blue": (0.10, 0.20, 0.85),
    "yellow": (0.90, 0.85, 0.10),
    "orange": (0.95, 0.50, 0.05),
    "purple": (0.55, 0.15, 0.70),
    "cyan": (0.10, 0.80, 0.85),
    "pink": (0.95, 0.45, 0.70),
    "brown": (0.45, 0.28, 0.12),
    "white": (0.92, 0.92, 0.92),
    "grey": (0.50, 0.50, 0.50),
    "black": (0.08, 0.08, 0.08),
}
_NAMES = list(PALETTE)
_CHROMA = np.array([np.array(v) / max(sum(v), 1e-6) for v in PALETTE.values()])
_VALUE = np.array([max(v) for v in PALETTE.values()])


def color_name(rgb: np.ndarray | tuple[float, float, float]) -> str:
    """Name of the palette colour nearest to ``rgb`` (floats in [0, 1]).

    Compares chromaticity (rgb / sum) and brightness (as a ratio) separately, so shading that
    darkens a surface keeps its hue's name.
    """
    c = np.asarray(rgb, dtype=float)
    chroma = c / max(c.sum(), 1e-6)
    value = c.max()
    # brightness on a ratio scale: shading scales a surface's value, so a shaded grey is
    # nearer grey than black in log terms
    d = np.linalg.norm(_CHROMA - chroma, axis=1) * 3.0 \
        + np.abs(np.log(_VALUE) - np.log(max(value, 1e-3))) * 0.4
    return _NAMES[int(np.argmin(d))]
