"""What became of the objects the class-agnostic perception misses (`spatial-ros bench misses`,
ROS-free): for every visible object of a SpatialBench scene that no detection finds (a
detection lying mostly on it, as `bench relations` counts recall), the first of these that
holds:

- no depth: under 30 % of its grid cells have a reading;
- merged: a detection lying mostly on another object, or on the background, holds 30 % of
  its cells with a reading or more (the one holding most of them says which);
- dropped: a segment the perception left out (FrameReport.dropped) holds 30 % of them or more;
  its reason says why (a support's part, the network's structure, small, ...);
- on a plane: over half of them lie on one of the frame's planes (the plane search took them
  with a table, a wall, a rim);
- no region: none of the above (the segmentation left its cells out of every region: cut at
  depth or crease edges, a colour the split dropped).

Beside them, the objects found whole: a detection's mask IoU 0.5 or more, as `bench real`
counts found on the real frames. "Found" counts a fragment lying on an object too; on the dev
splits the two differ by 4-17 points (docs/benchmarks.md, ninth stop).

A class of failure found so, reproduced in a scene and fixed there, is how perception is
improved without tuning on the held-out real frames.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.bench.real import grid_region
from spatial_ros.bench.relations import (
    check_colour_args,
    majority_object,
    match_detections,
    scene_frames,
)
from spatial_ros.errors import BenchError
from spatial_ros.perception.detect import frame_stride
from spatial_ros.sim.groundtruth import ground_truth

__all__ = ["CAUSES", "MissCauses", "best_ious", "miss_causes", "format_miss_table",
           "object_causes"]

#: what a visible object came to, in the order the tests are made
CAUSES = ("found", "no depth", "merged into another object", "merged with the background",
          "dropped", "on a plane", "no region")
SHARE = 0.3  #: of an object's cells with a reading: no depth under it; merged, dropped from it
VISIBLE_PIXELS = 200  #: the visible objects, as bench relations counts them


@dataclass
class MissCauses:
    """Counts per cause; "dropped" objects are counted again by their reason."""

    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    #: objects a detection covers whole: mask IoU >= 0.5 (best_ious), as bench real counts
    #: found; "found" above (a detection lying mostly on it) counts a fragment too
    whole: int = 0
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (scene, name, cause)

    @property
    def objects(self) -> int:
        return sum(self.counts.values())


def _grid_cells(mask: np.ndarray, gid: int, stride: int) -> np.ndarray:
    """Full-resolution flat indices of the object's pixels on the perception grid."""
    h, w = mask.shape
    rows, cols = np.nonzero(mask[::stride, ::stride] == gid)
    return rows * stride * w + cols * stride


def best_ious(result, mask: np.ndarray, depth: np.ndarray, stride: int) -> dict[int, float]:
    """Each object id's best mask IoU with a detection (its mask_pixels), on the perception
    grid's cells with a reading, as bench real scores the real frames."""
    grid = mask[::stride, ::stride].copy()
    sensed = np.isfinite(depth[::stride, ::stride]) & (depth[::stride, ::stride] > 0)
    grid[~sensed] = 0
    area = np.bincount(grid.ravel(), minlength=256)
    best: dict[int, float] = {}
    for _t, det in result.detections:
        cells = grid_region(det.mask_pixels, mask.shape[1], stride, grid.shape) & sensed
        n = int(cells.sum())
        inter = np.bincount(grid[cells], minlength=256)
        for gid in np.flatnonzero(inter[1:]) + 1:
            iou = float(inter[gid]) / (n + area[gid] - inter[gid])
            best[int(gid)] = max(best.get(int(gid), 0.0), iou)
    return best


