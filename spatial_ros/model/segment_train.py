"""Training data and training of the learned segmenter (spatial_ros.perception.learned), from the
simulator only (ROS-free).

Data (``make_frames``): scenes of the SpatialBench training splits (room: tables on a floor
with walls and furniture, shelf bins, totes; household: clutter of meshes made in code, touching
and stacked; hard: crowded boxes and cylinders; train: primitives of plain colours on a table,
some stacked), each rendered once with, drawn per frame:

    a sensor preset (RealSense D435 raw and filtered, Kinect, a low-resolution registered
        camera, ideal depth): holes on dark and shiny surfaces, edge dropouts, flying pixels,
        noise and quantisation come from spatial_ros.sim.sensors;
    a light (the colour study's five: neutral, tungsten, a warm lamp, skylight, mixed);
    in half the frames, every model recoloured from one distribution, objects and structure
        alike (``recolour``: the renderer paints structure pale and objects in palette
        colours, which taught the network that grey things are structure);
    a misregistration of depth against colour of up to 2 pixels (half the frames);
    prints on most objects (stripes, logos, labels and text of a random colour) and grain on
        the table, floor and walls (``paint``: the renderer colours an object in one colour);
    the perception grid's stride (3, or 2 for one frame in five).

Each frame is stored as its perception grid (what detect_objects sees: the block-sampled depth
as optical points, the grid's colour and instance ids, the optical -> level rotation) in one
``.npz`` per frame; a run finds the frames already written and goes on from there.

Training (``fit_segmenter``, one network per seed; ``train_seeds`` writes several as one
ensemble): random crops of the grids, the features of learned.grid_features, binary
cross-entropy on objectness (cells with a reading) and on the two affinities (pairs of cells
with readings where at least one is an object; pairs across an object's boundary weighted
``boundary_weight``), AdamW with a cosine schedule. Progress and a validation loss / boundary
F1 on frames of the validation splits are printed; the weights are written with
spatial_ros.model.segmenter.save_segmenter.
"""
from __future__ import annotations

import math
import pathlib
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.segmenter import (
    SegmenterConfig,
    SegmenterNet,
    mean_probability,
    save_segmenter,
)
from spatial_ros.perception.detect import block_sample
from spatial_ros.perception.learned import dropped_channels, grid_features
from spatial_ros.perception.types import PerceptionConfig
from spatial_ros.sim.paint import paint

__all__ = ["DataConfig", "any_colour", "recolour", "make_frames", "load_frames", "TrainConfig",
           "fit_segmenter", "train_seeds", "train_segmenter", "frame_targets", "SENSORS",
           "SPLIT_SHARES"]

#: sensor preset -> share of the frames
SENSORS = {"realsense_d435_raw": 0.35, "realsense_d435": 0.2, "kinect": 0.15,
           "lowres_registered": 0.15, "ideal": 0.15}
#: training split -> share of the frames (the validation frames use the *_val splits)
#: (bin_train, the picking totes, is not in the mix: weights trained with it at 0.15 gained on
#: bin_val and lost elsewhere, docs/benchmarks.md, third stop)
SPLIT_SHARES = {"room_train": 0.4, "household_train": 0.25, "hard_train": 0.15, "train": 0.2}
_VAL = {"room_train": "room_val", "household_train": "household_val", "hard_train": "hard_val",
        "train": "val"}


_PC = PerceptionConfig()  #: the perception defaults the grids are made and read with

#: the frames' recipe: frames of another version in the data folder are not reused
DATA_VERSION = 4  # 3: a discarded recipe (structure recoloured saturated, objects pale)


@dataclass(frozen=True)
class DataConfig:
    width: int = 640
    height: int = 480
    misregister: int = 2  #: pixels of depth-colour misregistration at most
    stride2_share: float = 0.2  #: frames whose grid takes every 2nd pixel (else 3rd)
    paint: bool = True  #: prints on objects, grain on the rest (spatial_ros.sim.paint)
    #: frames whose objects and structure all take colours of one distribution (recolour)
    recolour: float = 0.5


def any_colour(rng: np.random.Generator) -> np.ndarray:
    """An RGB colour in [0, 1] of any kind: a third achromatic (black to white, barely
    tinted), the rest of any hue, saturation 0.2-1 and value 0.15-1."""
    import colorsys

    if rng.random() < 1 / 3:
        return np.clip(rng.uniform(0.04, 0.95) + rng.normal(0, 0.02, 3), 0.0, 1.0)
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.2, 1.0),
                                        rng.uniform(0.15, 1.0)))


def recolour(world, rng: np.random.Generator):
    """``world`` with every model in a colour of ``any_colour``, objects and structure
    alike: the simulator paints structure pale and objects in palette colours, and a network
    trained on that alone takes a red tote's walls for objects and a white or grey object
    for structure; on these frames colour says nothing of what is an object."""
    models = []
    for m in world.models:
        c = any_colour(rng)
        models.append(replace(m, visuals=[replace(v, color=c.copy()) for v in m.visuals]))
    return replace(world, models=models)


