"""Checkpoints of SpatialNet: plain dicts of tensors and primitives, so that they load with
``torch.load(..., weights_only=True)``; loading checks the format version, the stage
(``pretrain``: an encoder from spatial_ros.model.pretrain; ``finetune``, or none in older files:
a model to reason with), the architecture and the decision vocabulary (the names of the
relation head's outputs, in order), and names what differs."""
from __future__ import annotations

import pathlib
from dataclasses import fields

import torch

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.network import ModelConfig, SpatialNet
from spatial_ros.vocabulary import DECISION_KEYS

__all__ = ["FORMAT", "CheckpointError", "save_checkpoint", "read_checkpoint", "load_model",
           "decision_names"]

FORMAT = "spatial_ros.model/1"


class CheckpointError(SpatialRosError):
    """A checkpoint that is missing, unreadable, of another format or of another architecture."""


def decision_names(keys=DECISION_KEYS) -> list[str]:
    """``predicate/frame`` of each output of the relation head, in order."""
    return [f"{p}/{f.name.lower()}" for p, f in keys]


#: The decision vocabulary of every checkpoint written before checkpoints stored its names
#: (they stored only how many there were): checked like a stored one, so that a reordered
#: vocabulary cannot silently swap the outputs of an older checkpoint either.
_UNNAMED_DECISIONS = [
    "left_of/egocentric", "left_of/allocentric", "right_of/egocentric", "right_of/allocentric",
    "above/egocentric", "above/allocentric", "below/egocentric", "below/allocentric",
    "in_front_of/egocentric", "in_front_of/allocentric", "behind/egocentric",
    "behind/allocentric", "near/allocentric", "far_from/allocentric", "on_top_of/allocentric",
    "under/allocentric", "inside/allocentric", "contains/allocentric", "occludes/egocentric",
    "larger_than/allocentric", "smaller_than/allocentric"]


def save_checkpoint(path: str | pathlib.Path, net: SpatialNet, **extra) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "config": net.cfg.to_dict(), "decisions": decision_names(),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
               **extra}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a truncated checkpoint


def read_checkpoint(path: str | pathlib.Path) -> dict:
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises many kinds for a bad file)
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from e
    if not isinstance(ck, dict) or "format" not in ck:
        raise CheckpointError(f"{path} is not a spatial_ros model checkpoint (no 'format' key)")
    if ck["format"] != FORMAT:
        raise CheckpointError(f"{path} has format {ck['format']!r}; this version of spatial_ros "
                              f"reads {FORMAT!r}")
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(ck["config"]) - known)
    if unknown:
        raise CheckpointError(f"{path}: model config has fields this version does not know: "
                              f"{', '.join(unknown)}")
    return ck


def load_model(path: str | pathlib.Path, *, expect: ModelConfig | None = None,
               device: str | torch.device = "cpu") -> tuple[SpatialNet, dict]:
    """The network of a checkpoint (eval mode, on ``device``) and the checkpoint dict.

    Raises CheckpointError naming what differs when the checkpoint's architecture is not
    ``expect`` or its weights do not fit the architecture it states.
    """
    ck = read_checkpoint(path)
    if ck.get("stage", "finetune") != "finetune":
        raise CheckpointError(f"{path} is a {ck['stage']} checkpoint (an encoder trained without "
                              f"relation labels; its relation head is untrained): reason with "
                              f"the model.pt fine-tuned from it")
    try:
        cfg = ModelConfig(**ck["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad model config: {e}") from e
    if expect is not None and cfg != expect:
        diff = [f"{f.name}: checkpoint {getattr(cfg, f.name)!r}, expected "
                f"{getattr(expect, f.name)!r}" for f in fields(ModelConfig)
                if getattr(cfg, f.name) != getattr(expect, f.name)]
        raise CheckpointError(f"{path} is another architecture: " + "; ".join(diff))
    stored = list(ck.get("decisions", _UNNAMED_DECISIONS))
    if stored != decision_names():
        ours = decision_names()
        diff = [f"output {i}: checkpoint {a!r}, this version {b!r}" for i, (a, b) in
                enumerate(zip(stored, ours)) if a != b]
        if len(stored) != len(ours):
            diff.append(f"{len(stored)} outputs in the checkpoint, {len(ours)} here")
        raise CheckpointError(f"{path} was trained on another decision vocabulary: "
                              + "; ".join(diff[:4]))
    net = SpatialNet(cfg)
    own = net.state_dict()
    theirs = ck["state_dict"]
    missing = sorted(set(own) - set(theirs))
    extra = sorted(set(theirs) - set(own))
    shapes = [f"{k}: checkpoint {tuple(theirs[k].shape)}, model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(theirs)) if own[k].shape != theirs[k].shape]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]))
        if extra:
            parts.append("unexpected " + ", ".join(extra[:5]))
        if shapes:
            parts.append("shape " + "; ".join(shapes[:5]))
        raise CheckpointError(f"{path}: weights do not fit the model: " + " | ".join(parts))
    net.load_state_dict(theirs)
    return net.to(device).eval(), ck