def object_causes(result, mask: np.ndarray, depth: np.ndarray, intrinsics, camera_pose,
                  objects: list[int], plane_distance: float, stride: int
                  ) -> dict[int, tuple[str, str]]:
    """Each object id of ``objects`` -> (cause, the dropped segment's reason or ""), for one
    frame's pipeline ``result`` (FrameResult), its instance ``mask`` and sensed ``depth``."""
    found = set(match_detections(result, mask))
    dets = [d for _t, d in result.detections]
    h, w = mask.shape
    owner = np.full(h * w, -1, np.int32)  # detection index per pixel
    for k, det in enumerate(dets):
        owner[det.pixels] = k
    majority = [majority_object(d, mask) for d in dets]
    dropped = np.full(h * w, -1, np.int32)  # FrameReport.dropped index per pixel
    for k, (_why, pixels) in enumerate(result.report.dropped):
        dropped[pixels] = k
    flat_depth = depth.ravel()
    world = None  # the frame's points in the world, taken when an object needs them
    out = {}
    for gid in objects:
        if gid in found:
            out[gid] = ("found", "")
            continue
        cells = _grid_cells(mask, gid, stride)
        z = flat_depth[cells]
        sensed = cells[np.isfinite(z) & (z > 0)]
        if len(sensed) < SHARE * max(len(cells), 1):
            out[gid] = ("no depth", "")
            continue
        held = owner[sensed]
        held = held[held >= 0]
        if len(held) >= SHARE * len(sensed):
            k = int(np.bincount(held).argmax())
            out[gid] = ("merged with the background" if majority[k] == 0 else
                        "merged into another object", "")
            continue
        left = dropped[sensed]
        left = left[left >= 0]
        if len(left) >= SHARE * len(sensed):
            out[gid] = ("dropped", result.report.dropped[int(np.bincount(left).argmax())][0])
            continue
        if world is None:
            world = camera_pose.apply(intrinsics.backproject(depth).reshape(-1, 3))
        here = world[sensed]
        if any(np.count_nonzero(np.abs(here @ n + d) < plane_distance) * 2 > len(here)
               for n, d in result.report.planes):
            out[gid] = ("on a plane", "")
            continue
        out[gid] = ("no region", "")
    return out


def miss_causes(*, split: str, n: int, seed: int = 0, sensor: str = "realsense_d435",
                perception: dict | None = None, paint: float = 0.0, dull: float = 0.0,
                progress: bool = True) -> MissCauses:
    """The causes over ``n`` scenes of a split (one 640x480 frame each, class-agnostic;
    ``perception``: PerceptionConfig fields to set; ``paint``: share of the objects printed;
    ``dull``: a camera's duller colours, as bench.relations.scene_frames)."""
    if n < 1:
        raise BenchError(f"n must be at least 1, got {n}")
    check_colour_args(paint, dull)
    from tqdm import tqdm

    scores = MissCauses()
    for i in tqdm(range(n), desc=f"misses {split} {sensor}", unit="scene", disable=not progress):
        *_, sf = scene_frames(split, seed, i, sensor, frames=1, width=640, height=480,
                              use_mask=False, perception=perception, paint=paint, dull=dull)
        mask = sf.frame.mask
        counts = np.bincount(mask.ravel(), minlength=256)
        truth = ground_truth(sf.world, sf.renderer, sf.pose)
        names = {o.id: o.label for o in truth.objects}
        visible = [o.id for o in truth.objects if counts[o.id] >= VISIBLE_PIXELS]
        config = sf.builder.perception
        stride = frame_stride(mask.shape[1], config)
        causes = object_causes(sf.result, mask, sf.depth, sf.frame.intrinsics, sf.pose,
                               visible, config.plane_distance, stride)
        ious = best_ious(sf.result, mask, sf.depth, stride)
        scores.whole += sum(ious.get(g, 0.0) >= 0.5 for g in visible)
        for gid, (cause, reason) in causes.items():
            scores.counts[cause] += 1
            if reason:
                scores.reasons[reason] += 1
            if cause != "found":
                scores.examples.append((i, names.get(gid, str(gid)),
                                        f"{cause}: {reason}" if reason else cause))
    return scores


def format_miss_table(results: dict[str, MissCauses]) -> str:
    """A markdown table: one column per run (a sensor, a split), causes as rows, then the
    dropped objects by reason."""
    names = list(results)
    reasons = sorted({r for m in results.values() for r in m.reasons})
    rows = [f"| cause | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]

    def cell(m: MissCauses, k: int) -> str:
        return f"{k} ({k / max(m.objects, 1):.1%})"

    rows.append("| visible objects | " + " | ".join(str(m.objects) for m in results.values())
                + " |")
    for cause in CAUSES:
        label = f"**{cause}**" if cause == "found" else cause
        rows.append(f"| {label} | " + " | ".join(cell(m, m.counts[cause])
                                                 for m in results.values()) + " |")
        if cause == "found":
            rows.append("| found whole (mask IoU >= 0.5, as bench real counts) | " + " | ".join(
                cell(m, m.whole) for m in results.values()) + " |")
    for reason in reasons:
        rows.append(f"| dropped: {reason} | " + " | ".join(
            str(m.reasons[reason]) for m in results.values()) + " |")
    return "\n".join(rows)
