"""Self-supervised video pre-training of SpatialNet's encoder (ROS-free).

A *clip* is two frames of one SpatialBench scene seen along a simulated camera path: the camera
orbits the table by up to ``orbit`` radians, turns about the vertical by up to ``pan`` radians
(so that content moves across the image, not only by parallax) and rises or sinks by up to
``lift`` metres between them. No relation label is used. The simulator knows which patch of the
second frame shows the 3D point at the centre of each patch of the first (back-projected with
the clean depth, moved into the second camera and kept where that camera sees it, not something
in front of it). The objective is temporal consistency of patch features: an InfoNCE loss over a
small projection head, where each patch of the first frame must pick its corresponding patch
among all patches of the second (temperature ``temperature``), plus the depth head's L1 on log
depth against the clean render where the model has one.

With ``photometric_weight`` > 0 the encoder also learns depth from the motion alone, as
self-supervised monocular depth does from a robot's video and odometry: a pre-training-only
head (:class:`PixelDepth`, dropped with the projection head) predicts each pixel's depth from
the patch tokens; each frame is rebuilt from the other by moving its pixels with that depth and
the camera's known motion, and the loss is how far the rebuilt colours are from the real ones
(SSIM and L1, Monodepth's mix), where the rebuilt pixel explains the frame better than the
unmoved other frame does, plus an edge-aware smoothness term. No depth reading and no label:
only the two colour images and the camera motion between them. This gives an RGB-only encoder
(the baseline's) something to learn about depth, which feature consistency alone does not.

``spatial-ros train --config`` runs this stage first when the config has a ``pretrain:``
section: ``DIR/pretrain_last.pt`` every epoch (``--resume DIR/pretrain_last.pt`` continues it
exactly, then fine-tunes), ``DIR/pretrain.pt`` at the end, from which fine-tuning starts (only
the encoder: patch embedding, transformer blocks, depth bias, norm and depth head; the relation
head starts fresh). A pre-training checkpoint is not a model to reason with, and a fine-tuned one
is not an encoder to start from: either mistake is an error naming the stage each has.
"""
from __future__ import annotations

import pathlib
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from spatial_ros.model.data import SENSOR_MIX, cached, prepare_frame
from spatial_ros.model.loop import resume_from, run_epochs
from spatial_ros.model.network import ModelConfig, SpatialNet

__all__ = ["PretrainConfig", "build_clips", "correspondences", "pretrain", "load_pretrained",
           "photometric_loss", "PixelDepth", "ENCODER_FIELDS", "HEAD_PREFIXES"]

#: state_dict prefixes of the relation head, which fine-tuning starts fresh
HEAD_PREFIXES = ("geo.", "pair.", "point_tokens.")
#: ModelConfig fields a pre-trained encoder must share with the model fine-tuned from it
ENCODER_FIELDS = ("image_height", "image_width", "patch", "dim", "layers", "heads", "mlp_ratio",
                  "depth_bins", "max_relative_depth", "positions", "depth_bias", "depth_input",
                  "depth_head")


@dataclass(frozen=True)
class PretrainConfig:
    samples: int = 2000  #: clips (pairs of frames), scene i of the split(s) for clip i
    split: str = "train"  #: SpatialBench split(s); "a+b" draws half from each
    sensors: dict | None = None  #: sensor preset -> weight (None: data.SENSOR_MIX)
    data_seed: int = 0
    seed: int = 0
    epochs: int = 3
    batch: int = 32
    lr: float = 1.0e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    temperature: float = 0.1
    projection: int = 64  #: width of the projection head the InfoNCE loss compares
    depth_weight: float = 0.5
    orbit: float = 0.15  #: radians the camera orbits the table between the two frames (at most)
    lift: float = 0.05  #: metres it rises or sinks (at most)
    pan: float = 0.12  #: radians it turns about the vertical through itself (at most)
    photometric_weight: float = 0.0  #: self-supervised depth from the motion (0: off)
    smoothness: float = 1.0e-3  #: edge-aware smoothness of that depth, relative to it
    photometric_scales: int = 3  #: resolutions the photometric error is taken at (1, 1/2, ...)
    data_dir: str = "~/.cache/spatial_ros/data"
    workers: int = 2

    def __post_init__(self) -> None:
        if self.samples < 1 or self.epochs < 1 or self.batch < 1:
            raise ValueError("samples, epochs and batch must be positive")
        if self.temperature <= 0:
            raise ValueError(f"temperature {self.temperature} must be positive")
        if self.photometric_weight < 0 or self.smoothness < 0:
            raise ValueError("photometric_weight and smoothness must not be negative")
        if self.photometric_scales < 1:
            raise ValueError(f"photometric_scales {self.photometric_scales} must be >= 1")


