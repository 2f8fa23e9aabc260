"""Learned class-agnostic segmentation: a small fully convolutional network on the perception
grid (every ``stride``-th pixel) says, per cell, whether it belongs to an object at all
(objectness) and whether it belongs to the same object as its right and its lower neighbour
(affinities). Object regions are the connected components of the foreground cells joined by
affinities; a region the network calls structure (a shelf's panel, a tote's wall) is dropped.

This module is what perception needs without torch: the features, the regions from the
affinities, the errors. The network (torch) is spatial_ros.model.segmenter. It sees no absolute
depth, size or colour calibration, only what carries from the simulator to a real camera:
whether a reading exists, log-depth steps to the neighbours and against the 5 x 5
neighbourhood, surface normals in the level frame, and Lab colour relative to the frame's mean
lightness. It is trained only on rendered scenes with randomised sensors and lights
(spatial_ros.model.segment_train); the shipped weights are what that command wrote.

References: the affinity formulation follows the boundary / affinity networks of connectomics
and of UOIS / UCN for unseen object instance segmentation trained on synthetic RGB-D
(Xie et al. 2021; Xiang et al. 2020); the network is a three-level U-Net.
"""
from __future__ import annotations

import functools
import pathlib

import cv2
import numpy as np

from spatial_ros.errors import SpatialRosError

__all__ = ["FEATURES", "SegmenterError", "default_weights", "grid_features",
           "affinity_regions", "dropped_channels", "ABLATIONS"]

FEATURES = 10  #: input channels of grid_features


class SegmenterError(SpatialRosError):
    """A segmenter weights file that is missing, unreadable or of another architecture."""


@functools.cache
def default_weights() -> pathlib.Path:
    """The weights shipped with the package (written by ``spatial-ros segment train``); the
    path is resolved once (every frame asked for it: 80 us of the file system)."""
    return pathlib.Path(__file__).resolve().parents[1] / "model" / "weights" / "segmenter.pt"


def grid_features(points: np.ndarray, valid: np.ndarray, rgb: np.ndarray,
                  rotation: np.ndarray) -> np.ndarray:
    """The network's input for one grid: (FEATURES, H, W) float32.

    Args:
        points: (H, W, 3) optical-frame points of the grid cells (any value where not valid).
        valid: (H, W) bool, cells with a depth reading.
        rgb: (H, W, 3) uint8 colour of the grid cells.
        rotation: (3, 3) optical -> level (world) frame, for the normals' direction.

    Channels: valid; log depth against its 5 x 5 neighbourhood; log-depth step to the right and
    to the lower neighbour; the unit normal (level frame, facing the camera); Lab lightness less
    the frame's mean, a* and b*.
    """
    h, w = valid.shape
    out = np.zeros((FEATURES, h, w), np.float32)
    v = valid.astype(np.float32)
    out[0] = v
    z = np.where(valid, points[..., 2], 1.0).astype(np.float32)
    logz = np.log(np.maximum(z, 1e-3)) * v
    box = cv2.boxFilter(v, -1, (5, 5), normalize=False, borderType=cv2.BORDER_CONSTANT)
    mean = cv2.boxFilter(logz, -1, (5, 5), normalize=False, borderType=cv2.BORDER_CONSTANT)
    out[1] = np.clip((logz - mean / np.maximum(box, 1.0)) * 10.0, -3.0, 3.0) * v
    both_r = valid[:, 1:] & valid[:, :-1]
    both_d = valid[1:] & valid[:-1]
    out[2, :, :-1] = np.clip((logz[:, 1:] - logz[:, :-1]) * 10.0, -2.0, 2.0) * both_r
    out[3, :-1] = np.clip((logz[1:] - logz[:-1]) * 10.0, -2.0, 2.0) * both_d
    p = np.where(valid[..., None], points, 0.0).astype(np.float32)
    n = np.zeros((h, w, 3), np.float32)
    n[:-1, :-1] = np.cross(p[:-1, 1:] - p[:-1, :-1], p[1:, :-1] - p[:-1, :-1])
    ok = np.zeros((h, w), bool)
    ok[:-1, :-1] = both_r[:-1] & both_d[:, :-1]
    norm = np.linalg.norm(n, axis=2)
    ok &= norm > 1e-12
    n = n / np.maximum(norm, 1e-12)[..., None]
    n *= np.where(np.einsum("hwc,hwc->hw", n, p) > 0, -1.0, 1.0)[..., None]  # face the camera
    n = n @ np.asarray(rotation, np.float32).T
    out[4:7] = np.moveaxis(n * ok[..., None], 2, 0)
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float32) / 255.0
    out[7] = (lab[..., 0] - lab[..., 0].mean()) * 2.0
    out[8:10] = np.moveaxis((lab[..., 1:] - 128.0 / 255.0) * 4.0, 2, 0)
    return out


#: input channels an ablation zeroes, in training and inference alike
ABLATIONS = {"": [], "depth": [1, 2, 3, 4, 5, 6], "colour": [7, 8, 9]}


def dropped_channels(drop: str) -> list[int]:
    """Feature channels zeroed by the ablation ``drop`` ("" none, "depth", "colour")."""
    try:
        return ABLATIONS[drop]
    except KeyError:
        raise SegmenterError(f"unknown ablation {drop!r}: one of {sorted(ABLATIONS)}") from None


def affinity_regions(fg: np.ndarray, right: np.ndarray, down: np.ndarray,
                     threshold: float = 0.5) -> np.ndarray:
    """Connected components of the foreground cells ``fg`` (H, W) where neighbours join when
    their affinity (``right`` (H, W - 1), ``down`` (H - 1, W)) is above ``threshold``; int32
    labels, 0 = not foreground. One connectedComponents call on a grid of twice the size whose
    odd places are the edges between cells."""
    h, w = fg.shape
    big = np.zeros((2 * h - 1, 2 * w - 1), np.uint8)
    big[::2, ::2] = fg
    big[::2, 1::2] = fg[:, :-1] & fg[:, 1:] & (right > threshold)
    big[1::2, ::2] = fg[:-1] & fg[1:] & (down > threshold)
    _n, labels = cv2.connectedComponents(big, connectivity=4)
    return labels[::2, ::2].astype(np.int32)
