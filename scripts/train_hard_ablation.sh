#!/usr/bin/env bash
# Train the twelve rows of the hard-split ablation (spatial_ros/model/configs/hard/) into
# RUNS/<row>/model.pt, skipping rows already trained; then `spatial-ros bench model --runs RUNS
# --ablation hard` scores them. The rows without geometry tokens that pre-train reuse their
# twin's pretrain.pt (the encoder has no geometry tokens, so the two would be the same).
# Usage: scripts/train_hard_ablation.sh [RUNS (default runs/hard)] [ROW ...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-runs/hard}"
shift || true
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(baseline full baseline_nogeo full_nogeo pos2d depthbias \
    pos2d_nogeo depthbias_nogeo video both video_nogeo both_nogeo)
for row in "${rows[@]}"; do
    out="$runs/$row"
    if [ -f "$out/model.pt" ]; then echo "[ablation] $row: done"; continue; fi
    twin="$runs/${row%_nogeo}"
    if [ "$row" != "${row%_nogeo}" ] && [ -f "$twin/pretrain.pt" ] && [ ! -f "$out/pretrain.pt" ]
    then mkdir -p "$out" && cp "$twin/pretrain.pt" "$out/pretrain.pt"; fi
    echo "[ablation] $row: training ($(date +%H:%M:%S))"
    resume=()
    if [ -f "$out/last.pt" ]; then resume=(--resume "$out/last.pt")
    elif [ -f "$out/pretrain_last.pt" ] && [ ! -f "$out/pretrain.pt" ]; then
        resume=(--resume "$out/pretrain_last.pt"); fi
    "$here/scripts/with-env" spatial-ros train --config \
        "$here/spatial_ros/model/configs/hard/$row.yaml" --out "$out" "${resume[@]}"
done
