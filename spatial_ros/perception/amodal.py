"""Per-object geometry: the gravity-aligned amodal box of an object's world points, the shape
fits that complete it, and hidden bottoms extended to the surface below."""
from __future__ import annotations

import math

import cv2
import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.perception.shapes import default_classifier, features
from spatial_ros.perception.types import Detection, PerceptionConfig
from spatial_ros.scene import OrientedBox

__all__ = ["object_geometry", "bottom_hidden", "extend_down", "surface_below"]


def _yaw_rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _fit_sphere(p: np.ndarray, max_points: int = 500) -> tuple[np.ndarray, float, float]:
    """Least-squares sphere (centre, radius, rms residual), from at most ``max_points`` evenly
    spread points (more add time, not accuracy)."""
    if len(p) > max_points:
        p = p[np.linspace(0, len(p) - 1, max_points).astype(int)]
    a = np.ones((len(p), 4))
    a[:, :3] = 2 * p
    b = np.einsum("ij,ij->i", p, p)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    c = sol[:3]
    r = math.sqrt(max(sol[3] + c @ c, 1e-12))
    jac = np.empty((len(p), 4))
    jac[:, 3] = -1.0
    for _ in range(5):  # Gauss-Newton on the geometric distance (the algebraic fit is biased)
        diff = p - c
        dist = np.maximum(np.sqrt(np.einsum("ij,ij->i", diff, diff)), 1e-9)
        np.divide(diff, -dist[:, None], out=jac[:, :3])
        try:  # the 4x4 normal equations: a well-posed fit needs no SVD
            step = np.linalg.solve(jac.T @ jac, jac.T @ (r - dist))
        except np.linalg.LinAlgError:  # points on a plane or a line: no sphere to refine
            break
        c, r = c + step[:3], abs(r + step[3])
    diff = p - c
    res = np.sqrt(np.einsum("ij,ij->i", diff, diff)) - r
    return c, r, float(np.sqrt(np.mean(res ** 2)))


def object_geometry(p: np.ndarray, config: PerceptionConfig, camera: Pose,
              supports: list[float], image: np.ndarray | None = None, *,
              spacing: float = 0.0
              ) -> tuple[OrientedBox, str, np.ndarray | None, dict[str, OrientedBox]]:
    """Amodal gravity-aligned box, shape guess and shape features of an object's world points.

    The shape comes from the learned classifier (spatial_ros.shapes) where it ships and
    ``config.shape_classifier`` is on, else from the rules below; the amodal box follows the
    shape where its fit supports it (a sphere from the sphere fit, a cylinder from the circle
    around its top face) and is the footprint rectangle otherwise. ``spacing``: metres between
    neighbouring samples per metre of range; boxes grow by ``sample_pad`` of it (0: not at all).
    """
    z = p[:, 2]
    zmin, zmax = float(z.min()), float(z.max())
    rng = float(np.linalg.norm(p.mean(axis=0) - camera.translation))
    sigma = config.noise_quadratic * rng ** 2
    xy = p[:, :2].astype(np.float32)
    (cx, cy), (w, h), angle = cv2.minAreaRect(xy)
    span = max(w, h, zmax - zmin)
    rule = "unknown"
    sphere = top_fit = None
    feats = None
    sphere_ok = sphere_box = False
    if len(p) >= 20 and span > 0:  # the rules need 40 points; the classifier copes with 20
        centre, radius, rms = _fit_sphere(p.astype(np.float64))
        sphere = (centre, radius, rms)
        shape_rms = math.sqrt(max(rms ** 2 - sigma ** 2, 0.0))  # the noise's share removed
        sphere_ok = 0.3 * span < radius < 0.8 * span and centre[2] - radius < zmin + 0.3 * radius
        # the sphere's box completes only what is a sphere, seen over a fair part of its
        # height: a gently curved surface (a bag's) fits a large sphere's cap and would swell
        # to it (a coffee bag seen 6 cm high became a 40 cm ball: 0.3 of the radius; a ball in
        # a cup shows half its radius)
        sphere_box = (sphere_ok and shape_rms < config.sphere_box_rms * radius
                      and zmax - zmin >= 0.4 * radius)
        # a sphere resting on a support reaches down to it, not through it
        rests = [s for s in supports if s <= zmin + config.support_snap]
        if sphere_box and rests and \
                centre[2] - radius < max(rests) - config.sphere_sink - 2 * sigma:
            sphere_box = False
        footprint = 2 * radius / max(w, h, 1e-9)  # a sphere's footprint is its diameter
        if len(p) >= 40 and sphere_ok and shape_rms < 0.05 * radius and footprint > 0.85:
            rule = "sphere"
        top = xy[z > zmax - max(0.006, 2 * sigma)]
        if len(top) >= 5:
            (tcx, tcy), (tw, th), tang = cv2.minAreaRect(top)
            hull = cv2.convexHull(top)
            fill = cv2.contourArea(hull) / max(tw * th, 1e-12)
            aspect = min(tw, th) / max(tw, th, 1e-12)
            top_fit = (len(top) / len(p), aspect, fill, max(tw, th), top)
            if rule == "unknown" and len(top) >= 20 and len(p) >= 40:
                if aspect > 0.75 and fill < 0.88 and min(w, h) > 0.5 * max(tw, th):
                    rule = "cylinder"
                elif fill >= 0.88 or aspect <= 0.75:
                    rule = "box"
        feats = features(p, w=w, h=h, span=span, sphere=sphere,
                         top=None if top_fit is None else top_fit[:4], sigma=sigma,
                         camera_position=camera.translation, image=image)
    shape = rule
    classifier = default_classifier() if config.shape_classifier else None
    if classifier is not None and feats is not None:
        shape = classifier.predict(feats)
    # amodal boxes for each shape the fits support; the tracker may pick another than this
    # frame's guess when the object's shape over many frames says so
    # the outermost samples lie half a sample spacing inside the surface's edge, on average
    pad = config.sample_pad * spacing * rng
    top_z = max(zmax + pad / 2 - config.top_trim * sigma, zmin + 1e-3)
    rect = OrientedBox(center=[cx, cy, (zmin + top_z) / 2], size=[w + pad, h + pad, top_z - zmin],
                       rotation=_yaw_rotation(math.radians(angle)))
    candidates = {"box": rect}
    if sphere_box:
        centre, radius, _ = sphere
        candidates["sphere"] = OrientedBox(center=centre, size=np.full(3, 2 * radius))
    if top_fit is not None and len(top_fit[4]) >= 20:
        (ccx, ccy), r = cv2.minEnclosingCircle(top_fit[4])
        if min(w, h) >= config.cylinder_footprint * 2 * r:
            candidates["cylinder"] = OrientedBox(center=[ccx, ccy, (zmin + top_z) / 2],
                                                 size=[2 * r + pad, 2 * r + pad, top_z - zmin])
    for kind, b in candidates.items():
        lo = float(b.center[2] - b.size[2] / 2)
        below = [s for s in supports if s <= lo + 1e-3 and lo - s < config.support_snap]
        if below and kind != "sphere":
            candidates[kind] = _with_bottom(b, max(below))
    box = candidates.get(shape, candidates["box"])
    return box, shape, feats, candidates


