"""Turn the hand annotations of the real RGB-D frames into instance masks, and draw overlays.

    scripts/with-env python scripts/annotate_real.py [--data test/data/real_rgbd] [--overlays DIR]
    scripts/with-env python scripts/annotate_real.py --data test/data/real_rgbd_heldout

Each object in ``annotations.json`` is a polygon or ellipse drawn by hand around it. Its mask is
the pixels inside (grown by 3 px) that stand at least 6 mm above the local table plane, or that
have no depth reading (dark and shiny surfaces), closed and with its holes filled; a bowl
(``hull``) is the convex hull of that within its drawn ellipse, since its inner floor is level
with the table. The table plane is fitted (RANSAC, seeded) to the pixels in
a 25 px band around the polygons, which is table wherever objects stand on it. Writes
``tabletop_N_mask.png`` (uint8, id = the object's key, 0 = not annotated) and, with
``--overlays``, one overlay PNG per frame to check the annotation by eye.
"""
from __future__ import annotations

import argparse
import json
import pathlib

import cv2
import numpy as np


def _region(obj: dict, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    if "ellipse" in obj:
        cx, cy, ax, ay = obj["ellipse"]
        cv2.ellipse(out, (cx, cy), (ax, ay), 0, 0, 360, 1, -1)
    else:
        cv2.fillPoly(out, [np.array(obj["polygon"], np.int32)], 1)
    return out.astype(bool)


def _table_plane(points: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    best, best_n, best_d = -1, None, 0.0
    for _ in range(400):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(b - a, c - a)
        if np.linalg.norm(n) < 1e-9:
            continue
        n /= np.linalg.norm(n)
        d = -float(n @ a)
        count = int((np.abs(points @ n + d) < 0.006).sum())
        if count > best:
            best, best_n, best_d = count, n, d
    inl = points[np.abs(points @ best_n + best_d) < 0.006]
    c = inl.mean(axis=0)
    n = np.linalg.svd(inl - c, full_matrices=False)[2][-1]
    d = -float(n @ c)
    return (n, d) if d > 0 else (-n, -d)  # the camera (origin) on the positive side


def annotate(data: pathlib.Path, overlays: pathlib.Path | None) -> None:
    ann = json.loads((data / "annotations.json").read_text())
    per_frame = (data / "cameras.json").is_file()
    cams = json.loads((data / ("cameras.json" if per_frame else "camera.json")).read_text())
    for name, frame in ann["frames"].items():
        cam = cams[name] if per_frame else cams
        depth = cv2.imread(str(data / f"{name}_depth.png"), cv2.IMREAD_UNCHANGED)
        z = depth.astype(np.float32) * cam["depth_unit_m"]
        h, w = z.shape
        u, v = np.meshgrid(np.arange(w), np.arange(h))
        pts = np.dstack([(u - cam["cx"]) / cam["fx"] * z, (v - cam["cy"]) / cam["fy"] * z, z])
        regions = {int(k): _region(o, (h, w)) for k, o in frame["objects"].items()}
        if frame.get("refine", "table") == "none":
            mask = np.zeros((h, w), np.uint8)
            for key, region in regions.items():  # front to back: the first claim holds
                mask[region & (mask == 0)] = key
            _write(data, name, frame, mask, overlays)
            continue
        inside = np.any(list(regions.values()), axis=0)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (51, 51))
        band = cv2.dilate(inside.astype(np.uint8), kernel).astype(bool) & ~inside & (z > 0)
        n, d = _table_plane(pts[band])
        height = pts @ n + d
        up = (z == 0) | (height > 0.006)
        mask = np.zeros((h, w), np.uint8)
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        for key, region in regions.items():
            obj = frame["objects"][str(key)]
            m = (cv2.dilate(region.astype(np.uint8), grow).astype(bool) & up).astype(np.uint8)
            m = cv2.morphologyEx(m, cv2.MORPH_OPEN, close)
            m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, close)
            count, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
            if count > 1:  # the largest piece, and any other at least a fifth of its size
                big = stats[1:, cv2.CC_STAT_AREA]
                m = np.isin(lab, 1 + np.flatnonzero(big >= 0.2 * big.max())).astype(np.uint8)
            contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            filled = np.zeros_like(m)
            if obj.get("hull"):  # a bowl: its inner floor is level with the table
                contours = [cv2.convexHull(np.concatenate(contours))]
            cv2.drawContours(filled, contours, -1, 1, -1)
            filled &= cv2.dilate(region.astype(np.uint8), grow)
            mask[(filled > 0) & (mask == 0)] = key
        print(f"{name}: table {-d:.3f} m along n={np.round(n, 3)}")
        _write(data, name, frame, mask, overlays)


def _write(data: pathlib.Path, name: str, frame: dict, mask: np.ndarray,
           overlays: pathlib.Path | None) -> None:
    """Save the mask and, with ``overlays``, an overlay to check it by eye."""
    cv2.imwrite(str(data / f"{name}_mask.png"), mask)
    counts = {int(k): int((mask == int(k)).sum()) for k in frame["objects"]}
    print(f"{name}: pixels per object {counts}")
    if overlays is not None:
        overlays.mkdir(parents=True, exist_ok=True)
        bgr = cv2.imread(str(data / f"{name}_color.png"))
        out = (bgr * 0.45).astype(np.uint8)
        rng = np.random.default_rng(3)
        for key, obj in frame["objects"].items():
            sel = mask == int(key)
            colour = rng.integers(80, 255, 3)
            out[sel] = (0.5 * bgr[sel] + 0.5 * colour).astype(np.uint8)
            contours, _ = cv2.findContours(sel.astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
            ys, xs = np.nonzero(sel)
            if len(xs):
                cv2.putText(out, f"{key} {obj['name'][4:]}",
                            (int(xs.min()), int(ys.min()) - 3),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        cv2.imwrite(str(overlays / f"{name}_annotation.png"), out)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = pathlib.Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=pathlib.Path, default=root / "test/data/real_rgbd")
    parser.add_argument("--overlays", type=pathlib.Path, default=None)
    args = parser.parse_args()
    annotate(args.data, args.overlays)


if __name__ == "__main__":
    main()
