"""Depth sensor models applied to ideal rendered depth: deterministic for a given seed.

Presets:
    ideal: the rendered depth as is.
    realsense_d435: active stereo. Noise sigma = z^2 * subpixel / (f * baseline) with the D435's
        50 mm baseline and 0.08 px subpixel accuracy at 640 px (about 4 mm at 1 m, 6.7 cm at
        4 m); disparity quantisation; 0.28 m minimum range; holes at depth discontinuities;
        dropouts on dark surfaces; output quantised to millimetres (16UC1).
    realsense_d435_raw: the D435 as its frames come off the camera, with the artefacts measured on
        the real RealSense frames of ../shared/real-rgbd (7-8 % of pixels without depth): the
        invalid band at the left image edge (f * B / z pixels wide, 89 % of the first 40
        columns missing at 0.9 m), the stereo shadow to the left of a nearer surface (a pixel
        whose neighbour to the right, s pixels away, is nearer by more than s pixels of
        disparity is seen by one imager only), flying pixels at depth edges (a depth between
        the two surfaces), holes in blobs on bright, washed-out surfaces (specular
        highlights) and, less often than the D435 preset assumes, on dark ones; the D435's
        noise, disparity quantisation and millimetre output.
    realsense_d435_window: the raw D435 with the stereo matcher's window at depth edges, as
        the real frames' edges are (measured across their annotated objects' left and right
        edges and against the raw preset on SpatialBench scenes): left of a nearer surface the
        depth ramps from one surface to the other over about 7 px (a 7 px mean along the row
        in 80 % of the pixels there) and the stereo shadow is a hole in about a third of its
        pixels (the real frames: 20-36 %, the raw preset: 76 % one pixel out), right of one
        the median stays sharp with a fifth of the pixels beside it in between, above and
        below one a tenth; and its noise is long waves, not independent per pixel (on the real
        frames' tables neighbouring residuals correlate 0.98, 8 px apart 0.7-0.85; 97 % of
        the variance smooth over 8 px).
    kinect: structured light (Kinect v1; Khoshelham & Elberink 2012, Nguyen et al. 2012): sigma =
        1.2 mm + 1.9 mm * (z - 0.4)^2 (z in m), disparity steps of 1/8 px over a 75 mm baseline,
        0.5 - 4.5 m range, a shadow band beside depth edges.
    rgb_only: no depth at all (every pixel NaN).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spatial_ros.errors import SpatialRosError
from spatial_ros.relations import DEPTH_NOISE_QUADRATIC

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
    stereo_baseline: float = 0.0  #: metres; > 0 adds the left band and the stereo shadow
    flying_pixels: float = 0.0  #: probability that a pixel at a depth edge mixes both sides
    shiny_threshold: int = 0  #: brightest channel above which a low-saturation pixel is shiny
    shiny_dropout: float = 0.0
    blob_holes: bool = False  #: dark and shiny dropouts in blobs (about 8 px), not per pixel
    #: depth of a lower resolution registered into the colour image: one reading in each
    #: lattice x lattice block of pixels, at a random place in it (0 = every pixel)
    lattice: int = 0
    #: the stereo matcher's window across a depth edge (pixels; 0 = sharp edges): within half
    #: of it of an edge a pixel may read the window's mean depth, a ramp from one surface to
    #: the other. On the stereo shadow's side (left of a nearer surface) a share
    #: ``ramp_share`` of the pixels do, and the shadow is a hole in ``shadow_holes`` of its
    #: pixels only; right of a nearer surface a share ``smear_share`` do, above and below
    #: one a share ``vertical_share`` (the matcher searches along rows)
    window: int = 0
    ramp_share: float = 0.0
    smear_share: float = 0.0
    vertical_share: float = 0.0
    shadow_holes: float = 1.0
    #: share of the noise's variance that is smooth over ``noise_scale`` pixels (a Gaussian
    #: blur's sigma) rather than independent per pixel: a real D435's error on a flat table
    #: is long waves (neighbouring pixels' residuals correlate 0.98, 8 px apart 0.7-0.85)
    smooth_noise: float = 0.0
    noise_scale: float = 8.0

    def sigma(self, z: np.ndarray) -> np.ndarray:
        """Expected depth noise (m) at depth ``z`` (m)."""
        return self.sigma_const + self.sigma_quadratic * (z - self.sigma_z0) ** 2


#: the D435 as its frames come off the camera (module docstring); the window preset is it too
_RAW_D435 = SensorModel(
    "realsense_d435_raw", min_range=0.28, max_range=10.0,
    sigma_quadratic=DEPTH_NOISE_QUADRATIC["realsense_d435"],
    disparity_step=1.0 / (383.0 * 0.050 * 32),
    edge_threshold=0.04, edge_dropout=0.15, dark_threshold=40, dark_dropout=0.15,
    millimetres=True, stereo_baseline=0.050, flying_pixels=0.5, shiny_threshold=225,
    shiny_dropout=0.6, blob_holes=True)

PRESETS: dict[str, SensorModel] = {
    "ideal": SensorModel("ideal"),
    "realsense_d435": SensorModel(
        "realsense_d435", min_range=0.28, max_range=10.0,
        sigma_quadratic=DEPTH_NOISE_QUADRATIC["realsense_d435"],
        disparity_step=1.0 / (383.0 * 0.050 * 32),
        edge_threshold=0.04, edge_dropout=0.6, dark_threshold=40, dark_dropout=0.5,
        millimetres=True),
    "realsense_d435_raw": _RAW_D435,
    "realsense_d435_window": replace(
        _RAW_D435, name="realsense_d435_window", window=7, ramp_share=0.8, smear_share=0.2,
        vertical_share=0.1, shadow_holes=0.35, smooth_noise=0.97),
    "kinect": SensorModel(
        "kinect", min_range=0.5, max_range=4.5, sigma_const=0.0012,
        sigma_quadratic=DEPTH_NOISE_QUADRATIC["kinect"],
        sigma_z0=0.4, disparity_step=1.0 / (580.0 * 0.075 * 8), edge_threshold=0.05,
        edge_dropout=0.9, millimetres=True),
    #: an older structured-light camera (SR300 / F200 class) whose depth, of a lower
    #: resolution, is registered into the colour image: a reading in one pixel of each 2 x 2
    #: (the held-out shelf frame: 29 % of pixels with a reading, 12 % of them with all four
    #: neighbours), holes on dark surfaces
    "lowres_registered": SensorModel(
        "lowres_registered", min_range=0.2, max_range=4.0,
        sigma_quadratic=DEPTH_NOISE_QUADRATIC["realsense_d435"],
        edge_threshold=0.04, edge_dropout=0.6, dark_threshold=40, dark_dropout=0.5,
        millimetres=True, lattice=2),
    "rgb_only": SensorModel("rgb_only", has_depth=False),
}


def get_sensor(name: str) -> SensorModel:
    try:
        return PRESETS[name]
    except KeyError:
        raise SpatialRosError(f"unknown sensor preset {name!r}; expected one of "
                              f"{', '.join(PRESETS)}") from None


def _jumps(d: np.ndarray, threshold: float, axis: int) -> np.ndarray:
    """Neighbour pairs along ``axis`` whose relative depth jump is larger than ``threshold``
    (``d``: depth with 0 for no reading; one fewer along ``axis``)."""
    a = np.take(d, range(1, d.shape[axis]), axis=axis)
    b = np.take(d, range(0, d.shape[axis] - 1), axis=axis)
    return np.abs(a - b) > threshold * np.maximum(np.minimum(a, b), 1e-6)


def _edges(depth: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels next to a relative depth jump larger than ``threshold`` (or next to no reading)."""
    d = np.where(np.isnan(depth), 0.0, depth)
    edge = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        jump = _jumps(d, threshold, axis)
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        edge[tuple(lo)] |= jump
        edge[tuple(hi)] |= jump
    return edge