def correspondences(depth0: np.ndarray, depth1: np.ndarray, intr, pose0, pose1,
                    patch: int, scale: int) -> np.ndarray:
    """For each patch of frame 0 (row-major over the model's grid), the index of the patch of
    frame 1 that shows the same 3D point, or -1 (no depth there, out of view, or hidden).

    ``depth0``/``depth1``: clean rendered depth at ``scale`` times the model's resolution;
    ``intr``: their intrinsics; poses: world poses of the optical frames.
    """
    h, w = depth0.shape
    gh, gw = h // (patch * scale), w // (patch * scale)
    step = patch * scale
    vs, us = np.meshgrid(np.arange(gh) * step + step // 2, np.arange(gw) * step + step // 2,
                         indexing="ij")
    us, vs = us.ravel(), vs.ravel()
    z = depth0[vs, us].astype(np.float64)
    out = np.full(gh * gw, -1, np.int64)
    ok = np.isfinite(z) & (z > 0)
    p = np.stack([(us - intr.cx) / intr.fx * z, (vs - intr.cy) / intr.fy * z, z], 1)[ok]
    world = p @ pose0.rotation.T + pose0.translation
    q = (world - pose1.translation) @ pose1.rotation  # into frame 1's optical frame
    front = q[:, 2] > 1e-3
    u1 = np.where(front, intr.fx * q[:, 0] / np.where(front, q[:, 2], 1) + intr.cx, -1)
    v1 = np.where(front, intr.fy * q[:, 1] / np.where(front, q[:, 2], 1) + intr.cy, -1)
    inside = front & (u1 >= 0) & (u1 < w) & (v1 >= 0) & (v1 < h)
    ui = np.clip(u1.astype(np.int64), 0, w - 1)
    vi = np.clip(v1.astype(np.int64), 0, h - 1)
    seen = depth1[vi, ui]
    visible = inside & np.isfinite(seen) & (np.abs(seen - q[:, 2]) < 0.01 + 0.02 * q[:, 2])
    idx = (vi // step) * gw + (ui // step)
    out[np.flatnonzero(ok)[visible]] = idx[visible]
    return out


def _clip(args) -> dict:
    split, seed, index, size, sensor, orbit, lift, pan = args
    from spatial_ros.bench.generate import SPLITS, generate_scene
    from spatial_ros.bench.relations import drift
    from spatial_ros.geometry import Pose
    from spatial_ros.sim.render import Renderer
    from spatial_ros.sim.sensors import apply_sensor

    rng = np.random.default_rng([SPLITS[split], seed, index, 31])
    w, h = size
    world, pose = generate_scene(split, seed, index, width=2 * w, height=2 * h)
    pose0 = drift(pose, 1, float(rng.uniform(-0.3, 0.3)))
    moved = drift(pose0, 1, float(rng.uniform(-orbit, orbit)))
    a = float(rng.uniform(-pan, pan))
    turn = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    pose1 = Pose(rotation=turn @ moved.rotation,
                 translation=moved.translation + np.array([0, 0, rng.uniform(-lift, lift)]))
    renderer = Renderer(world)
    frames = [renderer.render(pose0), renderer.render(pose1)]
    rgb, depth, clean = [], [], []
    for fr in frames:
        sensed = apply_sensor(fr.depth, fr.rgb, sensor, rng, fx=fr.intrinsics.fx)
        small, d, _ = prepare_frame(fr.rgb, sensed, size)
        _, c, _ = prepare_frame(fr.rgb, fr.depth, size)
        rgb.append(small)
        depth.append(d.astype(np.float16))
        clean.append(c.astype(np.float16))
    patch = 8 if w % 8 == 0 and h % 8 == 0 else 1
    corr = correspondences(frames[0].depth, frames[1].depth, frames[0].intrinsics, pose0, pose1,
                           patch, 2)
    motion = np.eye(4, dtype=np.float32)  # frame 0's optical frame -> frame 1's
    motion[:3, :3] = pose1.rotation.T @ pose0.rotation
    motion[:3, 3] = pose1.rotation.T @ (pose0.translation - pose1.translation)
    k, s = frames[0].intrinsics, w / frames[0].rgb.shape[1]  # at the model's size (area filter)
    intr = np.array([k.fx * s, k.fy * s, (k.cx + 0.5) * s - 0.5, (k.cy + 0.5) * s - 0.5],
                    np.float32)
    return {"rgb": np.stack(rgb), "depth": np.stack(depth), "gt_depth": np.stack(clean),
            "corr": corr.astype(np.int16), "motion": motion, "intr": intr}


def build_clips(split: str, n: int, *, seed: int = 0, size: tuple[int, int] = (128, 96),
                sensors: dict[str, float] | None = None, orbit: float = 0.15,
                lift: float = 0.05, pan: float = 0.12, out: str | pathlib.Path | None = None,
                workers: int = 1, progress: bool = True) -> dict[str, np.ndarray]:
    """``n`` clips of a split (scene i for clip i; "a+b": n // 2 of a, the rest of b), each
    with a sensor drawn from ``sensors``; saved as one .npz at ``out`` when given. The
    correspondences are for 8x8 patches at ``size``."""
    from spatial_ros.bench.generate import SPLITS

    parts = [p.strip() for p in split.split("+") if p.strip()]
    for p in parts or [split]:
        if p not in SPLITS:
            raise SpatialRosError(f"unknown split {p!r}; expected one of {', '.join(SPLITS)}")
    mix = sensors or SENSOR_MIX
    names = list(mix)
    weights = np.array([mix[s] for s in names], float)
    jobs = []
    for k, part in enumerate(parts):
        count = n // len(parts) + (k < n % len(parts))
        pick = np.random.default_rng([SPLITS[part], seed, 17]).choice(
            len(names), count, p=weights / weights.sum())
        jobs += [(part, seed, i, tuple(size), names[pick[i]], orbit, lift, pan)
                 for i in range(count)]
    return cached(_clip, jobs, size, out, workers, progress, f"clips {split}", "clip")


def _clips_for(pre: PretrainConfig, size: tuple[int, int], progress: bool
               ) -> dict[str, np.ndarray]:
    mix = "" if pre.sensors is None else "_" + "-".join(
        f"{k}{float(v):g}" for k, v in sorted(pre.sensors.items()))
    path = pathlib.Path(pre.data_dir).expanduser() / (
        f"clips2_{pre.split}_n{pre.samples}_seed{pre.data_seed}_{size[0]}x{size[1]}"
        f"_o{pre.orbit:g}_l{pre.lift:g}_p{pre.pan:g}{mix}.npz")
    return build_clips(pre.split, pre.samples, seed=pre.data_seed, size=size,
                       sensors=pre.sensors, orbit=pre.orbit, lift=pre.lift, pan=pre.pan,
                       out=path,
                       workers=pre.workers, progress=progress)


def _head(cfg: ModelConfig, pre: PretrainConfig) -> nn.Module:
    return nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.GELU(),
                         nn.Linear(cfg.dim, pre.projection))