def _frame(split: str, seed: int, index: int, cfg: DataConfig) -> dict[str, np.ndarray]:
    from spatial_ros.bench.colours import LIGHTS
    from spatial_ros.bench.generate import SPLITS, generate_scene
    from spatial_ros.sim.render import Renderer
    from spatial_ros.sim.sensors import apply_sensor

    rng = np.random.default_rng([SPLITS[split], seed, index, 31])
    world, pose = generate_scene(split, seed, index, width=cfg.width, height=cfg.height)
    key, fill = list(LIGHTS.values())[int(rng.integers(len(LIGHTS)))]
    if rng.random() < cfg.recolour:
        world = recolour(world, rng)
    fr = Renderer(replace(world, light_color=key, ambient_color=fill)).render(pose)
    rgb = paint(fr.rgb, fr.mask, rng) if cfg.paint else fr.rgb
    sensor = str(rng.choice(list(SENSORS), p=list(SENSORS.values())))
    depth = apply_sensor(fr.depth, rgb, sensor, rng, fx=fr.intrinsics.fx)
    if cfg.misregister and rng.random() < 0.5:
        dy, dx = (int(x) for x in rng.integers(-cfg.misregister, cfg.misregister + 1, 2))
        depth = np.roll(depth, (dy, dx), axis=(0, 1))
        if dy:
            depth[(slice(0, dy) if dy > 0 else slice(dy, None)), :] = np.nan
        if dx:
            depth[:, (slice(0, dx) if dx > 0 else slice(dx, None))] = np.nan
    s = 2 if rng.random() < cfg.stride2_share else 3
    d = block_sample(depth, s, _PC.depth_jump)
    rays = fr.intrinsics.ray_directions(s).reshape(d.shape + (3,))
    pts = (rays * np.where(np.isfinite(d), d, np.nan)[..., None]).astype(np.float16)
    return {"points": pts, "rgb": rgb[::s, ::s].copy(), "mask": fr.mask[::s, ::s].copy(),
            "rotation": pose.rotation.astype(np.float32), "stride": np.int32(s),
            "sensor": np.array(sensor), "split": np.array(split)}


def _plan(n: int, val: bool) -> list[tuple[str, int]]:
    """(split, scene index) of each of ``n`` frames, in the shares of SPLIT_SHARES."""
    plan, counts = [], {s: 0 for s in SPLIT_SHARES}
    for _ in range(n):  # the split furthest behind its share goes next
        split = min(SPLIT_SHARES, key=lambda s: (counts[s] + 1) / SPLIT_SHARES[s])
        plan.append((_VAL[split] if val else split, counts[split]))
        counts[split] += 1
    return plan


def make_frames(out: str | pathlib.Path, n: int, *, seed: int = 0, val: bool = False,
                cfg: DataConfig | None = None, progress: bool = True) -> list[pathlib.Path]:
    """Write ``n`` training frames (``val``: of the validation splits) to ``out``, one
    ``.npz`` each; frames already there are kept (a run can resume)."""
    from tqdm import tqdm

    if n < 1:
        raise SpatialRosError(f"frames must be at least 1, got {n}")
    cfg = cfg or DataConfig()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, index in tqdm(_plan(n, val), desc=f"segment data {out.name}", unit="frame",
                             disable=not progress):
        path = out / f"{split}_{seed}_{index:05d}_v{DATA_VERSION}.npz"
        if not path.is_file():
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, **_frame(split, seed, index, cfg))
            tmp.replace(path)
        paths.append(path)
    return paths


def frame_targets(mask: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, ...]:
    """Targets and weights of one grid: objectness (H, W) and its weight (cells with a
    reading); same object as the right neighbour (H, W - 1), as the lower one (H - 1, W), and
    their weights (both cells with a reading, at least one on an object)."""
    obj = (mask > 0).astype(np.float32)
    wr = (valid[:, 1:] & valid[:, :-1] & ((mask[:, 1:] > 0) | (mask[:, :-1] > 0)))
    wd = (valid[1:] & valid[:-1] & ((mask[1:] > 0) | (mask[:-1] > 0)))
    right = (mask[:, 1:] == mask[:, :-1]).astype(np.float32)
    down = (mask[1:] == mask[:-1]).astype(np.float32)
    return obj, valid.astype(np.float32), right, wr.astype(np.float32), down, \
        wd.astype(np.float32)


