"""The epoch loop shared by pre-training (spatial_ros.model.pretrain) and fine-tuning
(spatial_ros.model.train), and the resume of either stage from its resumable checkpoint.

Both stages import this module; neither imports the other's loop, so model/ has no import
cycle (train -> pretrain -> loop)."""
from __future__ import annotations

import math
import pathlib
import time

import numpy as np
import torch

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.checkpoint import read_checkpoint

__all__ = ["run_epochs", "resume_from"]


def _lr(step: int, total: int, trn) -> float:
    if step < trn.warmup_steps:
        return trn.lr * (step + 1) / trn.warmup_steps
    t = (step - trn.warmup_steps) / max(total - trn.warmup_steps, 1)
    return trn.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def run_epochs(*, params: list[torch.nn.Parameter], opt: torch.optim.Optimizer, n: int, cfg,
               dev: torch.device, step_loss, evaluate_fn, save_last, describe,
               progress: bool = True, start: tuple[int, int, list, float] = (0, 0, [], 0.0)
               ) -> tuple[list[dict], float]:
    """The epochs of one training stage, shared by pre-training and fine-tuning.

    ``cfg`` has ``epochs``, ``batch``, ``seed``, ``lr`` and ``warmup_steps``;
    ``step_loss(idx, rng)`` gives (loss, parts) of one batch of sample indices; after each epoch
    ``evaluate_fn()`` gives figures, ``save_last(epoch, step, history, seconds)`` writes the
    resumable checkpoint and ``describe(figures)`` the line printed. Mixed precision on CUDA
    (bf16 where supported, else fp16 with a gradient scaler). Returns the history and seconds.
    """
    from tqdm import tqdm

    use_amp = dev.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    steps_per_epoch = n // cfg.batch
    if steps_per_epoch == 0:
        raise SpatialRosError(f"{n} samples make no batch of {cfg.batch}")
    total_steps = steps_per_epoch * cfg.epochs
    start_epoch, step, history, seconds = start
    history = list(history)
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng([cfg.seed, epoch])
        order = rng.permutation(n)
        t0 = time.perf_counter()
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   unit="batch", disable=not progress)
        running: dict[str, float] = {}
        for i in bar:
            idx = np.sort(order[i * cfg.batch:(i + 1) * cfg.batch])
            for g in opt.param_groups:
                g["lr"] = _lr(step, total_steps, cfg)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                loss, parts = step_loss(idx, rng)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            scaler.step(opt)
            scaler.update()
            step += 1
            running = {k: 0.95 * running.get(k, v) + 0.05 * v for k, v in parts.items()}
            bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        seconds += time.perf_counter() - t0
        figures = evaluate_fn()
        history.append({"epoch": epoch + 1, "step": step, "seconds": seconds,
                        "precision": str(amp_dtype).removeprefix("torch.") if use_amp
                        else "float32",
                        **{k: float(v) for k, v in running.items()}, **figures})
        if progress:
            print(f"epoch {epoch + 1}: {describe(figures)}, {seconds / 60:.1f} min", flush=True)
        save_last(epoch + 1, step, history, seconds)
    return history, seconds


def resume_from(path: str | pathlib.Path, stage: str, expect: dict, net: torch.nn.Module,
                opt: torch.optim.Optimizer, extra: dict[str, torch.nn.Module] | None = None
                ) -> tuple[int, int, list, float]:
    """Restore a stage from its resumable checkpoint at ``path``: checked to be of ``stage``
    and written with the configs ``expect`` (key -> dict; raises naming what differs); loads
    the network, the ``extra`` modules (checkpoint key -> module), the optimiser and the torch
    RNG, and returns (epoch, step, history, seconds) for :func:`run_epochs`."""
    ck = read_checkpoint(path)
    got = ck.get("stage", "finetune")
    if got != stage:
        raise SpatialRosError(f"{path} is a {got} checkpoint; this resumes the {stage} stage")
    if "optimizer" not in ck:
        raise SpatialRosError(f"{path} is a finished run's weights, not a resumable last.pt")
    for key, want in expect.items():
        have = ck.get(key) or {}
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        if diff:
            raise SpatialRosError(f"{path} was written with another {key} config ("
                                  + ", ".join(f"{k}: {have.get(k)!r} there, {want.get(k)!r} now"
                                              for k in diff[:6])
                                  + "); resume with the config that started it")
    net.load_state_dict(ck["state_dict"])
    for key, module in (extra or {}).items():
        module.load_state_dict(ck[key])
    opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["torch_rng"])
    return int(ck["epoch"]), int(ck["step"]), list(ck["history"]), float(ck["train_seconds"])
