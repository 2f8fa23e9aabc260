#!/usr/bin/env bash
# Writes the committed regression bags in test/bags/data/ (zstd-compressed MCAP, about 2.5 MB in
# all): the sim camera's topics, /camera/pose, the exact ground truth (/sim/ground_truth) and the
# scene graph of the time, for tabletop (RealSense D435 noise, ~5 frames) and shelf and room
# (ideal depth; a static camera and ideal depth compress to a few kB per frame).
# Run inside the environment: scripts/with-env bash scripts/make_regression_bags.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/bags/data
mkdir -p "$out"
for spec in tabletop:realsense_d435 shelf:ideal room:ideal; do
    world=${spec%%:*}
    sensor=${spec##*:}
    rm -rf "${out:?}/$world"
    spatial-ros record --out "$out/$world" --duration 1 --sim "$world" --sensor "$sensor" --compress
done
du -sh "$out"/*