def bottom_hidden(rows: np.ndarray, cols: np.ndarray, labels: np.ndarray, d: np.ndarray,
                   inst: int, config: PerceptionConfig) -> bool:
    """Whether the object's bottom edge is hidden: below the lowest pixel of each of its image
    columns (strided grid), the next two pixels lie outside the image or show a nearer object.
    Columns whose next pixels have no depth reading are not counted."""
    sh = labels.shape[0]
    order = np.lexsort((-rows, cols))  # per column, lowest pixel (largest row) first
    c_sorted = cols[order]
    first = np.ones(len(order), bool)
    first[1:] = c_sorted[1:] != c_sorted[:-1]
    br, bc = rows[order][first], c_sorted[first]
    own = d[br, bc]
    outside = br + 1 >= sh  # the object runs out of the image at the bottom
    occluded = np.zeros(len(br), bool)
    seen = outside.copy()
    for step in (1, 2):
        r = np.minimum(br + step, sh - 1)
        below = d[r, bc]
        has = ~outside & np.isfinite(below)
        seen |= has
        occluded |= has & (labels[r, bc] > 0) & (labels[r, bc] != inst) \
            & (below < own - config.occluder_gap)
    hidden = int((outside | occluded).sum())
    counted = int(seen.sum())
    return counted >= 3 and hidden >= config.occluded_bottom_share * counted


def _with_bottom(b: OrientedBox, floor: float) -> OrientedBox:
    """``b`` with its bottom face moved to height ``floor`` (its top stays)."""
    hi = float(b.center[2] + b.size[2] / 2)
    return OrientedBox(center=[b.center[0], b.center[1], (floor + hi) / 2],
                       size=[b.size[0], b.size[1], hi - floor], rotation=b.rotation)


def extend_down(boxes: dict[str, OrientedBox], floor: float) -> dict[str, OrientedBox]:
    """The boxes (but a sphere's, which its fit completes) with their bottoms lowered to
    ``floor`` where they end above it."""
    return {kind: b if kind == "sphere" or floor >= b.center[2] - b.size[2] / 2
            else _with_bottom(b, floor) for kind, b in boxes.items()}


def surface_below(det: Detection, others: list[Detection], supports: list[float],
                   tolerance: float) -> float | None:
    """The highest known surface under ``det``: a support plane below its bottom, or the top of
    another object whose footprint holds its centre (and whose top is at most ``tolerance``
    above det's bottom: sensed tops of stacked objects touch, give or take the noise)."""
    lo = float(det.aabb[0][2])
    cx, cy = float(det.box.center[0]), float(det.box.center[1])
    heights = [s for s in supports if s <= lo + 1e-3]
    for o in others:
        if o is det:
            continue
        olo, ohi = o.aabb
        if olo[0] <= cx <= ohi[0] and olo[1] <= cy <= ohi[1] and ohi[2] <= lo + tolerance:
            heights.append(float(ohi[2]))
    return max(heights) if heights else None
