#!/usr/bin/env python3
"""The real-frame decisions of several trainings of one config, seed by seed (`bench real
--model` for each checkpoint), as a table and a chart: how far apart seeds land on the
annotated decisions, so that a change is judged against that spread, not one run.

Usage: scripts/with-env python scripts/real_seed_study.py --out DIR [--fusion F]
           VARIANT:SEED=CHECKPOINT [...]
Every checkpoint is scored with the same fusion file (default: the shipped weights'), so the
fused row of a checkpoint that is not the shipped one is only indicative.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from spatial_ros.bench.real_model import FUSED, GEOMETRY, REAL_ROWS, RGB, RGBD
from spatial_ros.model.export import real_figures
from spatial_ros.model.infer import SHIPPED_WEIGHTS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="VARIANT:SEED=CHECKPOINT")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fusion", default=str(SHIPPED_WEIGHTS.with_suffix(".fusion.json")))
    args = ap.parse_args()
    results: dict[str, dict[str, dict]] = {}
    for item in args.runs:
        name, _, path = item.partition("=")
        variant, _, seed = name.partition(":")
        if not path or not seed or not pathlib.Path(path).is_file():
            print(f"real_seed_study: error: {item!r} is not VARIANT:SEED=CHECKPOINT of an "
                  f"existing file", file=sys.stderr)
            return 2
        fig = real_figures(path, fusion=args.fusion)
        if not fig:
            print("real_seed_study: error: no annotated real frames in this checkout",
                  file=sys.stderr)
            return 2
        results.setdefault(variant, {})[seed] = fig
        print(f"[real seeds] {variant} seed {seed}: " + ", ".join(
            f"{row} {fig[row][0]}/{fig[row][1]}" for row in REAL_ROWS), flush=True)
    asked = next(iter(next(iter(results.values())).values()))[RGB][1]
    head = ["variant", "seed", *REAL_ROWS, "RGB-D - RGB only", "fused - geometry"]
    lines = [f"## the model on the real frames, seed by seed ({asked} annotated decisions)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant, seeds in results.items():
        rows = []
        for seed, fig in seeds.items():
            r = [fig[row][0] for row in REAL_ROWS]
            rows.append(r)
            lines.append("| " + " | ".join([variant, seed, *map(str, r),
                                            f"{fig[RGBD][0] - fig[RGB][0]:+d}",
                                            f"{fig[FUSED][0] - fig[GEOMETRY][0]:+d}"]) + " |")
        m = np.mean(rows, axis=0)
        d = dict(zip(REAL_ROWS, m))
        lines.append("| " + " | ".join([f"**{variant}**", "mean", *(f"**{v:.2f}**" for v in m),
                                        f"**{d[RGBD] - d[RGB]:+.2f}**",
                                        f"**{d[FUSED] - d[GEOMETRY]:+.2f}**"]) + " |")
    lines.append("")
    lines.append(f"Fusion weights for every row: {pathlib.Path(args.fusion).name}.")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "real_model_seeds.md").write_text("\n".join(lines) + "\n")
    _plot(results, asked, out / "real_model_seeds.png")
    print("\n".join(lines))
    print(f"saved {out / 'real_model_seeds.md'} and {out / 'real_model_seeds.png'}")
    return 0


def _plot(results: dict, asked: int, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(results)
    x = np.arange(len(REAL_ROWS))
    for k, (variant, seeds) in enumerate(results.items()):
        vals = np.array([[s[row][0] for row in REAL_ROWS] for s in seeds.values()])
        pos = x + (k - (len(results) - 1) / 2) * width
        ax.bar(pos, vals.mean(0), width * 0.9, label=f"{variant} (mean of {len(vals)})",
               alpha=0.6)
        for j in range(len(REAL_ROWS)):
            ax.plot([pos[j]] * len(vals), vals[:, j], "k.", ms=5)
    ax.set_xticks(x, [r.replace(" (", "\n(") for r in REAL_ROWS], fontsize=8)
    ax.set_ylabel(f"decisions right of {asked}")
    lo = min(min(s[row][0] for row in REAL_ROWS) for v in results.values() for s in v.values())
    ax.set_ylim(lo - 3, asked)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(results))
    ax.set_title("real frames: each dot one training seed", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend below the axes, over no dot
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
