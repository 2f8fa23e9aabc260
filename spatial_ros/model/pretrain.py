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
from spatial_ros.model.data import SENSOR_MIX, map_jobs, prepare_frame, stack_rows
from spatial_ros.model.network import ModelConfig, SpatialNet

__all__ = ["PretrainConfig", "build_clips", "correspondences", "pretrain", "load_pretrained",
           "ENCODER_FIELDS", "HEAD_PREFIXES"]

#: state_dict prefixes of the relation head, which fine-tuning starts fresh
HEAD_PREFIXES = ("geo.", "pair.")
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
    data_dir: str = "~/.cache/spatial_ros/data"
    workers: int = 2

    def __post_init__(self) -> None:
        if self.samples < 1 or self.epochs < 1 or self.batch < 1:
            raise ValueError("samples, epochs and batch must be positive")
        if self.temperature <= 0:
            raise ValueError(f"temperature {self.temperature} must be positive")


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
    return {"rgb": np.stack(rgb), "depth": np.stack(depth), "gt_depth": np.stack(clean),
            "corr": corr.astype(np.int16)}


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
    rows = map_jobs(_clip, jobs, workers, progress, f"clips {split}", "clip")
    return stack_rows(rows, size, out)


def _clips_for(pre: PretrainConfig, size: tuple[int, int], progress: bool
               ) -> dict[str, np.ndarray]:
    from spatial_ros.model.data import load_dataset

    mix = "" if pre.sensors is None else "_" + "-".join(
        f"{k}{float(v):g}" for k, v in sorted(pre.sensors.items()))
    path = pathlib.Path(pre.data_dir).expanduser() / (
        f"clips_{pre.split}_n{pre.samples}_seed{pre.data_seed}_{size[0]}x{size[1]}"
        f"_o{pre.orbit:g}_l{pre.lift:g}_p{pre.pan:g}{mix}.npz")
    if path.exists():
        return load_dataset(path)
    return build_clips(pre.split, pre.samples, seed=pre.data_seed, size=size,
                       sensors=pre.sensors, orbit=pre.orbit, lift=pre.lift, pan=pre.pan,
                       out=path,
                       workers=pre.workers, progress=progress)


def _head(cfg: ModelConfig, pre: PretrainConfig) -> nn.Module:
    return nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.GELU(),
                         nn.Linear(cfg.dim, pre.projection))


def clip_tensors(data: dict[str, np.ndarray], idx: np.ndarray, device: torch.device
                 ) -> dict[str, torch.Tensor]:
    """Both frames of each clip stacked: first frames, then second frames (2B, ...)."""
    def both(key, dtype=torch.float32):
        x = torch.from_numpy(data[key][idx].astype(np.float32)).to(device, dtype)
        return torch.cat([x[:, 0], x[:, 1]])

    return {"rgb": both("rgb").permute(0, 3, 1, 2) / 255, "depth": both("depth"),
            "gt_depth": both("gt_depth"),
            "corr": torch.from_numpy(data["corr"][idx].astype(np.int64)).to(device)}


def pretrain_losses(net: SpatialNet, head: nn.Module, bt: dict[str, torch.Tensor],
                    pre: PretrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
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
    return total, parts


@torch.no_grad()
def evaluate_pretrain(net: SpatialNet, head: nn.Module, data: dict[str, np.ndarray],
                      pre: PretrainConfig, device: torch.device, batch: int = 32
                      ) -> dict[str, float]:
    """Share of corresponding patches whose partner is the nearest feature (top-1 match)."""
    net.eval()
    head.eval()
    hits = total = 0
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
    net.train()
    head.train()
    return {"match": hits / max(total, 1)}


def pretrain(model_cfg: ModelConfig, pre: PretrainConfig, out: str | pathlib.Path, *,
             resume: str | pathlib.Path | None = None, device: str = "auto",
             progress: bool = True) -> pathlib.Path:
    """Pre-train the encoder on clips; returns the path of ``pretrain.pt``."""
    from spatial_ros.model.infer import pick_device
    from spatial_ros.model.train import resume_from, run_epochs

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
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=pre.lr, weight_decay=pre.weight_decay)
    start: tuple[int, int, list, float] = (0, 0, [], 0.0)
    if resume is not None:
        start = resume_from(resume, "pretrain", {"config": model_cfg.to_dict(),
                                                 "pretrain": asdict(pre)}, net, opt,
                            extra={"head": head})
    net.train()

    def step_loss(idx, _rng):
        return pretrain_losses(net, head, clip_tensors(data, idx, dev), pre)

    def save_last(epoch, step, history, seconds):
        save_checkpoint(out / "pretrain_last.pt", net, stage="pretrain", pretrain=asdict(pre),
                        head={k: v.detach().cpu() for k, v in head.state_dict().items()},
                        optimizer=opt.state_dict(), epoch=epoch, step=step, history=history,
                        train_seconds=seconds, torch_rng=torch.get_rng_state())

    history, seconds = run_epochs(
        params=params, opt=opt, n=train_idx, cfg=pre, dev=dev, step_loss=step_loss,
        evaluate_fn=lambda: evaluate_pretrain(net, head, val, pre, dev), save_last=save_last,
        describe=lambda f: f"held-out patch matching {100 * f['match']:.1f}%",
        progress=progress, start=start)
    path = done
    save_checkpoint(path, net, stage="pretrain", pretrain=asdict(pre), history=history,
                    train_seconds=seconds, data_seconds=t_data,
                    head={k: v.detach().cpu() for k, v in head.state_dict().items()})
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
