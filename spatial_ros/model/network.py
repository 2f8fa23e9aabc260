"""The depth-aware spatial reasoning network (torch, ROS-free).

Patch encoder over RGB (plus depth as a fourth channel when ``depth_input``), 2D factorised sine
positional encodings (or 1D for the baseline), transformer blocks whose attention logits get a
depth-aware bias: the relative depth between every pair of patches, quantised into buckets, one
learned bias per bucket and head (a last bucket for pairs where a patch has no depth). The bias
is a float ``attn_mask`` of ``F.scaled_dot_product_attention``, built with tensor ops (no Python
loop over tokens). A dense depth head predicts per-patch log depth (so RGB-only input still has
depth); a region-pair head pools token features inside each object's mask, adds geometry tokens,
and predicts multi-label predicate logits for every ordered pair in one batch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from torch import nn

__all__ = ["ModelConfig", "SpatialNet", "depth_buckets", "sine_2d", "sine_1d", "region_depth",
           "region_points", "BOX_FEATURES", "DEPTH_STATS", "DEPTH_QUANTILES", "POINT_FEATURES",
           "DEFAULT_HFOV"]

BOX_FEATURES = 5  #: leading geometry features from the 2D region: u0, v0, u1, v1, sqrt(area)
DEPTH_QUANTILES = (0.1, 0.5, 0.9)  #: of the depth readings inside an object's region
#: per-object depth features (``depth_tokens``): the quantiles (metres), the share of the region
#: with a reading, and 1 where it has none (RGB-only input, or a region all holes)
DEPTH_STATS = len(DEPTH_QUANTILES) + 2
#: per-object 3D features (``point_tokens``): centre in the gravity-aligned frame (3, metres),
#: log median depth, log metric width and height of the box, 1 where the region has depth
POINT_FEATURES = 7
#: horizontal field of view (rad) of SpatialBench's camera: what point_tokens assume where a
#: frame's focal length is not given (training samples are all SpatialBench frames)
DEFAULT_HFOV = 1.1


@dataclass(frozen=True)
class ModelConfig:
    image_height: int = 96
    image_width: int = 128
    patch: int = 8
    dim: int = 96
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    depth_bins: int = 16  #: buckets of relative depth (one more for "no depth")
    max_relative_depth: float = 1.0  #: metres; larger differences share the end buckets
    positions: str = "2d"  #: "2d" (factorised sine) or "1d" (baseline)
    depth_bias: bool = True  #: the depth-aware attention bias
    depth_input: bool = True  #: depth as a fourth input channel
    depth_head: bool = True  #: predict dense depth
    predicates: int = 21  #: outputs per ordered pair: spatial_ros.model.data.DECISION_KEYS
    geometry: int = 14  #: per-object geometry features (spatial_ros.model.data.object_inputs)
    #: False: the 2D box and area (the first 5 geometry features) are zeroed and only the camera
    #: rotation stays, so that no decision reads depth order from where a box lies in the image
    geometry_tokens: bool = True
    #: "image": depth everywhere it was measured; "objects": only inside the objects' regions
    #: (masks or boxes), so that the table, floor and wall behind them, whose depth differs most
    #: between the simulator and a real room, do not reach the decisions
    depth_scope: str = "image"
    #: per-object depth statistics (region_depth: 10th, 50th and 90th percentile of the readings
    #: inside the region, and their share) added to each object's token, so that the depth
    #: order of two objects is one linear read of the pair, robust to holes and flying pixels
    depth_tokens: bool = False
    #: per-object 3D features (region_points: the region's centre at its median depth in the
    #: gravity-aligned frame, log median depth, log metric width and height) added to its
    #: token, so that world-frame directions, distances and sizes are reads of the pair, not
    #: products the pair head must learn; needs depth_tokens and geometry_tokens
    point_tokens: bool = False

    def __post_init__(self) -> None:
        if self.image_height % self.patch or self.image_width % self.patch:
            raise ValueError(f"image {self.image_width}x{self.image_height} is not a multiple "
                             f"of the patch size {self.patch}")
        if self.dim % self.heads or self.dim % 4:
            raise ValueError(f"dim {self.dim} must divide by heads {self.heads} and by 4")
        if self.positions not in ("1d", "2d"):
            raise ValueError(f"positions {self.positions!r}: expected '1d' or '2d'")
        if self.depth_scope not in ("image", "objects"):
            raise ValueError(f"depth_scope {self.depth_scope!r}: expected 'image' or 'objects'")
        if self.point_tokens and not (self.depth_tokens and self.geometry_tokens):
            raise ValueError("point_tokens needs depth_tokens (the region's depth) and "
                             "geometry_tokens (its box)")

    @property
    def grid(self) -> tuple[int, int]:
        return self.image_height // self.patch, self.image_width // self.patch

    def to_dict(self) -> dict:
        return asdict(self)


def sine_1d(n: int, dim: int) -> torch.Tensor:
    """(n, dim) sine/cosine encodings of positions 0..n-1."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    out = torch.zeros(n, dim)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out


