"""The learned segmenter's network (torch): a three-level U-Net on the perception grid's
features (spatial_ros.perception.learned.grid_features) giving objectness and the affinities to
the right and lower neighbours; loading and saving its weights with their architecture.

A weights file holds one network or several of one architecture (trainings of several seeds,
``spatial-ros segment train --seeds``): the segmenter's probabilities are their mean. One
training's objectness of an ordinary box or can moved by up to 0.55 from one seed to the next
(docs/benchmarks.md, seventh stop); the mean of two moves less."""
from __future__ import annotations

import copy
import pathlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from spatial_ros.perception.learned import (
    FEATURES,
    SegmenterError,
    default_weights,
    dropped_channels,
)

__all__ = ["FORMAT", "READS", "SegmenterConfig", "SegmenterNet", "Segmenter",
           "fused_for_inference", "load_segmenter", "mean_probability", "save_segmenter"]

FORMAT = "spatial_ros.segmenter/2"  #: written: ``state_dicts``, a list (one per seed)
#: read: /1 held one network's ``state_dict``
READS = ("spatial_ros.segmenter/1", FORMAT)
#: the network halves the grid twice: frames are padded to a multiple of this
_MULTIPLE = 4


@dataclass(frozen=True)
class SegmenterConfig:
    """Channels of the three levels (full grid, half, quarter)."""

    widths: tuple[int, int, int] = (12, 24, 32)
    features: int = FEATURES

    def to_dict(self) -> dict:
        return {"widths": list(self.widths), "features": self.features}


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SegmenterNet(nn.Module):
    """A three-level U-Net: (B, FEATURES, H, W) -> (B, 3, H, W) logits of objectness, same
    object as the right neighbour, same object as the lower neighbour (H, W multiples of 4;
    ``logits`` takes any size)."""

    def __init__(self, cfg: SegmenterConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or SegmenterConfig()
        a, b, c = cfg.widths
        self.enc1 = nn.Sequential(_conv(cfg.features, a), _conv(a, a))
        self.enc2 = nn.Sequential(_conv(a, b), _conv(b, b))
        self.enc3 = nn.Sequential(_conv(b, c), _conv(c, c, dilation=2))
        self.dec2 = nn.Sequential(nn.Conv2d(c + b, b, 1), nn.ReLU(inplace=True), _conv(b, b))
        self.dec1 = nn.Sequential(nn.Conv2d(b + a, a, 1), nn.ReLU(inplace=True), _conv(a, a))
        self.head = nn.Conv2d(a, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.enc1(x)
        f2 = self.enc2(F.max_pool2d(f1, 2))
        f3 = self.enc3(F.max_pool2d(f2, 2))
        return self.head(_decode(self.dec1, _decode(self.dec2, f3, f2), f1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """forward for a grid of any size: (B, FEATURES, H, W) padded with zeros up to a
        multiple of the network's step (one step at least: a frame smaller than it), the
        logits (B, 3, H, W) cut back to the grid."""
        h, w = x.shape[-2:]
        ph, pw = (max(_MULTIPLE, -(-n // _MULTIPLE) * _MULTIPLE) - n for n in (h, w))
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        return self(x)[:, :, :h, :w]


def _decode(block: nn.Sequential, low: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """A decoder level: its 1x1 join of the coarser level's features (upsampled to the
    skip's size, nearest) and the skip's, then the rest of the block."""
    join = block[0]
    if isinstance(join, _SplitJoin):
        z = join(low, skip)
    else:  # training: the join as written, one convolution of the concatenation
        z = join(torch.cat([F.interpolate(low, size=skip.shape[-2:], mode="nearest"), skip], 1))
    for layer in block[1:]:
        z = layer(z)
    return z


class _SplitJoin(nn.Module):
    """A decoder's 1x1 join taken apart for inference: the convolution of a concatenation is
    the sum of the convolutions of its parts, and a 1x1 convolution commutes with nearest
    upsampling, so the coarse part is convolved before it is upsampled (a quarter of the
    pixels) and no concatenation is made. The shipped pair of networks on a 640x480 frame's
    grid: 14.8 -> 12.9 ms (median of 60 paired runs on this 2-core CPU)."""

    def __init__(self, conv: nn.Conv2d, low_channels: int) -> None:
        super().__init__()
        out = conv.out_channels
        self.low = nn.Conv2d(low_channels, out, 1)
        self.skip = nn.Conv2d(conv.in_channels - low_channels, out, 1, bias=False)
        with torch.no_grad():
            self.low.weight.copy_(conv.weight[:, :low_channels])
            self.low.bias.copy_(conv.bias)
            self.skip.weight.copy_(conv.weight[:, low_channels:])

    def forward(self, low: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.low(low), size=skip.shape[-2:], mode="nearest") \
            + self.skip(skip)


def fused_for_inference(net: SegmenterNet) -> SegmenterNet:
    """A copy of ``net`` in eval mode for inference, the same function of the input to float
    rounding: each batch norm folded into the convolution before it (one pass over the
    features fewer per layer), the decoders' joins split (_SplitJoin)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    out = copy.deepcopy(net).eval()
    for block in out.modules():
        if isinstance(block, nn.Sequential) and len(block) == 3 and \
                isinstance(block[0], nn.Conv2d) and isinstance(block[1], nn.BatchNorm2d):
            block[0] = fuse_conv_bn_eval(block[0], block[1])
            block[1] = nn.Identity()
    _, b, c = out.cfg.widths
    out.dec2[0] = _SplitJoin(out.dec2[0], c)
    out.dec1[0] = _SplitJoin(out.dec1[0], b)
    return out


class Segmenter:
    """Loaded networks (batch norms folded; several: an ensemble of seeds) and what they
    predict for one grid: the mean of their probabilities."""

    def __init__(self, nets: SegmenterNet | list[SegmenterNet], *, path: str = "",
                 device: str = "cpu", drop: str = "") -> None:
        nets = [nets] if isinstance(nets, SegmenterNet) else list(nets)
        if not nets:
            raise SegmenterError(f"segmenter {path or '(in memory)'} has no network")
        # channels-last tensors take oneDNN's faster convolutions on the CPU (about 1.6x on
        # this network, with the folding, measured on a 160 x 214 grid)
        self.nets = [fused_for_inference(n).to(device, memory_format=torch.channels_last)
                     for n in nets]
        self.path = path
        self.device = device
        self.drop = dropped_channels(drop)  # an ablation's weights never saw these channels

    @torch.inference_mode()
    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities for a (FEATURES, H, W) grid: objectness (H, W), same object as the
        right neighbour (H, W - 1), as the lower one (H - 1, W); of several networks, the
        mean. Any grid size (a frame smaller than the network's step is padded)."""
        x = torch.from_numpy(np.ascontiguousarray(features))[None].to(self.device)
        if self.drop:
            x[:, self.drop] = 0.0
        x = x.contiguous(memory_format=torch.channels_last)
        prob = mean_probability(self.nets, x)[0].float().cpu().numpy()
        return prob[0], prob[1, :, :-1], prob[2, :-1, :]


def mean_probability(nets: list[SegmenterNet], x: torch.Tensor) -> torch.Tensor:
    """The probabilities (B, 3, H, W) of an ensemble for the features ``x``: the mean of its
    networks' (one network: its own). What the segmenter predicts and training validates."""
    prob = torch.sigmoid(nets[0].logits(x))
    for net in nets[1:]:
        prob += torch.sigmoid(net.logits(x))
    if len(nets) > 1:
        prob /= len(nets)
    return prob


def save_segmenter(path: str | pathlib.Path, nets: SegmenterNet | list[SegmenterNet],
                   **extra) -> None:
    """Weights of one network or several of one architecture (an ensemble) with their format
    and architecture, written atomically; ``extra``: what else to keep (the training's
    settings and validation figures)."""
    nets = [nets] if isinstance(nets, SegmenterNet) else list(nets)
    if not nets or any(n.cfg != nets[0].cfg for n in nets):
        raise SegmenterError("save_segmenter: one network at least, all of one architecture")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "config": nets[0].cfg.to_dict(),
               "state_dicts": [{k: v.detach().cpu() for k, v in n.state_dict().items()}
                               for n in nets],
               **extra}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


_LOADED: dict[tuple, Segmenter] = {}


def load_segmenter(path: str | pathlib.Path | None = None, *, device: str = "cpu") -> Segmenter:
    """The segmenter of a weights file (default: the shipped one), loaded once per file.

    Raises:
        SegmenterError: naming the file, where it is missing, unreadable (truncated, not a
            torch file), of another format or of another architecture.
    """
    path = pathlib.Path(path) if path else default_weights()
    if not path.is_file():
        raise SegmenterError(f"segmenter weights {path} do not exist (write them with "
                             "`spatial-ros segment train`)")
    key = (str(path.resolve()), path.stat().st_mtime_ns, device)
    if key in _LOADED:
        return _LOADED[key]
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, pickled objects
        raise SegmenterError(f"segmenter weights {path} are unreadable (truncated or not "
                             f"written by `spatial-ros segment train`): {exc}") from exc
    if not isinstance(ck, dict) or ck.get("format") not in READS:
        found = ck.get("format") if isinstance(ck, dict) else type(ck).__name__
        raise SegmenterError(f"segmenter weights {path} are of format {found!r}, not "
                             f"{' or '.join(READS)}")
    try:
        raw = ck["config"]
        cfg = SegmenterConfig(widths=tuple(int(x) for x in raw["widths"]),
                              features=int(raw["features"]))
        if cfg.features != FEATURES or len(cfg.widths) != 3:
            raise ValueError(f"{cfg.features} input channels and {len(cfg.widths)} levels, "
                             f"this version reads {FEATURES} and 3")
        states = [ck["state_dict"]] if ck["format"] == READS[0] else list(ck["state_dicts"])
        if not states:
            raise ValueError("no network in the file")
        nets = []
        for state in states:
            nets.append(SegmenterNet(cfg))
            nets[-1].load_state_dict(state)
        drop = str(ck.get("drop", ""))
        dropped_channels(drop)
    except (KeyError, TypeError, ValueError, RuntimeError, SegmenterError) as exc:
        raise SegmenterError(f"segmenter weights {path} are of another architecture: "
                             f"{str(exc).splitlines()[0]}") from exc
    seg = Segmenter(nets, path=str(path), device=device, drop=drop)
    if len(_LOADED) > 4:
        _LOADED.clear()
    _LOADED[key] = seg
    return seg


