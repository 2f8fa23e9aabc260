"""Colour names from RGB (ROS-free): the nearest of a small palette in a perceptual-ish space."""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["PALETTE", "color_name", "surface_color"]

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


_GREYS = ("white", "grey", "black")
_GREY_LOG_VALUE = np.log(_VALUE[[_NAMES.index(n) for n in _GREYS]])
#: Hue families (HSV hue in degrees, upper bounds) for chromatic pixels.
_HUES = ((10.0, "red"), (40.0, "orange"), (70.0, "yellow"), (165.0, "green"), (200.0, "cyan"),
         (260.0, "blue"), (300.0, "purple"), (335.0, "pink"), (360.0, "red"))
_HUE_BOUNDS = np.array([b for b, _n in _HUES])
_HUE_NAMES = np.array([n for _b, n in _HUES])


def surface_color(pixels: np.ndarray, *, min_saturation: float = 0.3,
                  min_chroma: float = 0.12, chromatic_share: float = 0.35) -> str:
    """The colour a person would name an object by, from its own pixels (N x 3, [0, 1]).

    Each pixel votes: a chromatic one (saturation and max - min chroma over the thresholds) for
    its hue family, an achromatic one for the nearest of white, grey and black. Where at least
    ``chromatic_share`` of the pixels are chromatic, the most voted hue wins (an orange
    whose best-lit quarter ``color_name`` calls brown is brown); else the most voted
    achromatic name. Highlights and white print are a minority of a coloured object's pixels
    and do not name it, as the best-lit pixels did; a real white surface in shade reads
    slightly blue, under the saturation floor.
    """
    px = np.asarray(pixels, float).reshape(-1, 3)
    if len(px) == 0:
        return "unknown"
    hi, lo = px.max(axis=1), px.min(axis=1)
    chroma = hi - lo
    chromatic = (chroma >= min_chroma) & (chroma >= min_saturation * np.maximum(hi, 1e-6))
    if chromatic.mean() >= chromatic_share:
        c = px[chromatic]
        hsv = cv2.cvtColor(c.astype(np.float32).reshape(-1, 1, 3), cv2.COLOR_RGB2HSV)
        hue = hsv.reshape(-1, 3)[:, 0]  # degrees for float input
        names = _HUE_NAMES[np.searchsorted(_HUE_BOUNDS, hue, side="right").clip(0, len(_HUES) - 1)]
        kinds, counts = np.unique(names, return_counts=True)
        name = str(kinds[counts.argmax()])
        if name == "orange":  # brown is a dark orange: the palette says where the family's
            mine = c[names == name]  # best-lit pixels are nearer brown (not for red or yellow:
            # a real yellow bottle or red box, duller than the palette's, is still yellow, red)
            value = mine.max(axis=1)
            if color_name(np.median(mine[value >= np.percentile(value, 75)], axis=0)) == "brown":
                return "brown"
        return name
    # the nearest of white, grey and black by value on a ratio scale, as color_name
    value = np.log(np.maximum(hi[~chromatic], 1e-3))
    votes = np.bincount(np.abs(value[:, None] - _GREY_LOG_VALUE).argmin(axis=1), minlength=3)
    return _GREYS[int(votes.argmax())]
