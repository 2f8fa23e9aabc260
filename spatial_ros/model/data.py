"""Model inputs and SpatialBench training data (ROS-free).

One *sample* is a SpatialBench scene seen once: colour and the sensor's depth at the model's
resolution, the instance mask, the camera's rotation (world from optical frame) and the targets:
every decision of ``DECISION_KEYS`` for every ordered pair of objects (the exact ground truth of
spatial_ros.sim.groundtruth) and the clean depth for the depth head.

Frames of any size go through :func:`prepare_frame`, the one place that brings an image to the
model's size (area filter for colour, nearest for depth and masks, so a hole stays a hole and an
id stays an id). Object regions are a mask or a 2D box; :func:`object_inputs` turns them into
the model's pooled masks and geometry features (normalised 2D box, sqrt of the area share, and
the camera rotation, which the world-frame decisions need).
"""
from __future__ import annotations

import math
import pathlib

import cv2
import numpy as np

from spatial_ros.errors import SpatialRosError
from spatial_ros.vocabulary import DECISION_KEYS, DIRECTIONAL

__all__ = ["DECISION_KEYS", "KEY_NAMES", "GEOMETRY_FEATURES", "MAX_OBJECTS", "prepare_frame",
           "object_inputs", "boxes_from_mask", "build_dataset", "load_dataset", "SENSOR_MIX"]

KEY_NAMES = [f"{p}/{f.name[:4].lower()}" if p in DIRECTIONAL else p for p, f in DECISION_KEYS]
GEOMETRY_FEATURES = 14  #: u0, v0, u1, v1, sqrt(area share), camera rotation (9)
MAX_OBJECTS = 10  #: SpatialBench scenes hold 2-10 objects
#: sensor presets the training set draws from, with their weights
SENSOR_MIX = {"ideal": 0.25, "realsense_d435": 0.35, "kinect": 0.15, "rgb_only": 0.25}