class PixelDepth(nn.Module):
    """Pre-training-only head: each patch token gives the log depth of its ``patch`` x
    ``patch`` pixels, held between 0.1 and 10 m."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.out = nn.Linear(cfg.dim, cfg.patch * cfg.patch)
        nn.init.zeros_(self.out.bias)  # 1 m everywhere at the start

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, dim) tokens -> (B, H, W) log depth in metres."""
        (gh, gw), p = self.cfg.grid, self.cfg.patch
        x = self.out(tokens).float().reshape(-1, gh, gw, p, p).permute(0, 1, 3, 2, 4)
        return 2.3 * torch.tanh(x.reshape(-1, gh * p, gw * p) / 2.3)


def _ssim_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1 - SSIM) / 2 over 3x3 windows of (B, 3, H, W) images in [0, 1], per pixel (B, H, W)."""
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mx, my = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sx = F.avg_pool2d(x * x, 3, 1) - mx * mx
    sy = F.avg_pool2d(y * y, 3, 1) - my * my
    sxy = F.avg_pool2d(x * y, 3, 1) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sx + sy + c2))
    return ((1 - ssim) / 2).clamp(0, 1).mean(1)


def _photo_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 0.85 * _ssim_distance(a, b) + 0.15 * (a - b).abs().mean(1)


def warp(source: torch.Tensor, depth: torch.Tensor, motion: torch.Tensor, intr: torch.Tensor
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rebuild the target frame from ``source`` (B, 3, H, W): each target pixel, at ``depth``
    (B, H, W) metres, moved by ``motion`` (B, 4, 4: target optical frame -> source's) and seen
    by the camera ``intr`` (B, 4: fx, fy, cx, cy). Returns the rebuilt image and where it is
    seen by the source camera (B, H, W bool)."""
    b, h, w = depth.shape
    v, u = torch.meshgrid(torch.arange(h, device=depth.device, dtype=depth.dtype),
                          torch.arange(w, device=depth.device, dtype=depth.dtype), indexing="ij")
    fx, fy, cx, cy = (intr[:, i, None, None] for i in range(4))
    pts = torch.stack([(u - cx) / fx * depth, (v - cy) / fy * depth, depth], 1).reshape(b, 3, -1)
    q = motion[:, :3, :3] @ pts + motion[:, :3, 3:]
    z = q[:, 2].clamp(min=1e-3)
    us = (fx.reshape(b, 1) * q[:, 0] / z + cx.reshape(b, 1)).reshape(b, h, w)
    vs = (fy.reshape(b, 1) * q[:, 1] / z + cy.reshape(b, 1)).reshape(b, h, w)
    grid = torch.stack([(us + 0.5) / w * 2 - 1, (vs + 0.5) / h * 2 - 1], -1)
    rebuilt = F.grid_sample(source, grid, mode="bilinear", padding_mode="border",
                            align_corners=False)
    seen = (q[:, 2].reshape(b, h, w) > 1e-3) & (grid.abs() <= 1).all(-1)
    return rebuilt, seen


