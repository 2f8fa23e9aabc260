"""`spatial-ros train --config CONFIG.yaml`: train SpatialNet on SpatialBench (ROS-free).

The config (YAML) has a ``model:`` section (ModelConfig fields) and a ``train:`` section
(TrainConfig fields). The training and validation sets are built from the SpatialBench train and
val splits on first use and cached as .npz under ``data_dir``; a cached set is used again only
while this code still makes the first sample of each split in it (else rebuilt, with a line
saying so), so a changed scene generator cannot train on stale data. Every epoch writes ``last.pt``
(model, optimiser, schedule, RNG: ``--resume`` continues from it exactly); the end writes
``model.pt`` (weights, config, data seed, validation figures, training time) that the reasoning
node and ``bench model`` load. Mixed precision runs on CUDA (bf16 where supported, else fp16 with
a gradient scaler).

Losses: binary cross-entropy over every decision of every ordered pair of visible objects, and
L1 on per-patch log depth against the clean render (where the depth head exists). Each sample's
object regions are its instance masks or, for half of them, the masks' 2D boxes, so that the
node can run on the scene graph's boxes as well.
"""
from __future__ import annotations

import pathlib
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.checkpoint import save_checkpoint
from spatial_ros.model.data import (
    DECISION_KEYS,
    GEOMETRY_FEATURES,
    MAX_OBJECTS,
    build_dataset,
)
from spatial_ros.model.loop import resume_from, run_epochs
from spatial_ros.model.network import ModelConfig, SpatialNet
from spatial_ros.model.pretrain import PretrainConfig, load_pretrained

__all__ = ["TrainConfig", "load_config", "train", "batch_tensors", "region_masks"]


@dataclass(frozen=True)
class TrainConfig:
    train_samples: int = 6000
    val_samples: int = 400
    data_seed: int = 0  #: SpatialBench seed of the scenes (and of the sensor draws)
    seed: int = 0  #: initialisation and batch order
    epochs: int = 8
    batch: int = 32
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    depth_weight: float = 0.5
    box_regions: float = 0.5  #: share of samples whose regions are 2D boxes, not masks
    data_dir: str = "~/.cache/spatial_ros/data"
    workers: int = 2  #: processes that render the data set
    threads: int = 0  #: torch CPU threads (0 = torch's default)
    #: SpatialBench splits of the training and validation sets; "a+b" draws half from each
    train_split: str = "train"
    val_split: str = "val"
    #: sensor preset -> weight of the training and validation samples (None: data.SENSOR_MIX)
    sensors: dict | None = None
    #: a pre-training checkpoint (pretrain.pt) whose encoder the fine-tuning starts from
    init: str = ""


