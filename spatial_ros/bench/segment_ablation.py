"""`spatial-ros segment ablation`: what the learned segmenter relies on (ROS-free).

Each variant is trained by the same command as the shipped weights (same frames, steps and
seed; spatial_ros.model.segment_train) with one thing taken away, then measured three ways:

    validation grids (the *_val splits' rendered frames): objectness accuracy and the F1 of
        the boundaries (pairs of cells across an object's edge predicted apart);
    SpatialBench room_val (RealSense D435 raw depth) and household_val (D435), class-agnostic
        with the variant's weights: object recall, precision, relation accuracy;
    the held-out real frames (bench real): objects found, precision, relations reported.

Variants: inputs (depth only: the colour channels zeroed in training and use; colour only:
the depth channels zeroed, validity kept) and sensor effects (frames of one sensor preset left
out of training: its holes, flying pixels, stereo shadow, lattice; or only ideal depth).
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

from spatial_ros.model.segment_train import SENSORS, TrainConfig, load_frames, train_segmenter

__all__ = ["VARIANTS", "AblationRow", "run_segment_ablation", "format_ablation_table"]

#: name -> (ablated inputs, sensor presets of the training frames; None = all)
VARIANTS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "depth and colour, every sensor": ("", None),
    "depth only": ("colour", None),
    "colour only": ("depth", None),
    "ideal depth only (no sensor effects)": ("", ("ideal",)),
    "without RealSense raw (flying pixels, shadow, band)": (
        "", tuple(s for s in SENSORS if s != "realsense_d435_raw")),
    "without low-res registered depth": (
        "", tuple(s for s in SENSORS if s != "lowres_registered")),
}


@dataclass
class AblationRow:
    name: str
    frames: int
    val: dict
    sim: dict  # split -> (recall, precision, accuracy)
    real: tuple[float, float, float]  # found, precision, relations reported


def run_segment_ablation(train_paths: list[pathlib.Path], val_paths: list[pathlib.Path],
                         out: str | pathlib.Path, *, steps: int, variants: list[str],
                         n_sim: int = 20, progress: bool = True) -> list[AblationRow]:
    """Train and measure each variant; weights to ``out/segmenter_<k>.pt``."""
    from spatial_ros.bench.real import heldout_data_dir, run_real_bench
    from spatial_ros.bench.relations import run_relations_bench

    out = pathlib.Path(out)
    val = load_frames(val_paths, progress=progress)
    every = load_frames(train_paths, progress=progress)
    sensors_of = [_sensor(p) for p in train_paths]
    rows = []
    for k, name in enumerate(variants):
        drop, sensors = VARIANTS[name]
        train = [f for f, s in zip(every, sensors_of) if sensors is None or s in sensors]
        weights = out / f"segmenter_{k}.pt"
        print(f"[segment ablation] {name}: {len(train)} frames", flush=True)
        m = train_segmenter(train, val, weights, TrainConfig(steps=steps, drop=drop),
                            progress=progress)
        perception = {"segmentation": "learned", "segmenter_weights": str(weights)}
        sim = {}
        for split, sensor in (("room_val", "realsense_d435_raw"),
                              ("household_val", "realsense_d435")):
            r = run_relations_bench(split=split, n=n_sim, sensors=(sensor,), use_mask=False,
                                    frames=1, progress=False, perception=perception)[sensor]
            sim[split] = (r.recall, r.precision, r.accuracy)
        real = run_real_bench(data=heldout_data_dir(), repeats=1, progress=False,
                              perception=perception)
        rows.append(AblationRow(name, len(train), m, sim, (real.recall, real.precision,
                                                           real.relation_recall)))
        print(f"[segment ablation] {name}: " + format_ablation_table([rows[-1]]).splitlines()[-1],
              flush=True)
    return rows


def _sensor(path: pathlib.Path) -> str:
    import numpy as np

    with np.load(path) as z:
        return str(z["sensor"])


def format_ablation_table(rows: list[AblationRow]) -> str:
    out = ["| variant | training frames | val objectness | val boundary F1 | room_val recall "
           "/ precision / relations | household_val recall / precision / relations | "
           "held-out real: found / precision / relations |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        sim = [" / ".join(f"{100 * x:.1f}%" for x in r.sim[s]) for s in ("room_val",
                                                                           "household_val")]
        out.append(f"| {r.name} | {r.frames} | {r.val['objectness']:.1%} | "
                   f"{r.val['boundary_f1']:.3f} | {sim[0]} | {sim[1]} | "
                   + " / ".join(f"{100 * x:.1f}%" for x in r.real) + " |")
    return "\n".join(out)
