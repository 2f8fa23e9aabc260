"""`spatial-ros bench codec`: decode time per 640x480 frame for each image encoding."""
from __future__ import annotations

import time

import numpy as np

from spatial_ros.ros import conversions as conv

__all__ = ["run"]


def _time(fn, frames: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(frames):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    return float(np.median(samples)), float(np.percentile(samples, 95))


def run(*, frames: int = 300) -> int:
    rng = np.random.default_rng(0)
    h, w = 480, 640
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.3, 8.0, (h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.05] = np.nan
    cases = {
        "rgb8": (conv.numpy_to_image(rgb, "rgb8"), conv.image_to_rgb),
        "bgr8": (conv.numpy_to_image(rgb, "bgr8"), conv.image_to_rgb),
        "rgba8": (conv.numpy_to_image(np.dstack([rgb, rgb[..., :1]]), "rgba8"), conv.image_to_rgb),
        "mono8": (conv.numpy_to_image(rgb[..., 0].copy(), "mono8"), conv.image_to_rgb),
        "16UC1": (conv.depth_to_image(depth, "16UC1"), conv.image_to_depth),
        "32FC1": (conv.depth_to_image(depth, "32FC1"), conv.image_to_depth),
    }
    print(f"decode time per {w}x{h} frame, {frames} frames each (backend: {conv.BACKEND})")
    print(f"{'encoding':<10}{'median ms':>12}{'p95 ms':>10}  output")
    for name, (msg, decode) in cases.items():
        med, p95 = _time(lambda m=msg, f=decode: f(m), frames)
        out = decode(msg)
        print(f"{name:<10}{med:>12.3f}{p95:>10.3f}  {out.dtype}{list(out.shape)}")
    enc_med, enc_p95 = _time(lambda: conv.numpy_to_image(rgb, "rgb8"), frames)
    print(f"{'encode rgb8':<10}{enc_med:>10.3f}{enc_p95:>10.3f}")
    return 0