def photometric_loss(log_depth: torch.Tensor, rgb: torch.Tensor, motion: torch.Tensor,
                     intr: torch.Tensor, smoothness: float = 1e-3, scales: int = 3
                     ) -> torch.Tensor:
    """Self-supervised depth from two frames and the camera motion between them.

    ``log_depth``/``rgb``: (2B, H, W) / (2B, 3, H, W), first frames then second frames (as
    :func:`clip_tensors` stacks them); ``motion``: (B, 4, 4), first optical frame -> second;
    ``intr``: (B, 4). Each frame is rebuilt from the other; a pixel counts where the other
    camera sees it and where the rebuilt colour is nearer than the unmoved other frame's (so
    that uniform and out-of-view areas, which any depth explains, teach nothing). Averaged
    over ``scales`` resolutions (full, half, quarter...): the coarse ones reach depths whose
    motion is several pixels off."""
    b = motion.shape[0]
    with torch.autocast(log_depth.device.type, enabled=False):  # geometry in fp32 under AMP
        rgb, log_depth = rgb.float(), log_depth.float()
        moves = torch.cat([motion, torch.linalg.inv(motion)]).float()
        cams = torch.cat([intr, intr]).float()
        photo = rgb.new_zeros(())
        for level in range(scales):  # level 0: pooling by 1 leaves the images as they are
            f = 2 ** level
            img = F.avg_pool2d(rgb, f)
            depth = F.avg_pool2d(log_depth[:, None], f)[:, 0].exp()
            k = torch.cat([cams[:, :2] / f, (cams[:, 2:] + 0.5) / f - 0.5], 1)
            source = torch.cat([img[b:], img[:b]])
            rebuilt, seen = warp(source, depth, moves, k)
            err = _photo_error(rebuilt, img)
            with torch.no_grad():
                keep = seen & (err < _photo_error(source, img))
            photo = photo + (err * keep).sum() / keep.sum().clamp(min=1) / scales
        disp = 1 / log_depth.exp()
        disp = disp / disp.mean((1, 2), keepdim=True)
        dx, dy = (disp[:, :, 1:] - disp[:, :, :-1]).abs(), (disp[:, 1:] - disp[:, :-1]).abs()
        ix = (rgb[:, :, :, 1:] - rgb[:, :, :, :-1]).abs().mean(1)
        iy = (rgb[:, :, 1:] - rgb[:, :, :-1]).abs().mean(1)
        smooth = (dx * torch.exp(-ix)).mean() + (dy * torch.exp(-iy)).mean()
        return photo + smoothness * smooth


