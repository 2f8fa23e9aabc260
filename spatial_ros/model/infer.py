"""Running a trained SpatialNet on one frame (ROS-free): the reasoning node's and the
benchmark's one way in.

``SpatialReasoner.predict`` takes a frame of any size (resized to the model's), the camera's
rotation and the objects' regions (an instance mask with ids, or 2D boxes in the frame's pixels),
batches every ordered pair in one forward pass, and returns per-pair probabilities of every
decision in ``DECISION_KEYS`` plus the depth head's per-patch depth. Depth that is NaN, zero or
negative is missing. Zero or one object gives an empty result.
"""
from __future__ import annotations

import math
import pathlib
import time
from dataclasses import dataclass

import numpy as np
import torch

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.checkpoint import load_model
from spatial_ros.model.data import DECISION_KEYS, object_inputs, prepare_frame
from spatial_ros.model.network import DEFAULT_HFOV
from spatial_ros.scene import Relation
from spatial_ros.vocabulary import Source

__all__ = ["SHIPPED_WEIGHTS", "ModelOutput", "SpatialReasoner", "pick_device",
           "model_relations"]

#: The weights our own training command produced (spatial_ros/model/configs/small.yaml).
SHIPPED_WEIGHTS = pathlib.Path(__file__).parent / "weights" / "small.pt"


def pick_device(name: str) -> torch.device:
    """``auto`` = CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpatialRosError(f"device {name!r} requested but torch sees no CUDA GPU")
    if not (name == "cpu" or name.startswith("cuda")):
        raise SpatialRosError(f"device {name!r}: expected auto, cpu or cuda[:N]")
    return torch.device(name)


@dataclass
class ModelOutput:
    ids: list[int]
    probs: np.ndarray  #: (K, K, len(DECISION_KEYS)) probability that subject row, object column
    patch_depth: np.ndarray | None  #: (gh, gw) predicted metres, or None without a depth head
    ms: float  #: forward time


class SpatialReasoner:
    def __init__(self, weights: str | pathlib.Path = SHIPPED_WEIGHTS, *, device: str = "auto",
                 half: bool | None = None) -> None:
        self.device = pick_device(device)
        self.net, self.checkpoint = load_model(weights, device=self.device)
        self.cfg = self.net.cfg
        self.half = self.device.type == "cuda" if half is None else half
        if self.half and self.device.type != "cuda":
            raise SpatialRosError("fp16 inference needs a CUDA device")
        if self.half:
            self.net.half()
        self.size = (self.cfg.image_width, self.cfg.image_height)

    @torch.no_grad()
    def predict(self, rgb: np.ndarray, depth: np.ndarray | None, camera_rotation: np.ndarray,
                *, mask: np.ndarray | None = None, ids: list[int] | None = None,
                boxes: np.ndarray | None = None, focal: float | None = None) -> ModelOutput:
        """Args:
            rgb: (H, W, 3) uint8; depth: (H, W) metres or None (RGB only).
            camera_rotation: (3, 3) world-from-optical rotation.
            mask + ids: instance mask (H, W) of the frame and the object ids to reason about;
            or boxes: (K, 4) u0, v0, u1, v1 in the frame's pixels (ids: their object ids,
            default 0..K-1).
            focal: the frame's focal length in its pixels (CameraInfo's fx; square pixels), for
                models with point_tokens; None: SpatialBench's camera (network.DEFAULT_HFOV).
        """
        h0, w0 = rgb.shape[:2]
        if focal is None:
            tan_half = math.tan(DEFAULT_HFOV / 2) * np.array([1.0, h0 / w0])
        elif np.isscalar(focal) and np.isreal(focal) and np.isfinite(focal) and focal > 0:
            tan_half = np.array([w0, h0]) / (2.0 * float(focal))
        else:
            raise SpatialRosError(f"focal length {focal!r}: expected a positive number of pixels")
        small_rgb, small_depth, small_mask = prepare_frame(rgb, depth, self.size, mask)
        if mask is not None:
            if ids is None:
                ids = [int(i) for i in np.unique(mask) if i != 0]
            masks, geo = object_inputs(self.size, camera_rotation, mask=small_mask, ids=ids)
        elif boxes is not None:
            boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
            ids = list(range(len(boxes))) if ids is None else list(ids)
            if len(ids) != len(boxes):
                raise SpatialRosError(f"{len(boxes)} boxes but {len(ids)} ids")
            scale = np.array([self.size[0] / w0, self.size[1] / h0] * 2, np.float32)
            masks, geo = object_inputs(self.size, camera_rotation, boxes=boxes * scale)
        else:
            raise SpatialRosError("predict needs a mask or boxes for the objects")
        k = len(ids)
        t0 = time.perf_counter()
        dt = torch.float16 if self.half else torch.float32
        x = torch.from_numpy(small_rgb).to(self.device).permute(2, 0, 1)[None].to(dt) / 255
        d = torch.from_numpy(small_depth).to(self.device)[None].to(dt)
        if k < 2:  # nothing to relate; the depth head still runs for the caller
            tokens, log_depth = self.net.encode(x, d)
            probs = np.zeros((k, k, len(DECISION_KEYS)), np.float32)
        else:
            out = self.net(x, d, torch.from_numpy(masks).to(self.device)[None].to(dt),
                           torch.from_numpy(geo).to(self.device)[None].to(dt),
                           torch.tensor(tan_half[None], dtype=torch.float32, device=self.device))
            probs = torch.sigmoid(out["pair_logits"][0].float()).cpu().numpy()
            log_depth = out["log_depth"]
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        ms = 1000 * (time.perf_counter() - t0)
        pd = None
        if log_depth is not None:
            pd = log_depth[0].float().exp().cpu().numpy().reshape(self.cfg.grid)
        return ModelOutput(ids=list(ids), probs=probs, patch_depth=pd, ms=ms)


def model_relations(out: ModelOutput, *, min_confidence: float = 0.5,
                    report_all: bool = False) -> list[Relation]:
    """The model's decisions as relations (source MODEL)."""
    rels = []
    for a, ia in enumerate(out.ids):
        for b, ib in enumerate(out.ids):
            if a == b:
                continue
            for j, (p, f) in enumerate(DECISION_KEYS):
                c = float(np.clip(out.probs[a, b, j], 1e-3, 1 - 1e-3))
                if report_all or c >= min_confidence:
                    rels.append(Relation(subject=ia, predicate=p, object=ib, confidence=c,
                                         distance=0.0, frame=f, source=Source.MODEL))
    return rels
