"""Calibrated fusion of geometric and model confidences (ROS-free).

Per decision key k (predicate and frame), where both objects have geometry (valid depth, a
sensed box):

    fused = sigmoid(a_k * logit(p_geometry) + b_k * logit(p_model) + c_k)

and where either object has none (no depth: RGB-only, holes, out of range), the model alone,
recalibrated: ``sigmoid(d_k * logit(p_model) + e_k)``. The weights are a logistic regression per
key fitted on the SpatialBench val split (``spatial-ros bench model`` fits them and writes
``fusion.json``; the shipped one sits beside the shipped weights). Calibration is reported as
the expected calibration error (ECE, 15 equal-width bins).
"""
from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass

import numpy as np
import torch

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.data import KEY_NAMES

__all__ = ["Fusion", "fit_fusion", "expected_calibration_error", "logit"]

EPS = 1e-3


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass
class Fusion:
    both: np.ndarray  #: (keys, 3): a, b, c
    model_only: np.ndarray  #: (keys, 2): d, e

    def fuse(self, p_model: np.ndarray, p_geometry: np.ndarray | None = None,
             has_geometry: np.ndarray | None = None) -> np.ndarray:
        """Fused probabilities, same shape as ``p_model`` (..., keys)."""
        lm = logit(p_model)
        out = self.model_only[:, 0] * lm + self.model_only[:, 1]
        if p_geometry is not None:
            both = self.both[:, 0] * logit(p_geometry) + self.both[:, 1] * lm + self.both[:, 2]
            have = np.ones(lm.shape[:-1], bool) if has_geometry is None else has_geometry
            out = np.where(have[..., None], both, out)
        return 1.0 / (1.0 + np.exp(-out))

    def to_dict(self) -> dict:
        return {"keys": KEY_NAMES, "both": self.both.round(5).tolist(),
                "model_only": self.model_only.round(5).tolist()}

    def save(self, path: str | pathlib.Path) -> None:
        pathlib.Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | pathlib.Path) -> Fusion:
        path = pathlib.Path(path)
        if not path.is_file():
            raise SpatialRosError(f"fusion weights {path} do not exist")
        raw = json.loads(path.read_text())
        if raw.get("keys") != KEY_NAMES:
            raise SpatialRosError(f"{path}: fusion keys differ from this version's decisions")
        return cls(both=np.array(raw["both"]), model_only=np.array(raw["model_only"]))

    @classmethod
    def identity(cls) -> Fusion:
        """Uncalibrated: the mean of the two logits, or the model alone."""
        n = len(KEY_NAMES)
        return cls(both=np.tile([0.5, 0.5, 0.0], (n, 1)), model_only=np.tile([1.0, 0.0], (n, 1)))


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Weights (features + bias) of a logistic regression, by L-BFGS."""
    xt = torch.tensor(np.concatenate([x, np.ones((len(x), 1))], 1), dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    w = torch.zeros(xt.shape[1], dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        w[: x.shape[1]] = 1.0 / x.shape[1]
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w, yt)
        loss = loss + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def fit_fusion(p_model: np.ndarray, truth: np.ndarray, p_geometry: np.ndarray,
               has_geometry: np.ndarray, *, min_class: int = 30) -> Fusion:
    """Fit per key on decisions: arrays (N, keys) of probabilities and 0/1 truth, and
    ``has_geometry`` (N,).

    A key whose data hold fewer than ``min_class`` positives (or negatives) is not fitted: the
    geometry alone where there is geometry (SpatialBench has almost no containment, so a fit
    would learn to silence a rare relation the geometry measures well), the raw model elsewhere.
    """
    n = p_model.shape[1]
    fusion = Fusion.identity()
    fusion.both[:] = (1.0, 0.0, 0.0)
    lm, lg = logit(p_model), logit(p_geometry)
    for k in range(n):
        y = truth[:, k].astype(float)
        yg = y[has_geometry]
        if min(yg.sum(), len(yg) - yg.sum()) >= min_class:
            fusion.both[k] = _logistic(np.stack([lg[has_geometry, k], lm[has_geometry, k]], 1),
                                       yg)
        if min(y.sum(), len(y) - y.sum()) >= min_class:  # the model alone, on every decision
            fusion.model_only[k] = _logistic(lm[:, k:k + 1], y)
    return fusion


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins of the predicted class,
    weighted by the bins' shares."""
    p = np.asarray(probs, float).ravel()
    y = np.asarray(truth, bool).ravel()
    conf = np.where(p >= 0.5, p, 1 - p)
    right = (p >= 0.5) == y
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.mean() * abs(right[sel].mean() - conf[sel].mean())
    return float(total)