def prepare_frame(rgb: np.ndarray, depth: np.ndarray | None, size: tuple[int, int],
                  mask: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Colour (H, W, 3) uint8, depth (H, W) float32 metres (NaN = none) and an optional mask at
    the model's ``size`` = (width, height). Depth that is None, zero, negative or not finite is
    missing (NaN)."""
    w, h = size
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise SpatialRosError(f"colour image has shape {rgb.shape}; expected (H, W, 3)")
    if depth is not None and depth.shape != rgb.shape[:2]:
        raise SpatialRosError(f"depth is {depth.shape[1]}x{depth.shape[0]} but colour is "
                              f"{rgb.shape[1]}x{rgb.shape[0]}")
    small = rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h),
                                                          interpolation=cv2.INTER_AREA)
    if depth is None:
        d = np.full((h, w), np.nan, np.float32)
    else:
        d = depth.astype(np.float32, copy=True)
        d[~np.isfinite(d) | (d <= 0)] = np.nan
        if d.shape != (h, w):
            d = cv2.resize(d, (w, h), interpolation=cv2.INTER_NEAREST)
    m = None
    if mask is not None:
        m = mask if mask.shape == (h, w) else cv2.resize(mask, (w, h),
                                                         interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(small), d, m


def boxes_from_mask(mask: np.ndarray, ids: list[int]) -> np.ndarray:
    """(K, 4) pixel boxes u0, v0, u1, v1 (exclusive max) of each id's pixels; zeros if absent."""
    out = np.zeros((len(ids), 4), np.float32)
    for k, i in enumerate(ids):
        vs, us = np.nonzero(mask == i)
        if len(us):
            out[k] = (us.min(), vs.min(), us.max() + 1, vs.max() + 1)
    return out


def object_inputs(size: tuple[int, int], camera_rotation: np.ndarray, *,
                  mask: np.ndarray | None = None, ids: list[int] | None = None,
                  boxes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Region masks (K, H, W) float32 and geometry features (K, GEOMETRY_FEATURES) of K objects.

    Regions come from an instance ``mask`` (with the object ``ids``, at the model's size) or
    from 2D ``boxes`` (K, 4) already scaled to the model's size; an object whose region is empty
    gets an all-zero mask (the model then pools nothing for it).
    """
    w, h = size
    rot = np.asarray(camera_rotation, np.float32).reshape(9)
    if mask is not None:
        if ids is None:
            raise SpatialRosError("object_inputs: a mask needs the object ids")
        masks = np.stack([(mask == i) for i in ids]).astype(np.float32) if ids else \
            np.zeros((0, h, w), np.float32)
        boxes = boxes_from_mask(mask, ids)
    elif boxes is not None:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        masks = np.zeros((len(boxes), h, w), np.float32)
        for k, (u0, v0, u1, v1) in enumerate(boxes):
            u0, u1 = int(max(0, math.floor(u0))), int(min(w, math.ceil(u1)))
            v0, v1 = int(max(0, math.floor(v0))), int(min(h, math.ceil(v1)))
            masks[k, v0:v1, u0:u1] = 1.0
    else:
        raise SpatialRosError("object_inputs needs a mask or boxes")
    k = len(boxes)
    geo = np.zeros((k, GEOMETRY_FEATURES), np.float32)
    if k:
        geo[:, 0:4] = boxes / np.array([w, h, w, h], np.float32)
        geo[:, 4] = np.sqrt(masks.reshape(k, -1).mean(1))
        geo[:, 5:14] = rot
    return masks, geo


def _sample(split: str, seed: int, index: int, size: tuple[int, int], sensor: str,
            rng: np.random.Generator) -> dict:
    """Render one view of one scene at twice the model size and reduce it as a camera would."""
    from spatial_ros.bench.generate import generate_scene
    from spatial_ros.bench.relations import drift
    from spatial_ros.sim.groundtruth import ground_truth
    from spatial_ros.sim.render import Renderer
    from spatial_ros.sim.sensors import apply_sensor

    w, h = size
    world, pose0 = generate_scene(split, seed, index, width=2 * w, height=2 * h)
    pose = drift(pose0, 1, float(rng.uniform(-0.3, 0.3)))
    renderer = Renderer(world)
    fr = renderer.render(pose)
    depth = apply_sensor(fr.depth, fr.rgb, sensor, rng)
    rgb, d, mask = prepare_frame(fr.rgb, depth, size, fr.mask)
    _, clean, _ = prepare_frame(fr.rgb, fr.depth, size)
    truth = ground_truth(world, renderer, pose)
    holds = {(r.subject, r.predicate, r.object, r.frame) for r in truth.relations}
    ids = [o.id for o in truth.objects]
    target = np.zeros((MAX_OBJECTS, MAX_OBJECTS, len(DECISION_KEYS)), np.uint8)
    valid = np.zeros(MAX_OBJECTS, bool)
    for a in ids:
        valid[a - 1] = (mask == a).sum() >= 2
        for b in ids:
            if a != b:
                for j, (p, f) in enumerate(DECISION_KEYS):
                    target[a - 1, b - 1, j] = (a, p, b, f) in holds
    return {"rgb": rgb, "depth": d.astype(np.float16), "gt_depth": clean.astype(np.float16),
            "mask": mask, "rotation": pose.rotation.astype(np.float32).reshape(9),
            "target": target, "valid": valid, "sensor": sensor}


def _work(args):
    split, seed, index, size, sensor = args
    from spatial_ros.bench.generate import SPLITS
    rng = np.random.default_rng([SPLITS[split], seed, index, 21])
    return _sample(split, seed, index, size, sensor, rng)


def build_dataset(split: str, n: int, *, seed: int = 0, size: tuple[int, int] = (128, 96),
                  sensors: dict[str, float] | None = None, out: str | pathlib.Path | None = None,
                  workers: int = 1, progress: bool = True) -> dict[str, np.ndarray]:
    """``n`` samples of a SpatialBench split (scene i = the split's scene i), each with a sensor
    drawn from ``sensors`` (weights); saved as one .npz at ``out`` when given, and an ``out``
    already there is reused when this code still makes its first sample (:func:`cached`)."""
    from spatial_ros.bench.generate import SPLITS

    if split not in SPLITS:
        raise SpatialRosError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    mix = sensors or SENSOR_MIX
    names = list(mix)
    p = np.array([mix[s] for s in names], float)
    pick = np.random.default_rng([SPLITS[split], seed, 7]).choice(len(names), n, p=p / p.sum())
    jobs = [(split, seed, i, tuple(size), names[pick[i]]) for i in range(n)]
    return cached(_work, jobs, size, out, workers, progress, f"dataset {split}", "scene")


def cached(fn, jobs: list[tuple], size: tuple[int, int], out: str | pathlib.Path | None,
           workers: int, progress: bool, desc: str, unit: str) -> dict[str, np.ndarray]:
    """``fn`` over ``jobs`` (each ``(split, ...)``), stacked and saved at ``out``; or the .npz
    already at ``out`` when ``fn`` still makes the first row of each split in it. Its name says
    how it was asked for, not what code made it: a scene generator, renderer, sensor model or
    label that changed since would otherwise train on stale data without a word."""
    if out is not None and pathlib.Path(out).exists():
        data = load_dataset(out)
        firsts = [k for k, job in enumerate(jobs) if k == 0 or job[0] != jobs[k - 1][0]]
        stale = next((k for k in firsts if not _same_row(data, k, fn(jobs[k]))), None)
        if stale is None:
            return data
        print(f"{out}: row {stale} ({jobs[stale][0]} scene {jobs[stale][2]}) is not what this "
              f"code makes now (scenes, rendering, sensors or labels changed); rebuilding",
              flush=True)
    return stack_rows(map_jobs(fn, jobs, workers, progress, desc, unit), size, out)


def _same_row(data: dict[str, np.ndarray], k: int, row: dict) -> bool:
    def same(a, b) -> bool:  # no depth (NaN) is the same no depth
        floats = np.issubdtype(np.asarray(b).dtype, np.floating)
        return np.shape(a) == np.shape(b) and np.array_equal(a, b, equal_nan=floats)

    return all(key in data and len(data[key]) > k and same(data[key][k], v)
               for key, v in row.items())


def map_jobs(fn, jobs: list, workers: int, progress: bool, desc: str, unit: str) -> list:
    """``fn`` over ``jobs`` in order, in ``workers`` forked processes when more than one, with a
    progress bar."""
    from tqdm import tqdm

    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            return list(tqdm(pool.imap(fn, jobs, chunksize=8), total=len(jobs),
                             disable=not progress, desc=desc, unit=unit))
    return [fn(j) for j in tqdm(jobs, disable=not progress, desc=desc, unit=unit)]


def stack_rows(rows: list[dict], size: tuple[int, int], out: str | pathlib.Path | None
               ) -> dict[str, np.ndarray]:
    """One array per key over the rows, with the model ``size``; saved as .npz at ``out``."""
    data = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    data["size"] = np.array(size)
    if out is not None:
        out = pathlib.Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, **data)
    return data


def load_dataset(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    path = pathlib.Path(path)
    if not path.exists():
        raise SpatialRosError(f"dataset {path} does not exist")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}