def clip_tensors(data: dict[str, np.ndarray], idx: np.ndarray, device: torch.device
                 ) -> dict[str, torch.Tensor]:
    """Both frames of each clip stacked: first frames, then second frames (2B, ...)."""
    def both(key, dtype=torch.float32):
        x = torch.from_numpy(data[key][idx].astype(np.float32)).to(device, dtype)
        return torch.cat([x[:, 0], x[:, 1]])

    out = {"rgb": both("rgb").permute(0, 3, 1, 2) / 255, "depth": both("depth"),
           "gt_depth": both("gt_depth"),
           "corr": torch.from_numpy(data["corr"][idx].astype(np.int64)).to(device)}
    for key in ("motion", "intr"):
        if key in data:
            out[key] = torch.from_numpy(data[key][idx].astype(np.float32)).to(device)
    return out


def pretrain_losses(net: SpatialNet, head: nn.Module, bt: dict[str, torch.Tensor],
                    pre: PretrainConfig, pixel_depth: PixelDepth | None = None
                    ) -> tuple[torch.Tensor, dict[str, float]]:
    tokens, log_depth = net.encode(bt["rgb"], bt["depth"])
    z = F.normalize(head(tokens).float(), dim=-1)
    b = bt["corr"].shape[0]
    logits = z[:b] @ z[b:].transpose(1, 2) / pre.temperature  # (B, N, N)
    corr = bt["corr"]
    have = corr >= 0
    nce = F.cross_entropy(logits[have], corr[have]) if have.any() else logits.sum() * 0
    with torch.no_grad():
        hit = float((logits[have].argmax(-1) == corr[have]).float().mean()) if have.any() \
            else 0.0
    total = nce
    parts = {"nce": float(nce.detach()), "match": hit}
    if log_depth is not None:
        gt = net.patch_depth(bt["gt_depth"])
        ok = torch.isfinite(gt)
        l1 = (log_depth.float()[ok] - gt[ok].log()).abs().mean()
        total = total + pre.depth_weight * l1
        parts["depth_l1"] = float(l1.detach())
    if pixel_depth is not None:
        photo = photometric_loss(pixel_depth(tokens), bt["rgb"], bt["motion"], bt["intr"],
                                 pre.smoothness, pre.photometric_scales)
        total = total + pre.photometric_weight * photo
        parts["photo"] = float(photo.detach())
    return total, parts


@torch.no_grad()
def evaluate_pretrain(net: SpatialNet, head: nn.Module, data: dict[str, np.ndarray],
                      pre: PretrainConfig, device: torch.device, batch: int = 32,
                      pixel_depth: PixelDepth | None = None) -> dict[str, float]:
    """Share of corresponding patches whose partner is the nearest feature (top-1 match); with
    ``pixel_depth``, also its depth's AbsRel against the clean render (``motion_absrel``: the
    depth the motion taught, never trained on a depth reading)."""
    modules = [m for m in (net, head, pixel_depth) if m is not None]
    for m in modules:
        m.eval()
    hits = total = 0
    rel, n_rel = 0.0, 0
    for s in range(0, len(data["rgb"]), batch):
        idx = np.arange(s, min(s + batch, len(data["rgb"])))
        bt = clip_tensors(data, idx, device)
        tokens, _ = net.encode(bt["rgb"], bt["depth"])
        z = F.normalize(head(tokens).float(), dim=-1)
        b = len(idx)
        best = (z[:b] @ z[b:].transpose(1, 2)).argmax(-1)
        have = bt["corr"] >= 0
        hits += int((best[have] == bt["corr"][have]).sum())
        total += int(have.sum())
        if pixel_depth is not None:
            gt = bt["gt_depth"]
            ok = torch.isfinite(gt) & (gt > 0)
            pred = pixel_depth(tokens).exp()
            rel += float(((pred[ok] - gt[ok]).abs() / gt[ok]).sum())
            n_rel += int(ok.sum())
    for m in modules:
        m.train()
    figures = {"match": hits / max(total, 1)}
    if pixel_depth is not None:
        figures["motion_absrel"] = rel / max(n_rel, 1)
    return figures


