"""Prints and grain painted on rendered frames (ROS-free): the simulator colours each object in
one colour, real objects carry labels, logos, text and a second material. Used by the
segmenter's training frames (spatial_ros.model.segment_train) and by `bench relations
--paint`, where touching printed objects no longer split by colour as plain ones do. And
``dull``: a real camera's duller colour rendering (`bench relations --dull`)."""
from __future__ import annotations

import numpy as np

__all__ = ["dull", "paint"]


def _field(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random values (about N(0, 1)) over ``shape``, varying over ``cell`` pixels."""
    import cv2

    h, w = shape
    small = rng.standard_normal((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)))
    return cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def _pattern(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Where a print lies on an object's bounding box: stripes, blobs (a logo, a picture) or
    blocks (a label, lines of text), bool (h, w)."""
    h, w = shape
    kind = int(rng.integers(3))
    if kind == 0:
        a = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        phase = (np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / rng.uniform(4, 24)
        return np.sin(phase) > rng.uniform(-0.3, 0.6)
    if kind == 1:
        return _field(shape, rng.uniform(3, 14), rng) > rng.uniform(0.0, 1.0)
    out = np.zeros(shape, bool)
    for _ in range(int(rng.integers(1, 6))):
        bh, bw = int(rng.uniform(0.1, 0.6) * h) + 1, int(rng.uniform(0.2, 0.9) * w) + 1
        y0, x0 = int(rng.integers(0, max(h - bh, 0) + 1)), int(rng.integers(0, max(w - bw, 0) + 1))
        block = np.ones((bh, bw), bool)
        if rng.random() < 0.5:  # lines of text: short dark dashes
            block = _field((bh, bw), 1.5, rng) > 0.5
        out[y0:y0 + bh, x0:x0 + bw] |= block
    return out


def paint(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
          share: float = 0.6) -> np.ndarray:
    """Prints on the rendered objects and grain on everything else, in image space: the
    simulator colours each object in one colour, real objects carry labels, logos, text and a
    second material (a drill's black grip), and real tables and floors have grain. ``share``
    of the objects get a print of a random colour, shaded as the pixels under it; the
    background's brightness varies by a smooth random field and fine speckle."""
    out = rgb.astype(np.float32)
    light = out.mean(axis=2)
    for oid in np.unique(mask):
        if oid == 0 or rng.random() > share:
            continue
        ys, xs = np.nonzero(mask == oid)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        where = _pattern((int(y1 - y0), int(x1 - x0)), rng) & (mask[y0:y1, x0:x1] == oid)
        if not where.any():
            continue
        colour = rng.uniform(0, 1, 3) if rng.random() < 0.7 else np.full(3, rng.uniform(0, 1))
        lum = light[y0:y1, x0:x1][where]
        scale = lum / max(float(light[ys, xs].mean()), 1.0)
        out[y0:y1, x0:x1][where] = np.clip(colour[None] * 255 * np.minimum(scale, 1.5)[:, None],
                                           0, 255)
    bg = mask == 0
    grain = 1 + rng.uniform(0.0, 0.12) * _field(mask.shape, rng.uniform(4, 40), rng) \
        + rng.uniform(0.0, 0.08) * rng.standard_normal(mask.shape).astype(np.float32)
    out[bg] *= grain[bg][:, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def dull(rgb: np.ndarray, rng: np.random.Generator, strength: float = 0.6) -> np.ndarray:
    """A real camera's colour rendering on a rendered frame: the renderer's flat palette
    colours are more saturated than a camera shows them (objects' median HSV saturation 224
    on SpatialBench household_val, hard_val and room_val frames, 112 on the four RealSense
    tuning frames; 0.6 gives 110). HSV saturation scaled by a factor drawn in
    [1 - ``strength``, 1 - ``strength`` / 2] (value kept), exposure by 0.8-1.1 and each
    channel's white balance by up to 5 % (in linear light), and sensor noise of 2 levels
    (sigma) on every channel. ``strength`` in [0, 1)."""
    import cv2

    if not 0.0 <= strength < 1.0:
        raise ValueError(f"dull strength must lie in [0, 1), got {strength}")
    hsv = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 1] *= np.float32(rng.uniform(1 - strength, 1 - strength / 2))
    x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) ** 2.2
    x *= np.float32(rng.uniform(0.8, 1.1)) * (1 + rng.uniform(-0.05, 0.05, 3)).astype(np.float32)
    y = np.clip(x, 0.0, 1.0) ** (1 / 2.2) * 255 + rng.normal(0.0, 2.0, x.shape).astype(np.float32)
    return np.clip(np.round(y), 0, 255).astype(np.uint8)
