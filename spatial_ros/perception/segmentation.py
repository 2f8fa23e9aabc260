"""Class-agnostic segmentation back-ends: the foreground (points off the structure planes) of
the strided image grid grouped into object regions."""
from __future__ import annotations

import cv2
import numpy as np

from spatial_ros.perception.types import PerceptionConfig

__all__ = ["hue_bins", "depth_regions"]


def hue_bins(rgb: np.ndarray) -> np.ndarray:
    """A coarse colour class per pixel: 12 hue bins for saturated pixels, 12-14 for dark, grey
    and light unsaturated ones."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0].astype(np.int16), hsv[..., 1], hsv[..., 2]
    bins = ((h + 7) % 180) // 15
    grey = s < 60
    bins = np.where(grey, np.where(v < 50, 12, np.where(v < 180, 13, 14)), bins)
    return np.where(~grey & (v < 40), 12, bins).astype(np.uint8)


def depth_regions(depth: np.ndarray, fg: np.ndarray, rgb: np.ndarray,
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