def pretrain(model_cfg: ModelConfig, pre: PretrainConfig, out: str | pathlib.Path, *,
             resume: str | pathlib.Path | None = None, device: str = "auto",
             progress: bool = True) -> pathlib.Path:
    """Pre-train the encoder on clips; returns the path of ``pretrain.pt``."""
    from spatial_ros.model.infer import pick_device

    out = pathlib.Path(out)
    dev = pick_device(device)
    size = (model_cfg.image_width, model_cfg.image_height)
    if model_cfg.patch != 8:
        raise SpatialRosError(f"pre-training correspondences are for 8x8 patches; the model "
                              f"has {model_cfg.patch}")
    done = out / "pretrain.pt"
    if resume is None and done.is_file():  # a finished stage of this config: reuse it
        ck = read_checkpoint(done)
        if ck.get("stage") == "pretrain" and ck.get("pretrain") == asdict(pre) and all(
                ck["config"].get(k) == getattr(model_cfg, k) for k in ENCODER_FIELDS):
            if progress:
                print(f"{done}: pre-training of this config already done, reused", flush=True)
            return done
    t_data = time.perf_counter()
    data = _clips_for(pre, size, progress)
    held = max(1, min(len(data["rgb"]) // 10, 200))  # the last clips check the matching
    val = {k: (v if k == "size" else v[-held:]) for k, v in data.items()}
    train_idx = len(data["rgb"]) - held
    t_data = time.perf_counter() - t_data
    torch.manual_seed(pre.seed)
    net = SpatialNet(model_cfg).to(dev)
    head = _head(model_cfg, pre).to(dev)
    extra = {"head": head}
    pixel_depth = None
    if pre.photometric_weight > 0:
        pixel_depth = extra["pixel_depth"] = PixelDepth(model_cfg).to(dev)
    params = [p for m in (net, *extra.values()) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=pre.lr, weight_decay=pre.weight_decay)
    start: tuple[int, int, list, float] = (0, 0, [], 0.0)
    if resume is not None:
        start = resume_from(resume, "pretrain", {"config": model_cfg.to_dict(),
                                                 "pretrain": asdict(pre)}, net, opt,
                            extra=extra)
    net.train()

    def step_loss(idx, _rng):
        return pretrain_losses(net, head, clip_tensors(data, idx, dev), pre, pixel_depth)

    def heads() -> dict:
        return {key: {k: v.detach().cpu() for k, v in m.state_dict().items()}
                for key, m in extra.items()}

    def save_last(epoch, step, history, seconds):
        save_checkpoint(out / "pretrain_last.pt", net, stage="pretrain", pretrain=asdict(pre),
                        optimizer=opt.state_dict(), epoch=epoch, step=step, history=history,
                        train_seconds=seconds, torch_rng=torch.get_rng_state(), **heads())

    def describe(f: dict) -> str:
        text = f"held-out patch matching {100 * f['match']:.1f}%"
        if "motion_absrel" in f:
            text += f", depth learnt from the motion AbsRel {f['motion_absrel']:.3f}"
        return text

    history, seconds = run_epochs(
        params=params, opt=opt, n=train_idx, cfg=pre, dev=dev, step_loss=step_loss,
        evaluate_fn=lambda: evaluate_pretrain(net, head, val, pre, dev,
                                              pixel_depth=pixel_depth),
        save_last=save_last, describe=describe, progress=progress, start=start)
    path = done
    save_checkpoint(path, net, stage="pretrain", pretrain=asdict(pre), history=history,
                    train_seconds=seconds, data_seconds=t_data, **heads())
    return path


def load_pretrained(path: str | pathlib.Path, net: SpatialNet) -> dict:
    """Copy the encoder of the pre-training checkpoint at ``path`` into ``net``; returns what
    the fine-tuned checkpoint records of it. Raises CheckpointError naming what differs when
    ``path`` is not a pre-training checkpoint or its encoder is another architecture."""
    ck = read_checkpoint(path)
    stage = ck.get("stage", "finetune")
    if stage != "pretrain":
        raise CheckpointError(f"{path} is a {stage} checkpoint (a model trained on relation "
                              f"labels); fine-tuning starts from a pre-training checkpoint "
                              f"(stage 'pretrain', DIR/pretrain.pt)")
    theirs = ck["config"]
    own = net.cfg.to_dict()
    diff = [f"{k}: pre-trained {theirs.get(k)!r}, fine-tuning {own[k]!r}"
            for k in ENCODER_FIELDS if theirs.get(k) != own[k]]
    if diff:
        raise CheckpointError(f"{path}: its encoder is another architecture: " + "; ".join(diff))
    state = {k: v for k, v in ck["state_dict"].items() if not k.startswith(HEAD_PREFIXES)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(HEAD_PREFIXES)]
    if missing or unexpected:
        raise CheckpointError(f"{path}: encoder weights do not fit: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    return {"pretrained_from": str(path),
            "pretrain_seconds": float(ck.get("train_seconds", 0.0)),
            "pretrain": ck.get("pretrain", {})}