def _read_config(path: pathlib.Path, seen: tuple[pathlib.Path, ...] = ()) -> dict:
    """A config's sections, with those of its ``base:`` (a path relative to it, or a list of
    them, merged in order) underneath."""
    import yaml

    if not path.is_file():
        raise SpatialRosError(f"config {path} does not exist")
    if path.resolve() in seen:
        raise SpatialRosError(f"config {path}: 'base' chain loops back to itself")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpatialRosError(f"config {path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict) or set(raw) - {"model", "train", "pretrain", "base"}:
        raise SpatialRosError(f"{path}: expected top-level sections 'model', 'train', "
                              f"'pretrain' and 'base', got "
                              f"{sorted(raw) if isinstance(raw, dict) else type(raw).__name__}")
    out: dict = {}
    bases = raw.get("base") or []
    for base in [bases] if isinstance(bases, str) else bases:
        for section, values in _read_config(path.parent / str(base),
                                            (*seen, path.resolve())).items():
            out[section] = {**out.get(section, {}), **values}
    for section in ("model", "train", "pretrain"):
        values = raw.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise SpatialRosError(f"{path}: section {section!r} must be a mapping")
        out[section] = {**out.get(section, {}), **values}
    return out


def _section(path: pathlib.Path, section: str, cls, values: dict):
    known = {f.name for f in fields(cls)}
    bad = sorted(set(values) - known)
    if bad:
        raise SpatialRosError(f"{path}: unknown {section} field(s) {', '.join(bad)}; known: "
                              f"{', '.join(sorted(known))}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise SpatialRosError(f"{path}: {section}: {e}") from e


def load_config(path: str | pathlib.Path) -> tuple[ModelConfig, TrainConfig]:
    """The model and training sections of a config (see :func:`load_full_config`)."""
    model, trn, _ = load_full_config(path)
    return model, trn


def load_full_config(path: str | pathlib.Path
                     ) -> tuple[ModelConfig, TrainConfig, PretrainConfig | None]:
    """Model, training and (where the config has one) pre-training sections of a config."""
    from spatial_ros.sim.sensors import PRESETS

    path = pathlib.Path(path)
    raw = _read_config(path)
    model = _section(path, "model", ModelConfig, raw.get("model", {}))
    trn = _section(path, "train", TrainConfig, raw.get("train", {}))
    pre = _section(path, "pretrain", PretrainConfig, raw["pretrain"]) if "pretrain" in raw \
        else None
    if model.predicates != len(DECISION_KEYS) or model.geometry != GEOMETRY_FEATURES:
        raise SpatialRosError(f"{path}: model.predicates must be {len(DECISION_KEYS)} and "
                              f"model.geometry {GEOMETRY_FEATURES} (the data's layout)")
    for mix in (trn.sensors, pre.sensors if pre else None):
        if mix is not None:
            bad = sorted(set(mix) - set(PRESETS))
            if bad or not mix or any(float(v) < 0 for v in mix.values()):
                raise SpatialRosError(f"{path}: sensors must map presets "
                                      f"({', '.join(PRESETS)}) to weights >= 0; got {mix}")
    from spatial_ros.bench.generate import SPLITS
    for name in (trn.train_split, trn.val_split, *([pre.split] if pre else [])):
        for part in name.split("+"):
            if part.strip() not in SPLITS:
                raise SpatialRosError(f"{path}: unknown split {part!r} in {name!r}; expected "
                                      f"one of {', '.join(SPLITS)}")
    return model, trn, pre


def dataset_path(trn: TrainConfig, split: str, n: int, size: tuple[int, int]) -> pathlib.Path:
    root = pathlib.Path(trn.data_dir).expanduser()
    mix = ""
    if trn.sensors is not None:
        mix = "_" + "-".join(f"{k}{float(v):g}" for k, v in sorted(trn.sensors.items()))
    return root / f"spatialbench_{split}_n{n}_seed{trn.data_seed}_{size[0]}x{size[1]}{mix}.npz"


def get_dataset(trn: TrainConfig, split: str, n: int, size: tuple[int, int],
                progress: bool = True) -> dict[str, np.ndarray]:
    """``n`` samples of ``split`` ("a+b": n // 2 of a, the rest of b), cached per split."""
    parts = [p.strip() for p in split.split("+") if p.strip()]
    if not parts:
        raise SpatialRosError(f"empty split {split!r}")
    if len(parts) > 1:
        counts = [n // len(parts) + (i < n % len(parts)) for i in range(len(parts))]
        sets = [get_dataset(trn, p, c, size, progress) for p, c in zip(parts, counts)]
        return {k: (sets[0][k] if k == "size" else np.concatenate([d[k] for d in sets]))
                for k in sets[0]}
    return build_dataset(split, n, seed=trn.data_seed, size=size, sensors=trn.sensors,
                         out=dataset_path(trn, split, n, size),
                         workers=trn.workers, progress=progress)


def region_masks(mask: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Instance masks (B, K, H, W) of ids 1..K from ``mask`` (B, H, W); where ``boxes`` (B,) is
    true, each region is its mask's 2D box instead. Also returns the (B, K, 4) pixel boxes."""
    ids = torch.arange(1, MAX_OBJECTS + 1, device=mask.device)
    m = mask[:, None] == ids[None, :, None, None]  # (B, K, H, W)
    rows, cols = m.any(-1), m.any(-2)  # (B, K, H), (B, K, W)

    def span(x):
        return (x.cumsum(-1) > 0) & (x.flip(-1).cumsum(-1).flip(-1) > 0)

    box = span(rows)[..., :, None] & span(cols)[..., None, :]
    m = torch.where(boxes[:, None, None, None], box, m)
    h, w = mask.shape[1:]
    ar_h = torch.arange(h, device=mask.device)
    ar_w = torch.arange(w, device=mask.device)
    big = 10 ** 6
    v0 = torch.where(rows, ar_h, big).amin(-1)
    v1 = torch.where(rows, ar_h + 1, 0).amax(-1)
    u0 = torch.where(cols, ar_w, big).amin(-1)
    u1 = torch.where(cols, ar_w + 1, 0).amax(-1)
    present = rows.any(-1)
    xyxy = torch.stack([u0, v0, u1, v1], -1).float() * present[..., None]
    return m.float(), xyxy


def batch_tensors(data: dict[str, np.ndarray], idx: np.ndarray, box_share: float,
                  rng: np.random.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """One batch: model inputs and targets on ``device``."""
    mask = torch.from_numpy(data["mask"][idx]).to(device)
    b, h, w = mask.shape
    use_boxes = torch.from_numpy(rng.random(len(idx)) < box_share).to(device)
    masks, xyxy = region_masks(mask, use_boxes)
    geo = torch.zeros(b, MAX_OBJECTS, GEOMETRY_FEATURES, device=device)
    geo[..., 0:4] = xyxy / torch.tensor([w, h, w, h], device=device, dtype=torch.float32)
    geo[..., 4] = masks.flatten(2).mean(-1).sqrt()
    geo[..., 5:14] = torch.from_numpy(data["rotation"][idx]).to(device)[:, None, :]
    valid = torch.from_numpy(data["valid"][idx]).to(device)
    pair_ok = valid[:, :, None] & valid[:, None, :] & \
        ~torch.eye(MAX_OBJECTS, dtype=torch.bool, device=device)[None]
    return {
        "rgb": torch.from_numpy(data["rgb"][idx]).to(device).permute(0, 3, 1, 2).float() / 255,
        "depth": torch.from_numpy(data["depth"][idx].astype(np.float32)).to(device),
        "gt_depth": torch.from_numpy(data["gt_depth"][idx].astype(np.float32)).to(device),
        "masks": masks, "geometry": geo, "pair_ok": pair_ok,
        "target": torch.from_numpy(data["target"][idx]).to(device).float(),
    }


def losses(net: SpatialNet, bt: dict[str, torch.Tensor], depth_weight: float
           ) -> tuple[torch.Tensor, dict[str, float]]:
    out = net(bt["rgb"], bt["depth"], bt["masks"], bt["geometry"])
    logits = out["pair_logits"].float()
    ok = bt["pair_ok"]
    bce = F.binary_cross_entropy_with_logits(logits[ok], bt["target"][ok])
    total = bce
    parts = {"bce": float(bce.detach())}
    if out["log_depth"] is not None:
        gt = net.patch_depth(bt["gt_depth"])
        have = torch.isfinite(gt)
        l1 = (out["log_depth"].float()[have] - gt[have].log()).abs().mean()
        total = total + depth_weight * l1
        parts["depth_l1"] = float(l1.detach())
    return total, parts


@torch.no_grad()
def evaluate(net: SpatialNet, data: dict[str, np.ndarray], device: torch.device,
             batch: int = 64) -> dict[str, float]:
    """Decision accuracy over every visible ordered pair (masks as regions), and the depth head's
    AbsRel per patch against the clean depth."""
    net.eval()
    rng = np.random.default_rng(0)
    correct = total = 0
    absrel, patches = 0.0, 0
    for s in range(0, len(data["rgb"]), batch):
        idx = np.arange(s, min(s + batch, len(data["rgb"])))
        bt = batch_tensors(data, idx, 0.0, rng, device)
        out = net(bt["rgb"], bt["depth"], bt["masks"], bt["geometry"])
        ok = bt["pair_ok"]
        guess = out["pair_logits"].float()[ok] > 0
        correct += int((guess == (bt["target"][ok] > 0.5)).sum())
        total += guess.numel()
        if out["log_depth"] is not None:
            gt = net.patch_depth(bt["gt_depth"])
            have = torch.isfinite(gt)
            pred = out["log_depth"].float()[have].exp()
            absrel += float(((pred - gt[have]).abs() / gt[have]).sum())
            patches += int(have.sum())
    net.train()
    return {"accuracy": correct / max(total, 1),
            "depth_absrel": absrel / patches if patches else float("nan")}


def train(model_cfg: ModelConfig, trn: TrainConfig, out: str | pathlib.Path, *,
          resume: str | pathlib.Path | None = None, device: str = "auto",
          progress: bool = True, config_text: str = "",
          init: str | pathlib.Path | None = None) -> dict:
    """Train (fine-tune from the pre-trained encoder at ``init``, or ``trn.init``, when given),
    writing checkpoints to ``out``; returns the final validation figures."""
    from spatial_ros.model.infer import pick_device

    out = pathlib.Path(out)
    dev = pick_device(device)
    if trn.threads:
        torch.set_num_threads(trn.threads)
    size = (model_cfg.image_width, model_cfg.image_height)
    t_data = time.perf_counter()
    data = get_dataset(trn, trn.train_split, trn.train_samples, size, progress)
    val = get_dataset(trn, trn.val_split, trn.val_samples, size, progress)
    t_data = time.perf_counter() - t_data
    torch.manual_seed(trn.seed)
    net = SpatialNet(model_cfg).to(dev)
    init = init or trn.init or None
    pretrain_info: dict = {}
    if init:
        pretrain_info = load_pretrained(init, net)
    opt = torch.optim.AdamW(net.parameters(), lr=trn.lr, weight_decay=trn.weight_decay)
    start: tuple[int, int, list, float] = (0, 0, [], 0.0)
    if resume is not None:
        start = resume_from(resume, "finetune", {"config": model_cfg.to_dict(),
                                                 "train": asdict(trn)}, net, opt)
    net.train()

    def step_loss(idx, rng):
        return losses(net, batch_tensors(data, idx, trn.box_regions, rng, dev), trn.depth_weight)

    def save_last(epoch, step, history, seconds):
        save_checkpoint(out / "last.pt", net, stage="finetune", train=asdict(trn),
                        optimizer=opt.state_dict(), epoch=epoch, step=step, history=history,
                        train_seconds=seconds, torch_rng=torch.get_rng_state())

    history, train_seconds = run_epochs(
        params=list(net.parameters()), opt=opt, n=len(data["rgb"]), cfg=trn, dev=dev,
        step_loss=step_loss, evaluate_fn=lambda: evaluate(net, val, dev), save_last=save_last,
        describe=lambda f: (f"val accuracy {100 * f['accuracy']:.2f}%, depth AbsRel "
                            f"{f['depth_absrel']:.3f}"),
        progress=progress, start=start)
    final = history[-1] if history else {}
    save_checkpoint(out / "model.pt", net, stage="finetune", train=asdict(trn), history=history,
                    train_seconds=train_seconds, data_seconds=t_data,
                    val_accuracy=float(final.get("accuracy", float("nan"))),
                    val_depth_absrel=float(final.get("depth_absrel", float("nan"))),
                    config_text=config_text, device=str(dev), **pretrain_info)
    return final