def load_frames(paths: list[pathlib.Path], *, sensors: list[str] | None = None,
                progress: bool = True) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(features (C, H, W) float16, mask (H, W) uint8, valid (H, W) bool) of each frame
    (``sensors``: only the frames of these presets)."""
    from tqdm import tqdm

    out = []
    for p in tqdm(paths, desc="features", unit="frame", disable=not progress):
        with np.load(p) as z:
            if sensors is not None and str(z["sensor"]) not in sensors:
                continue
            pts = z["points"].astype(np.float32)
            # the cells detect_objects reads (PerceptionConfig's depth range)
            valid = np.isfinite(pts[..., 2]) & (pts[..., 2] > _PC.min_depth) & \
                (pts[..., 2] < _PC.max_depth)
            feats = grid_features(pts, valid, z["rgb"], z["rotation"])
            out.append((feats.astype(np.float16), z["mask"], valid))
    return out


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 6000
    batch: int = 8
    crop: tuple[int, int] = (80, 112)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    boundary_weight: float = 3.0  #: weight of pairs across an object's boundary
    object_crops: float = 0.7  #: share of the crops placed around an object's cell
    seed: int = 0
    widths: tuple[int, int, int] = (12, 24, 32)
    #: input channels zeroed in training and inference alike (ablations): "depth" drops
    #: channels 1-6, "colour" 7-9
    drop: str = ""


def _batch(data, rng: np.random.Generator, cfg: TrainConfig):
    ch, cw = cfg.crop
    xs, ts = [], []
    for _ in range(cfg.batch):
        feats, mask, valid = data[int(rng.integers(len(data)))]
        _c, h, w = feats.shape
        y0 = int(rng.integers(0, max(h - ch, 0) + 1))
        x0 = int(rng.integers(0, max(w - cw, 0) + 1))
        on = np.flatnonzero(mask)
        if len(on) and rng.random() < cfg.object_crops:  # a crop around an object's cell
            cy, cx = divmod(int(on[rng.integers(len(on))]), w)
            y0 = int(np.clip(cy - rng.integers(ch // 4, 3 * ch // 4), 0, max(h - ch, 0)))
            x0 = int(np.clip(cx - rng.integers(cw // 4, 3 * cw // 4), 0, max(w - cw, 0)))
        f = np.zeros((feats.shape[0], ch, cw), np.float32)
        m = np.zeros((ch, cw), np.uint8)
        v = np.zeros((ch, cw), bool)
        part = np.s_[y0:y0 + ch, x0:x0 + cw]
        hh, ww = mask[part].shape
        f[:, :hh, :ww] = feats[(slice(None),) + part]
        m[:hh, :ww], v[:hh, :ww] = mask[part], valid[part]
        xs.append(f)
        ts.append(frame_targets(m, v))
    x = torch.from_numpy(np.stack(xs))
    if cfg.drop:
        x[:, dropped_channels(cfg.drop)] = 0.0
    t = [torch.from_numpy(np.stack([tt[k] for tt in ts])) for k in range(6)]
    return x, t


def _loss(logits: torch.Tensor, t: list[torch.Tensor], boundary_weight: float) -> torch.Tensor:
    obj, wo, right, wr, down, wd = t
    lo = F.binary_cross_entropy_with_logits(logits[:, 0], obj, weight=wo, reduction="sum")
    wr = wr * torch.where(right < 0.5, boundary_weight, 1.0)
    wd = wd * torch.where(down < 0.5, boundary_weight, 1.0)
    lr_ = F.binary_cross_entropy_with_logits(logits[:, 1, :, :-1], right, weight=wr,
                                             reduction="sum")
    ld = F.binary_cross_entropy_with_logits(logits[:, 2, :-1, :], down, weight=wd,
                                            reduction="sum")
    return lo / wo.sum().clamp(min=1) + (lr_ + ld) / (wr.sum() + wd.sum()).clamp(min=1)


@torch.no_grad()
def evaluate(nets: SegmenterNet | list[SegmenterNet], data, drop: str = "") -> dict[str, float]:
    """Mean loss, objectness accuracy and boundary precision / recall / F1 (a pair across an
    object's boundary predicted apart) over whole validation grids; of several networks, of
    the mean of their probabilities (as spatial_ros.model.segmenter.Segmenter predicts)."""
    nets = [nets] if isinstance(nets, SegmenterNet) else list(nets)
    for net in nets:
        net.eval()
    tot = {"loss": 0.0, "obj_right": 0, "obj_total": 0, "tp": 0, "fp": 0, "fn": 0}
    for feats, mask, valid in data:
        x = torch.from_numpy(feats.astype(np.float32))[None]
        if drop:
            x[:, dropped_channels(drop)] = 0.0
        # one network: its logits; several: the logit of their mean probability
        logits = nets[0].logits(x) if len(nets) == 1 else \
            torch.logit(mean_probability(nets, x).clamp(1e-6, 1 - 1e-6))
        t = [torch.from_numpy(a)[None] for a in frame_targets(mask, valid)]
        tot["loss"] += float(_loss(logits, t, 1.0))
        obj, wo, right, wr, down, wd = t
        tot["obj_right"] += int((((logits[:, 0] > 0).float() == obj) * wo).sum())
        tot["obj_total"] += int(wo.sum())
        for lg, tgt, wt in ((logits[:, 1, :, :-1], right, wr), (logits[:, 2, :-1, :], down, wd)):
            cut, truth = (lg < 0) & (wt > 0), (tgt < 0.5) & (wt > 0)
            tot["tp"] += int((cut & truth).sum())
            tot["fp"] += int((cut & ~truth).sum())
            tot["fn"] += int((~cut & truth).sum())
    p = tot["tp"] / max(tot["tp"] + tot["fp"], 1)
    r = tot["tp"] / max(tot["tp"] + tot["fn"], 1)
    return {"loss": tot["loss"] / max(len(data), 1),
            "objectness": tot["obj_right"] / max(tot["obj_total"], 1),
            "boundary_precision": p, "boundary_recall": r,
            "boundary_f1": 2 * p * r / max(p + r, 1e-9)}


def fit_segmenter(train, val, cfg: TrainConfig, *, progress: bool = True,
                  device: str = "cpu") -> tuple[SegmenterNet, dict]:
    """One training (seed ``cfg.seed``) on ``train`` (load_frames' output), with progress and
    validation figures on ``val`` along the way: the network (on the CPU) and what to keep
    of the run (its settings, frames and seconds)."""
    from tqdm import tqdm

    if cfg.steps < 1:
        raise SpatialRosError(f"steps must be at least 1, got {cfg.steps}")
    if not train:
        raise SpatialRosError("no training frames")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = SegmenterNet(SegmenterConfig(widths=cfg.widths)).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 200) * 0.5 * (1 + math.cos(math.pi * k / cfg.steps)))
    t0 = time.time()
    bar = tqdm(range(cfg.steps), desc=f"segmenter seed {cfg.seed}", unit="step",
               disable=not progress)
    ema = None
    for step in bar:
        net.train()
        x, t = _batch(train, rng, cfg)
        loss = _loss(net(x.to(device)), [a.to(device) for a in t], cfg.boundary_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        value = loss.item()
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        bar.set_postfix(loss=f"{ema:.3f}")
        if progress and val and (step + 1) % max(cfg.steps // 5, 1) == 0:
            m = evaluate(net.cpu(), val, cfg.drop)
            net.to(device)
            tqdm.write(f"[segmenter seed {cfg.seed}] step {step + 1}: val loss {m['loss']:.3f}, "
                       f"objectness {m['objectness']:.1%}, boundary F1 {m['boundary_f1']:.3f} "
                       f"(P {m['boundary_precision']:.3f}, R {m['boundary_recall']:.3f})")
    return net.cpu(), {**cfg.__dict__, "frames": len(train), "seconds": round(time.time() - t0)}


def train_seeds(data, out: str | pathlib.Path, cfg: TrainConfig | None = None, *,
                seeds: list[int] | tuple[int, ...] = (0,), progress: bool = True,
                device: str = "cpu") -> dict[str, float]:
    """Train one network per seed and write them to ``out`` as one ensemble (the segmenter
    takes the mean of their probabilities); ``data(seed)``: that seed's (train, val) frames
    (load_frames' output; each seed renders its own), loaded one seed at a time. Returns the
    ensemble's validation figures on the seeds' validation frames together; each network's
    own are kept in the file (``train``)."""
    cfg = cfg or TrainConfig()
    if not seeds or len(set(seeds)) != len(seeds):
        raise SpatialRosError(f"seeds must be distinct and at least one, got {list(seeds)}")
    nets, runs, vals = [], [], []
    for seed in seeds:
        train, val = data(seed)
        net, info = fit_segmenter(train, val, replace(cfg, seed=int(seed)), progress=progress,
                                  device=device)
        del train  # a seed's frames take 1.7 GB
        info["val"] = evaluate(net, val, cfg.drop) if val else {}
        nets.append(net)
        runs.append(info)
        vals.extend(val)
    # one network's own figures are the file's; several are validated together
    metrics = evaluate(nets, vals, cfg.drop) if len(nets) > 1 and vals else runs[0]["val"]
    save_segmenter(out, nets, train=runs, drop=cfg.drop, val=metrics)
    return metrics


def train_segmenter(train, val, out: str | pathlib.Path, cfg: TrainConfig | None = None, *,
                    progress: bool = True, device: str = "cpu") -> dict[str, float]:
    """One training (seed ``cfg.seed``) on ``train`` (load_frames' output), reported on
    ``val``, its weights written to ``out``; returns the final validation figures."""
    cfg = cfg or TrainConfig()
    return train_seeds(lambda _seed: (train, val), out, cfg, seeds=(cfg.seed,),
                       progress=progress, device=device)