def sine_2d(h: int, w: int, dim: int) -> torch.Tensor:
    """(h*w, dim) factorised encodings: half the channels encode the row, half the column."""
    rows = sine_1d(h, dim // 2)[:, None, :].expand(h, w, dim // 2)
    cols = sine_1d(w, dim // 2)[None, :, :].expand(h, w, dim // 2)
    return torch.cat([rows, cols], dim=-1).reshape(h * w, dim)


def depth_buckets(patch_depth: torch.Tensor, bins: int, max_relative: float) -> torch.Tensor:
    """Bucket index (B, N, N) of the relative depth d_j - d_i between every pair of patches.

    ``bins`` uniform buckets over [-max_relative, max_relative] (clamped at the ends); pairs
    where either patch has no depth (NaN) get bucket ``bins``.
    """
    rel = patch_depth[:, None, :] - patch_depth[:, :, None]  # (B, N, N): d_j - d_i
    missing = torch.isnan(rel)
    scaled = (rel.nan_to_num(0.0).clamp(-max_relative, max_relative) + max_relative) \
        / (2 * max_relative) * bins
    idx = scaled.floor().long().clamp(0, bins - 1)
    return torch.where(missing, torch.full_like(idx, bins), idx)


def region_depth(depth: torch.Tensor | None, masks: torch.Tensor) -> torch.Tensor:
    """(B, K, DEPTH_STATS) depth features of each object's region.

    ``depth``: (B, H, W) metres, NaN or <= 0 = no reading, or None; ``masks``: (B, K, H, W).
    The quantiles come from sorting the region's readings (exact, no interpolation); a region
    without a reading gets zeros and the "none" flag.
    """
    b, k = masks.shape[:2]
    out = masks.new_zeros(b, k, DEPTH_STATS)
    if depth is None or k == 0:
        out[..., -1] = 1.0
        return out
    inside = masks.flatten(2) > 0.5  # (B, K, HW)
    d = depth.flatten(1)[:, None, :].to(masks.dtype)
    valid = inside & torch.isfinite(d) & (d > 0)
    n = valid.sum(-1)  # (B, K)
    ordered = torch.where(valid, d, torch.inf).sort(-1).values
    for j, q in enumerate(DEPTH_QUANTILES):
        at = ((n - 1).clamp_min(0).float() * q).floor().long()  # fp32: exact under fp16
        out[..., j] = ordered.gather(-1, at[..., None]).squeeze(-1)
    none = n == 0
    out[..., :len(DEPTH_QUANTILES)] = torch.where(none[..., None], 0.0,
                                                  out[..., :len(DEPTH_QUANTILES)])
    out[..., -2] = n.to(masks.dtype) / inside.sum(-1).clamp_min(1).to(masks.dtype)
    out[..., -1] = none.to(masks.dtype)
    return out


def region_points(stats: torch.Tensor, geometry: torch.Tensor, tan_half: torch.Tensor
                  ) -> torch.Tensor:
    """(B, K, POINT_FEATURES) 3D features of each object's region.

    ``stats``: region_depth's (B, K, DEPTH_STATS); ``geometry``: object_inputs' features (the
    normalised 2D box, then the world-from-optical rotation at 5:14); ``tan_half``: (B, 2) tan
    of half the horizontal and vertical field of view. The box centre is back-projected at the
    median depth and turned into the gravity-aligned frame; a region without depth gets zeros
    and a 0 flag.
    """
    z = stats[..., 1]
    has = (stats[..., -1] < 0.5).to(stats.dtype)
    tan_half = tan_half.to(stats.dtype)
    tx, ty = tan_half[:, :1], tan_half[:, 1:2]  # (B, 1): x = (2u - 1) * tx * z
    u = (geometry[..., 0] + geometry[..., 2]) / 2
    v = (geometry[..., 1] + geometry[..., 3]) / 2
    cam = torch.stack([(2 * u - 1) * tx * z, (2 * v - 1) * ty * z, z], -1)
    rot = geometry[..., 5:14].reshape(*geometry.shape[:-1], 3, 3)
    world = (rot @ cam[..., None]).squeeze(-1)
    zc = z.clamp_min(0.05)
    wide = ((geometry[..., 2] - geometry[..., 0]) * 2 * tx * zc).clamp_min(1e-3).log()
    tall = ((geometry[..., 3] - geometry[..., 1]) * 2 * ty * zc).clamp_min(1e-3).log()
    out = torch.cat([world, zc.log()[..., None], wide[..., None], tall[..., None]], -1)
    return torch.cat([out * has[..., None], has[..., None]], -1)


def default_tan_half(cfg: ModelConfig, batch: int, device=None) -> torch.Tensor:
    """(batch, 2) tan of half the field of view of SpatialBench's camera (DEFAULT_HFOV, square
    pixels, the model's aspect)."""
    tx = math.tan(DEFAULT_HFOV / 2)
    return torch.tensor([[tx, tx * cfg.image_height / cfg.image_width]],
                        device=device).expand(batch, 2)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.norm2 = nn.LayerNorm(cfg.dim)
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim, hidden), nn.GELU(), nn.Linear(hidden, cfg.dim))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads) \
            .permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = x + self.proj(att.transpose(1, 2).contiguous().reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class SpatialNet(nn.Module):
    """Images and object masks in, per-pair predicate logits and dense depth out."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        gh, gw = cfg.grid
        self.embed = nn.Conv2d(4 if cfg.depth_input else 3, cfg.dim, cfg.patch, cfg.patch)
        pos = sine_2d(gh, gw, cfg.dim) if cfg.positions == "2d" else sine_1d(gh * gw, cfg.dim)
        self.register_buffer("pos", pos, persistent=False)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        # one learned bias per (bucket, head); the last bucket is "no depth"
        self.depth_bias = nn.Embedding(cfg.depth_bins + 1, cfg.heads) if cfg.depth_bias else None
        if self.depth_bias is not None:
            nn.init.zeros_(self.depth_bias.weight)
        self.norm = nn.LayerNorm(cfg.dim)
        self.depth_out = nn.Linear(cfg.dim, 1) if cfg.depth_head else None
        self.geo = nn.Linear(cfg.geometry, cfg.dim)
        self.depth_tokens = nn.Linear(DEPTH_STATS, cfg.dim) if cfg.depth_tokens else None
        self.point_tokens = nn.Linear(POINT_FEATURES, cfg.dim) if cfg.point_tokens else None
        self.pair = nn.Sequential(nn.Linear(4 * cfg.dim, 2 * cfg.dim), nn.GELU(),
                                  nn.Linear(2 * cfg.dim, cfg.predicates))

    def patch_depth(self, depth: torch.Tensor) -> torch.Tensor:
        """Mean valid depth per patch (B, N); NaN where a patch has no reading."""
        p = self.cfg.patch
        valid = torch.isfinite(depth) & (depth > 0)
        total = F.avg_pool2d(torch.where(valid, depth, 0.0)[:, None], p)
        share = F.avg_pool2d(valid.float()[:, None], p)
        mean = total / share.clamp_min(1e-6)
        return torch.where(share > 0, mean, torch.nan).flatten(1)

    def attention_bias(self, patch_depth: torch.Tensor) -> torch.Tensor | None:
        """(B, heads, N, N) float mask: the learned bias of each pair's depth bucket."""
        if self.depth_bias is None:
            return None
        idx = depth_buckets(patch_depth, self.cfg.depth_bins, self.cfg.max_relative_depth)
        return self.depth_bias(idx).permute(0, 3, 1, 2)

    def encode(self, rgb: torch.Tensor, depth: torch.Tensor | None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens (B, N, dim) and predicted per-patch log depth (B, N) or None."""
        b, _, h, w = rgb.shape
        if (h, w) != (self.cfg.image_height, self.cfg.image_width):
            raise ValueError(f"image is {w}x{h}; this model takes "
                             f"{self.cfg.image_width}x{self.cfg.image_height}")
        if depth is None:
            depth = torch.full((b, h, w), torch.nan, device=rgb.device, dtype=rgb.dtype)
        pd = self.patch_depth(depth)
        x = rgb
        if self.cfg.depth_input:
            x = torch.cat([rgb, torch.nan_to_num(depth, nan=0.0)[:, None]], dim=1)
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        bias = self.attention_bias(pd)
        for block in self.blocks:
            tokens = block(tokens, bias)
        tokens = self.norm(tokens)
        log_depth = self.depth_out(tokens).squeeze(-1) if self.depth_out is not None else None
        return tokens, log_depth

    def forward(self, rgb: torch.Tensor, depth: torch.Tensor | None, masks: torch.Tensor,
                geometry: torch.Tensor, tan_half: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Args:
            rgb: (B, 3, H, W) in [0, 1]; depth: (B, H, W) metres, NaN = none, or None.
            masks: (B, K, H, W) object masks (0/1); geometry: (B, K, geometry) features.
            tan_half: (B, 2) tan of half the frames' horizontal and vertical field of view
                (point_tokens; None: DEFAULT_HFOV and the model's aspect, SpatialBench's camera).
        Returns ``pair_logits`` (B, K, K, predicates) and ``log_depth`` (B, N) if predicted.
        """
        if depth is not None and self.cfg.depth_scope == "objects":
            depth = torch.where(masks.sum(1) > 0, depth, torch.nan)
        tokens, log_depth = self.encode(rgb, depth)
        p = self.cfg.patch
        b, k = masks.shape[:2]
        if k == 0:
            return {"pair_logits": tokens.new_zeros(b, 0, 0, self.cfg.predicates),
                    "log_depth": log_depth}
        # (B, K, N) share of each patch, in the tokens' precision (fp16 on CUDA inference)
        weights = F.avg_pool2d(masks.to(tokens.dtype), p).flatten(2)
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-6)
        if not self.cfg.geometry_tokens:
            geometry = torch.cat([torch.zeros_like(geometry[..., :BOX_FEATURES]),
                                  geometry[..., BOX_FEATURES:]], dim=-1)
        objects = weights @ tokens + self.geo(geometry)  # (B, K, dim)
        if self.depth_tokens is not None:
            stats = region_depth(depth, masks)
            objects = objects + self.depth_tokens(stats.to(objects.dtype))
            if self.point_tokens is not None:
                if tan_half is None:
                    tan_half = default_tan_half(self.cfg, b, rgb.device)
                points = region_points(stats, geometry, tan_half)
                objects = objects + self.point_tokens(points.to(objects.dtype))
        a = objects[:, :, None].expand(b, k, k, -1)
        c = objects[:, None, :].expand(b, k, k, -1)
        pair = torch.cat([a, c, a * c, a - c], dim=-1)
        return {"pair_logits": self.pair(pair), "log_depth": log_depth}