def _blobs(shape: tuple[int, int], p: float, rng: np.random.Generator, cell: int = 8
           ) -> np.ndarray:
    """A random field of blobs (about ``cell`` pixels across) covering a share ``p``."""
    import cv2

    h, w = shape
    coarse = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
    smooth = cv2.resize(coarse, ((w // cell + 2) * cell, (h // cell + 2) * cell),
                        interpolation=cv2.INTER_LINEAR)[cell:cell + h, cell:cell + w]
    return smooth < np.quantile(smooth, p) if 0 < p < 1 else np.full(shape, p >= 1)


def _stereo_invalid(depth: np.ndarray, fb: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels one imager of a stereo pair cannot see: the left band (u < f B / z) and the
    shadow left of a nearer surface, apart. ``fb``: focal length (px) times baseline (m)."""
    h, w = depth.shape
    z = np.where(np.isfinite(depth) & (depth > 0), depth, np.inf)
    disp = fb / z  # pixels; 0 where there is nothing
    band = np.arange(w)[None, :] < disp
    shadow = np.zeros((h, w), bool)
    reach = int(np.ceil(np.nanmax(disp[np.isfinite(disp)], initial=0.0))) if np.isfinite(
        disp).any() else 0
    for s in range(1, min(reach, w - 1) + 1):
        shadow[:, :-s] |= disp[:, s:] - disp[:, :-s] > s
    return band, shadow


def _smooth_field(shape: tuple[int, int], scale: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """Gaussian noise of unit variance, smooth over ``scale`` pixels (white noise blurred)."""
    import cv2

    field = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), scale,
                             borderType=cv2.BORDER_REFLECT)
    return field / max(float(field.std()), 1e-9)


def _window_mean(depth: np.ndarray, width: int, axis: int) -> np.ndarray:
    """The mean of the readings in a window of ``width`` pixels along ``axis`` (1: a row)."""
    import cv2

    valid = np.isfinite(depth) & (depth > 0)
    d = np.where(valid, depth, 0.0).astype(np.float32)
    size = (width, 1) if axis == 1 else (1, width)
    num = cv2.blur(d, size, borderType=cv2.BORDER_REPLICATE)
    den = cv2.blur(valid.astype(np.float32), size, borderType=cv2.BORDER_REPLICATE)
    return np.where(den > 0, num / np.maximum(den, 1e-6), np.nan)


def _windowed(depth: np.ndarray, out: np.ndarray, model: SensorModel,
              rng: np.random.Generator) -> np.ndarray:
    """``out`` with the stereo window's ramps and smear across the depth edges of ``depth``
    (SensorModel.window): the real D435 frames' edges ramp over about 7 pixels on the shadow
    side (left of a nearer surface) and keep a sharp median elsewhere, a share of the pixels
    beside the edge reading between the two surfaces."""
    import cv2

    d = np.where(np.isfinite(depth), depth, 0.0)
    half = model.window // 2
    thr = model.edge_threshold or 0.04
    jump_r = _jumps(d, thr, 1)
    nearer_right = jump_r & (d[:, 1:] < d[:, :-1])  # the left edge of a nearer surface
    marks_l = np.zeros(d.shape, np.uint8)
    marks_o = np.zeros(d.shape, np.uint8)
    marks_l[:, :-1] |= nearer_right
    marks_l[:, 1:] |= nearer_right
    marks_o[:, :-1] |= jump_r & ~nearer_right
    marks_o[:, 1:] |= jump_r & ~nearer_right
    jump_d = _jumps(d, thr, 0)
    marks_v = np.zeros(d.shape, np.uint8)
    marks_v[:-1] |= jump_d
    marks_v[1:] |= jump_d
    row = np.ones((1, 2 * half - 1), np.uint8)
    left = cv2.dilate(marks_l, row) > 0
    other = (cv2.dilate(marks_o, row) > 0) & ~left
    vert = (cv2.dilate(marks_v, row.T) > 0) & ~left & ~other
    draw = rng.random(d.shape)
    out = out.copy()
    along_row = _window_mean(depth, model.window, 1)
    pick = (left & (draw < model.ramp_share)) | (other & (draw < model.smear_share))
    out[pick] = along_row[pick]
    pick = vert & (draw < model.vertical_share)
    out[pick] = _window_mean(depth, model.window, 0)[pick]
    return out


def _flying(depth: np.ndarray, edges: np.ndarray, p: float, rng: np.random.Generator
            ) -> np.ndarray:
    """Depth with a share ``p`` of edge pixels moved somewhere between the nearest and the
    farthest reading of their 3x3 neighbourhood."""
    import cv2

    d = np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)
    lo = -cv2.dilate(np.nan_to_num(-d, nan=-1e6), np.ones((3, 3), np.uint8))
    hi = cv2.dilate(np.nan_to_num(d, nan=-1e6), np.ones((3, 3), np.uint8))
    pick = edges & (rng.random(d.shape) < p) & (lo < 1e5) & (hi > 0)
    out = d.copy()
    out[pick] = lo[pick] + rng.random(int(pick.sum())) * (hi[pick] - lo[pick])
    return out


def apply_sensor(depth: np.ndarray, rgb: np.ndarray, sensor: SensorModel | str,
                 rng: np.random.Generator, fx: float | None = None) -> np.ndarray:
    """Return the depth the sensor would report (float32 metres, NaN = no reading).

    ``fx``: the depth image's focal length in pixels, for the stereo presets' left band and
    shadow (default: 0.82 x width, the simulated camera's 63 degree field of view).
    """
    model = get_sensor(sensor) if isinstance(sensor, str) else sensor
    if not model.has_depth:
        return np.full(depth.shape, np.nan, np.float32)
    out = depth.astype(np.float64, copy=True)
    if model.flying_pixels:
        out = _flying(depth, _edges(depth, model.edge_threshold or 0.04), model.flying_pixels,
                      rng).astype(np.float64)
    if model.window > 1:
        out = _windowed(depth, out, model, rng)
    valid = np.isfinite(out)
    z = out[valid]
    if model.sigma_quadratic or model.sigma_const:
        unit = rng.normal(size=z.shape)
        if model.smooth_noise > 0:
            unit = np.sqrt(1.0 - model.smooth_noise) * unit + np.sqrt(model.smooth_noise) * \
                _smooth_field(depth.shape, model.noise_scale, rng)[valid]
        z = z + unit * model.sigma(z)
    if model.disparity_step:
        quantum = model.disparity_step * z ** 2
        z = np.round(z / quantum) * quantum
    out[valid] = z
    drop = ~valid | (out < model.min_range) | (out > model.max_range)
    if model.edge_threshold:
        edges = _edges(depth, model.edge_threshold)
        drop |= edges & (rng.random(depth.shape) < model.edge_dropout)
    def dropout(where: np.ndarray, p: float) -> np.ndarray:
        field = _blobs(depth.shape, p, rng) if model.blob_holes else \
            rng.random(depth.shape) < p
        return where & field

    if model.dark_threshold:
        drop |= dropout(rgb.mean(axis=2) < model.dark_threshold, model.dark_dropout)
    if model.shiny_threshold:
        top, bottom = rgb.max(axis=2).astype(np.int32), rgb.min(axis=2).astype(np.int32)
        shiny = (top > model.shiny_threshold) & (top - bottom < 40)
        drop |= dropout(shiny, model.shiny_dropout)
    if model.stereo_baseline:
        f = fx if fx is not None else 0.82 * depth.shape[1]
        band, shadow = _stereo_invalid(depth, f * model.stereo_baseline)
        if model.shadow_holes < 1.0:  # (no draw otherwise: the raw preset's stream as it was)
            shadow &= rng.random(depth.shape) < model.shadow_holes
        drop |= band | shadow
    if model.lattice > 1:  # one reading per block, where the registration put it
        k = model.lattice
        h, w = depth.shape
        keep = np.zeros((-(-h // k), k, -(-w // k), k), bool)
        bh, bw = keep.shape[0], keep.shape[2]
        r, c = rng.integers(0, k, (bh, bw)), rng.integers(0, k, (bh, bw))
        keep[np.arange(bh)[:, None], r, np.arange(bw)[None, :], c] = True
        drop |= ~keep.reshape(bh * k, bw * k)[:h, :w]
    if model.millimetres:
        out = np.round(out * 1000.0) / 1000.0
    out[drop] = np.nan
    return out.astype(np.float32)
