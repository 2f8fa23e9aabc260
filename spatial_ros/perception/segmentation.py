"""Class-agnostic segmentation back-ends: the foreground (points off the structure planes) of
the strided image grid grouped into object regions."""
from __future__ import annotations

import cv2
import numpy as np

from spatial_ros.perception.learned import affinity_regions
from spatial_ros.perception.types import PerceptionConfig

__all__ = ["hue_bins", "weighted_lab", "depth_regions", "cells_by_region", "label_order"]

_SQUARE = np.ones((3, 3), np.uint8)


def _along(x: np.ndarray, axis: int, part: slice) -> np.ndarray:
    """A view of ``x`` cut to ``part`` along ``axis`` (what np.take with a range copies)."""
    index = [slice(None)] * x.ndim
    index[axis] = part
    return x[tuple(index)]


def hue_bins(rgb: np.ndarray) -> np.ndarray:
    """A coarse colour class per pixel: 12 hue bins for saturated pixels, 12-14 for dark, grey
    and light unsaturated ones."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0].astype(np.int16), hsv[..., 1], hsv[..., 2]
    bins = ((h + 7) % 180) // 15
    grey = s < 60
    bins = np.where(grey, np.where(v < 50, 12, np.where(v < 180, 13, 14)), bins)
    return np.where(~grey & (v < 40), 12, bins).astype(np.uint8)


def depth_regions(depth: np.ndarray, fg: np.ndarray, rgb: np.ndarray,
                  config: PerceptionConfig, *, silhouette: np.ndarray | None = None,
                  points: np.ndarray | None = None,
                  affinities: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Object regions of the foreground grid ``fg``; int32 labels, 0 = none.

    In order: depth-continuous regions (neighbours whose relative depth step is under
    ``depth_jump``; flying-pixel cells and concave creases cut, the flying pixels then given
    to a region beside them), split by colour where they are made of a few plain colours each
    in one blob, split at thin necks where the pieces differ in colour, fragments of one colour
    with a small depth step between them merged; then each region takes the plane or empty
    cells it encloses (a bowl's floor lies within the plane's inlier distance).

    ``silhouette``, where given, receives the labels of the cells that belong to an object's
    image region but not to its surface: the free cells of its convex hull (a bowl's floor,
    level with the table, seen through an open rim).

    ``affinities`` (learned segmentation: the probabilities that each cell and its right /
    lower neighbour are one object, perception.learned) replace the rules between the depth
    cuts and the filling: regions are the foreground's cells joined where the affinity is over
    ``affinity_threshold`` and no depth jump lies between them; with ``segmentation``
    "combined" they cut and join the rules' regions where the network is sure
    (``combine_split``, ``combine_merge``).
    """
    if affinities is not None and config.segmentation != "combined":
        return _learned_regions(depth, fg, affinities, config, silhouette)
    d = np.where(fg, depth, 0.0).astype(np.float32)
    steps = _steps(d, config.depth_jump)  # (right, down); combined reuses them
    edges = np.zeros(fg.shape, bool)  # edge and crease cells
    edge = _depth_edges(d, config.edge_jump) & fg if config.edge_jump > 0 else None
    if edge is not None:
        edges |= edge
    crease = None
    if points is not None and config.crease_angle > 0:  # where objects touch
        crease = _concave_creases(points, d > 0, config) & fg
        edges |= crease
    cut = edges | _after(steps)
    _n, labels = cv2.connectedComponents((fg & ~cut).astype(np.uint8), connectivity=4)
    if affinities is not None and config.thin_objects:
        labels = _thin_objects(labels, fg & ~edges, steps, depth > 0, fg, config.min_points)
    lab = weighted_lab(rgb, config)
    out = _split_colours(labels, hue_bins(rgb), lab, config)
    if edge is not None:  # flying-pixel cells go to the region beside them, at their depth;
        # crease cells stay out (grown, they went to whichever side came first, and a small
        # object against a larger one lost most of itself to it)
        _grow(out, edge if crease is None else edge & ~crease, 1, depth=d,
              jump=config.depth_jump)
    if config.neck_erosion > 0:
        out = _split_necks(out, lab, config)
    if config.merge_jump > 0:
        out = _merge_fragments(out, depth, lab, config, boundary=crease)
    if affinities is not None and config.combine_parts > 0:
        out = _learned_parts(out, affinities, lab, config)
    if affinities is not None and (config.combine_split > 0 or config.combine_merge < 1):
        out = _combined_regions(out, steps, affinities, config)  # combined: the net's word
    if config.fill_enclosed:
        _fill_enclosed(out, ~fg, config.fill_hull, silhouette)
    return out


def _after(steps: tuple[np.ndarray, np.ndarray], before: np.ndarray | None = None
           ) -> np.ndarray:
    """The cells a depth step cuts: the one after it (right, lower), where the cell before
    it is in ``before`` (all cells when None)."""
    out = np.zeros((steps[1].shape[0] + 1, steps[0].shape[1] + 1), bool)
    out[:, 1:] |= steps[0] if before is None else steps[0] & before[:, :-1]
    out[1:] |= steps[1] if before is None else steps[1] & before[:-1]
    return out


def _thin_objects(labels: np.ndarray, uncut: np.ndarray, steps: tuple[np.ndarray, np.ndarray],
                  valid: np.ndarray, fg: np.ndarray, min_points: int) -> np.ndarray:
    """``labels`` (the depth cuts' components) with the ones that the step cut erased whole
    given back: cut again, but where a step's cell before lies on the support plane (a
    reading, not foreground) it cuts nothing. A pen or a marker lying on the table, four
    cells wide, borders the plane with every top and left cell, so that the cut left it in
    pieces under ``min_points``. ``uncut``: the foreground less the edge and crease cuts."""
    plane = valid & ~fg
    _n2, again = cv2.connectedComponents((uncut & ~_after(steps, ~plane)).astype(np.uint8),
                                         connectivity=4)
    sizes = np.bincount(labels.ravel())
    kept = (labels > 0) & (sizes[labels] >= min_points)
    seen = np.bincount(again[kept], minlength=_n2) > 0
    back = ~seen & (np.bincount(again.ravel(), minlength=_n2) >= min_points)
    back[0] = False
    lost = back[again]
    return np.where(lost, again + int(labels.max()), labels)


def _learned_parts(out: np.ndarray, affinities: tuple[np.ndarray, np.ndarray],
                   lab_w: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """The rules' regions ``out``, each parted into the network's own regions (cells joined
    within it by an affinity over ``affinity_threshold``) that hold ``combine_parts`` of it or
    more, where two of those differ in colour by more than ``same_chroma``: two segmenters
    that see two objects (touching printed objects, which the colour split keeps whole). The
    region's other cells go to the piece that grows to them first; cells no piece reaches
    (across a gap the rules bridged) keep the region's label."""
    right, down = affinities
    inner_r = (out[:, 1:] == out[:, :-1]) & (right > config.affinity_threshold)
    inner_d = (out[1:] == out[:-1]) & (down > config.affinity_threshold)
    net = affinity_regions(out > 0, inner_r, inner_d)  # joins given, as _combined_regions'
    result = out.copy()
    nxt = int(out.max()) + 1
    flat_net, flat_lab = net.ravel(), lab_w.reshape(-1, 3)
    for k, cells in cells_by_region(out).items():
        parts, counts = np.unique(flat_net[cells], return_counts=True)
        big = parts[(counts >= config.combine_parts * len(cells)) & (parts > 0)]
        if len(big) < 2:
            continue
        colour = {int(j): _chroma(flat_lab[cells[flat_net[cells] == j]]) for j in big}
        if not any(float(np.linalg.norm(colour[int(a)] - colour[int(b)])) > config.same_chroma
                   for i, a in enumerate(big) for b in big[i + 1:]):
            continue
        ys, xs = np.divmod(cells, out.shape[1])
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        own = out[y0:y1, x0:x1] == k
        seeds = np.zeros(own.shape, np.int32)
        sub = net[y0:y1, x0:x1]
        for j in big:
            seeds[own & (sub == j)] = nxt
            nxt += 1
        _grow(seeds, own, max(own.shape))
        seeds[own & (seeds == 0)] = k
        result[y0:y1, x0:x1][own] = seeds[own]
    return result


def _combined_regions(out: np.ndarray, steps: tuple[np.ndarray, np.ndarray],
                      affinities: tuple[np.ndarray, np.ndarray],
                      config: PerceptionConfig) -> np.ndarray:
    """The rules' regions ``out`` with the network's word on their borders: neighbours of one
    region part where the network's affinity is under ``combine_split`` (two objects the rules
    joined: a box stacked on a box of its colour), neighbours of two regions join where it is
    over ``combine_merge`` with no depth jump between them (``steps``, the depth cuts'
    _steps: one object the rules cut, a box in prints). Pieces under ``min_points`` cells are
    dropped, as the learned regions' are."""
    right, down = affinities
    jump_r, jump_d = steps
    joins = []
    for a, b, aff, jump in ((out[:, 1:], out[:, :-1], right, jump_r),
                            (out[1:], out[:-1], down, jump_d)):
        same = a == b
        joins.append(np.where(same, aff > config.combine_split,
                              (aff > config.combine_merge) & ~jump & (a > 0) & (b > 0)))
    labels = affinity_regions(out > 0, *joins)
    sizes = np.bincount(labels.ravel())
    labels[sizes[labels] < config.min_points] = 0
    return labels


def _learned_regions(depth: np.ndarray, fg: np.ndarray,
                     affinities: tuple[np.ndarray, np.ndarray], config: PerceptionConfig,
                     silhouette: np.ndarray | None) -> np.ndarray:
    """depth_regions with learned affinities: no pair across a relative depth jump over
    ``depth_jump`` joins, flying-pixel cells join the region beside them afterwards."""
    d = np.where(fg, depth, 0.0).astype(np.float32)
    right, down = (np.where(step, 0.0, a) for step, a in zip(_steps(d, config.depth_jump),
                                                             affinities))
    edge = _depth_edges(d, config.edge_jump) & fg if config.edge_jump > 0 else None
    core = fg if edge is None else fg & ~edge
    labels = affinity_regions(core, right, down, config.affinity_threshold)
    sizes = np.bincount(labels.ravel())
    labels[sizes[labels] < config.min_points] = 0
    if edge is not None:
        _grow(labels, edge, 1, depth=d, jump=config.depth_jump)
    if config.fill_enclosed:
        _fill_enclosed(labels, ~fg, config.fill_hull, silhouette)
    return labels


def _steps(d: np.ndarray, jump: float) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour pairs whose relative depth step is over ``jump``: with the right neighbour
    (H, W - 1) and with the lower one (H - 1, W)."""
    return tuple(np.abs(a - b) > jump * np.maximum(np.minimum(a, b), 1e-6)
                 for a, b in ((d[:, 1:], d[:, :-1]), (d[1:], d[:-1])))


def weighted_lab(rgb: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """float32 Lab (OpenCV's 8-bit scale) with lightness weighted by ``lightness_weight``:
    shading moves L, not the chroma (a*, b*), yet black, grey and white (all without chroma)
    must stay apart. The one colour space of every same-colour test in segmentation."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= config.lightness_weight
    return lab


def _depth_edges(d: np.ndarray, jump: float) -> np.ndarray:
    """Flying pixels: cells whose 3x3 neighbourhood spans a relative depth range over ``jump``
    (0 = no reading, ignored) while their own depth lies in the middle of that range. RealSense
    depth draws such ramps across occlusion edges, where neighbour-to-neighbour steps stay
    small; the surfaces on either side (the nearest and farthest depths) are kept."""
    kernel = np.ones((3, 3), np.uint8)
    hi = cv2.dilate(d, kernel)
    lo = cv2.erode(np.where(d > 0, d, np.float32(1e6)), kernel)
    span = hi - lo
    return (d > 0) & (span > jump * d) & (d > lo + 0.25 * span) & (d < hi - 0.25 * span)


def label_order(labels: np.ndarray) -> np.ndarray:
    """The stable sort order of non-negative labels; labels under 65536 sort as uint16, where
    numpy's stable sort is a radix sort (6x faster than on int32)."""
    if labels.size and 0 <= labels.min() and labels.max() < 65536:
        labels = labels.astype(np.uint16)
    return np.argsort(labels, kind="stable")


def cells_by_region(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Each region's cells (flat indices, row-major), from one sort of the labels."""
    flat = labels.ravel()
    order = label_order(flat)
    keys, first = np.unique(flat[order], return_index=True)
    return {int(k): part for k, part in zip(keys, np.split(order, first[1:])) if k > 0}


def _split_colours(labels: np.ndarray, bins: np.ndarray, lab_w: np.ndarray,
                   config: PerceptionConfig) -> np.ndarray:
    """Each region (of at least ``min_points`` cells) whole, or split into its colour blobs
    where ``_colour_parts`` says it holds touching objects of plain colours."""
    out = np.zeros(labels.shape, np.int32)
    nxt = 1
    for pix in cells_by_region(labels).values():
        if len(pix) < config.min_points:
            continue
        parts = _colour_parts(pix, bins.ravel()[pix], labels.shape, config)
        if parts is not None and config.color_split_step > 0:
            parts = _join_gradients(parts, lab_w, labels.shape, config.color_split_step)
        if parts is None:
            out.ravel()[pix] = nxt
            nxt += 1
            continue
        for _hue, cells in parts:  # each colour's blob is a segment
            out.ravel()[cells] = nxt
            nxt += 1
    return out


def _join_gradients(parts: list[tuple[int, np.ndarray]], lab_w: np.ndarray,
                    shape: tuple[int, int], step: float) -> list[tuple[int, np.ndarray]] | None:
    """Join touching colour blobs of different hues where the colour changes gradually across
    their boundary: the median Lab distance of cells one or two apart across it is under
    ``step`` times the distance of the blobs' median colours. That is shading (a white bowl's
    shaded side reads blue under real white balance) or a print, not two objects: there the
    colour steps at the boundary (ratio 0.9-1.5 on SpatialBench, 0.17-0.41 on the real frames'
    false splits). None where all blobs join (the region stays whole)."""
    if len(parts) < 2:
        return parts
    flat = lab_w.reshape(-1, 3)
    cells = np.concatenate([c for _h, c in parts])
    ys, xs = np.divmod(cells, shape[1])
    y0, x0 = ys.min(), xs.min()
    ids = np.zeros((ys.max() + 1 - y0, xs.max() + 1 - x0), np.int32)
    for i, (_h, c) in enumerate(parts):
        ids[c // shape[1] - y0, c % shape[1] - x0] = i + 1
    lab = lab_w[y0:y0 + ids.shape[0], x0:x0 + ids.shape[1]]
    hue = np.array([h for h, _c in parts])
    colour = np.array([_chroma(flat[c]) for _h, c in parts])
    keys, dists = [], []  # each cell pair across a boundary: its blobs (as one key), distance
    for axis in (0, 1):
        for gap in (1, 2):
            a, b = _along(ids, axis, slice(0, -gap)), _along(ids, axis, slice(gap, None))
            sel = (a > 0) & (b > 0) & (a != b)
            keys.append(np.minimum(a[sel], b[sel]) * (len(parts) + 1) + np.maximum(a[sel], b[sel]))
            dists.append(np.linalg.norm(_along(lab, axis, slice(0, -gap))[sel]
                                        - _along(lab, axis, slice(gap, None))[sel], axis=1))
    keys, dists = np.concatenate(keys), np.concatenate(dists)
    group = list(range(len(parts)))

    def root(k: int) -> int:
        while group[k] != k:
            k = group[k]
        return k

    for key in np.unique(keys):
        i, j = int(key // (len(parts) + 1)) - 1, int(key % (len(parts) + 1)) - 1
        full = float(np.linalg.norm(colour[i] - colour[j]))
        if hue[i] != hue[j] and np.median(dists[keys == key]) < step * full:
            group[root(j)] = root(i)
    roots = [root(k) for k in range(len(parts))]
    if len(set(roots)) == 1:
        return None
    return [(parts[r][0], np.concatenate([parts[k][1] for k in range(len(parts))
                                          if roots[k] == r])) for r in sorted(set(roots))]


def _concave_creases(points: np.ndarray, valid: np.ndarray,
                     config: PerceptionConfig) -> np.ndarray:
    """Cells on a concave crease: the surface normals two cells to either side (across or
    along the image) differ by more than ``crease_angle`` and turn towards each other, as where
    two objects touch (a mug against a bottle). Convex edges (a box's own) are not creases.

    ``points``: (H, W, 3) optical-frame points of the grid; ``valid``: cells with a reading.
    """
    k = 2
    p = np.ascontiguousarray(points.transpose(2, 0, 1), np.float32)  # (3, H, W): x, y, z planes
    inner_cells = (slice(None), slice(k, -k), slice(k, -k))
    dx = p[:, k:-k, 2 * k:] - p[:, k:-k, :-2 * k]
    dy = p[:, 2 * k:, k:-k] - p[:, :-2 * k, k:-k]
    c = np.stack([dx[1] * dy[2] - dx[2] * dy[1], dx[2] * dy[0] - dx[0] * dy[2],
                  dx[0] * dy[1] - dx[1] * dy[0]])  # dx x dy
    norm = np.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2])
    inner = valid[k:-k, 2 * k:] & valid[k:-k, :-2 * k] & valid[2 * k:, k:-k] \
        & valid[:-2 * k, k:-k] & valid[k:-k, k:-k] & (norm > 1e-12)
    c /= np.maximum(norm, 1e-12)
    mid = p[inner_cells]
    # normals point back towards the camera
    c *= np.where(c[0] * mid[0] + c[1] * mid[1] + c[2] * mid[2] > 0, -1.0, 1.0
                  ).astype(np.float32)
    n = np.zeros_like(p)
    n[inner_cells] = c
    ok = np.zeros(valid.shape, bool)
    ok[k:-k, k:-k] = inner
    cos_max = np.cos(np.radians(config.crease_angle))
    out = np.zeros(valid.shape, bool)
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        m = [slice(None)] * 2
        a[axis], b[axis], m[axis] = slice(0, -2 * k), slice(2 * k, None), slice(k, -k)
        na, nb = n[(slice(None), *a)], n[(slice(None), *b)]
        pa, pb = p[(slice(None), *a)], p[(slice(None), *b)]
        both = ok[tuple(a)] & ok[tuple(b)]
        cos = np.where(both, na[0] * nb[0] + na[1] * nb[1] + na[2] * nb[2], 1.0)
        dn, dp = na - nb, pa - pb
        concave = dn[0] * dp[0] + dn[1] * dp[1] + dn[2] * dp[2] < 0
        # one cell wide: where the bend peaks along this axis (a small object against another
        # would otherwise be all crease)
        before = np.ones_like(cos)  # the neighbours' bend along the axis (none: straight)
        _along(before, axis, slice(1, None))[...] = _along(cos, axis, slice(None, -1))
        after = np.ones_like(cos)
        _along(after, axis, slice(None, -1))[...] = _along(cos, axis, slice(1, None))
        peak = (cos <= before) & (cos <= after)
        crease = (cos < cos_max) & concave
        # three cells wide: the peak and its neighbours along the axis that are creases too
        wide = peak | np.roll(peak, 1, axis=axis) | np.roll(peak, -1, axis=axis)
        out[tuple(m)] |= crease & (wide if config.crease_width == 3 else peak)
    return out


def _chroma(lab: np.ndarray) -> np.ndarray:
    """A piece's colour: the median of its pixels' weighted Lab; shading (light and shadow on a
    white bowl) moves it little, and so does a print on it."""
    return np.median(lab.reshape(-1, 3), axis=0)


def _split_necks(labels: np.ndarray, lab_w: np.ndarray,
                 config: PerceptionConfig) -> np.ndarray:
    """Regions that erosion splits into several big pieces of different colours, split there
    (each cell goes to the piece that regrowing within the region reaches first): objects of
    different colours touching in the image. Pieces of one colour stay one object (a bowl's
    ring, thin at its sides)."""
    out = np.zeros_like(labels)
    kernel = np.ones((3, 3), np.uint8)
    nxt = 1
    for k, cells in cells_by_region(labels).items():
        ys, xs = np.divmod(cells, labels.shape[1])
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        own = (labels[y0:y1, x0:x1] == k).astype(np.uint8)
        core = cv2.erode(own, kernel, iterations=config.neck_erosion)
        m, lab, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
        big = 1 + np.flatnonzero(stats[1:, cv2.CC_STAT_AREA]
                                 >= max(config.min_points, config.neck_share * len(ys)))
        if len(big) < 2:
            out[y0:y1, x0:x1][own > 0] = nxt
            nxt += 1
            continue
        crop = lab_w[y0:y1, x0:x1]
        colour = {j: _chroma(crop[lab == j]) for j in big}
        group = {j: j for j in big}  # pieces of one colour are one piece
        for i, a in enumerate(big):
            for b in big[i + 1:]:
                if float(np.linalg.norm(colour[a] - colour[b])) <= config.same_chroma:
                    ga, gb = group[a], group[b]
                    group = {k: ga if g == gb else g for k, g in group.items()}
        if len(set(group.values())) < 2:
            out[y0:y1, x0:x1][own > 0] = nxt
            nxt += 1
            continue
        seeds = np.zeros(lab.shape, np.int32)
        for j in big:
            seeds[lab == j] = group[j]
        _grow(seeds, own > 0, config.neck_erosion + 2)
        for g in sorted(set(group.values())):
            out[y0:y1, x0:x1][seeds == g] = nxt
            nxt += 1
    return out


def _merge_fragments(labels: np.ndarray, depth: np.ndarray, lab_w: np.ndarray,
                     config: PerceptionConfig, *,
                     boundary: np.ndarray | None = None) -> np.ndarray:
    """Merge regions that touch in the image (or across one empty cell) with a small depth
    jump along the boundary and one colour: an object that a depth edge cut (a mug and its
    handle, the two sides of a bowl). One colour, for a merge, is within ``merge_chroma`` in
    Lab, tighter than for a neck: red and orange objects touching stay apart. No merge crosses
    a ``boundary`` cell (a concave crease: where two objects touch)."""
    n = int(labels.max())
    if n < 2:
        return labels
    pairs = []
    for axis in (0, 1):
        for step in (1, 2):
            first, second = slice(0, -step), slice(step, None)
            a, b = _along(labels, axis, first), _along(labels, axis, second)
            da, db = _along(depth, axis, first), _along(depth, axis, second)
            sel = (a > 0) & (b > 0) & (a != b)
            if step == 2:  # across one cell that belongs to no region
                sel &= _along(labels, axis, slice(1, -1)) == 0
                if boundary is not None:
                    sel &= ~_along(boundary, axis, slice(1, -1))
            if boundary is not None:
                sel &= ~_along(boundary, axis, first) & ~_along(boundary, axis, second)
            jump = np.abs(da - db) / np.maximum(np.minimum(da, db), 1e-6)
            pairs.append(np.stack([np.minimum(a, b)[sel], np.maximum(a, b)[sel],
                                   jump[sel]], axis=1))
    edges = np.concatenate(pairs)
    if len(edges) == 0:
        return labels
    keys = edges[:, 0].astype(np.int64) * (n + 1) + edges[:, 1].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, jumps = keys[order], edges[order, 2]
    uniq, starts, counts = np.unique(keys, return_index=True, return_counts=True)
    cells = cells_by_region(labels)
    colour = {}
    parent = np.arange(n + 1)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key, start, count in zip(uniq, starts, counts):
        if count < 3 or np.median(jumps[start:start + count]) > config.merge_jump:
            continue
        a, b = int(key // (n + 1)), int(key % (n + 1))
        for r in (a, b):
            if r not in colour:
                colour[r] = _chroma(lab_w.reshape(-1, 3)[cells[r]])
        if float(np.linalg.norm(colour[a] - colour[b])) <= config.merge_chroma:
            parent[find(b)] = find(a)
    roots = np.array([find(i) for i in range(n + 1)])
    return roots[labels]


def _grow(labels: np.ndarray, allowed: np.ndarray, steps: int, *,
          depth: np.ndarray | None = None, jump: float = 0.0) -> None:
    """Grow the labelled regions into unlabelled ``allowed`` cells, one cell per step
    (4-neighbours; a cell two regions reach in the same step goes to the last one tried).
    With ``depth``, a cell only joins a neighbour within ``jump`` relative depth of it."""
    for _ in range(steps):
        free = allowed & (labels == 0)
        if not free.any():
            return
        grown = labels.copy()
        for axis in (0, 1):
            for shift in (1, -1):
                nb = np.roll(labels, shift, axis=axis)
                edge = [slice(None)] * 2
                edge[axis] = slice(0, 1) if shift == 1 else slice(-1, None)
                nb[tuple(edge)] = 0
                take = free & (nb > 0) & (grown == 0)
                if depth is not None:
                    nd = np.roll(depth, shift, axis=axis)
                    take &= np.abs(nd - depth) <= jump * np.maximum(depth, 1e-6)
                grown[take] = nb[take]
        labels[:] = grown


def _colour_parts(pix: np.ndarray, b: np.ndarray, shape: tuple[int, int],
                  config: PerceptionConfig) -> list[tuple[int, np.ndarray]] | None:
    """The colour blobs (hue bin, flat cell indices) a depth-continuous region splits into, or
    None to keep it whole.

    It splits where a few hues (each ``color_split_fraction`` of it) cover ``color_split_purity``
    of it and each hue is one compact blob (``color_split_compact`` of its pixels in its
    largest piece): touching objects of plain colours. Print and labels (a cereal box, a can)
    are many hues in scattered pieces, and stay one object; with ``color_split_prints`` a
    scattered hue is left out where two other hues are blobs (a printed box on a plain one of
    another colour: the print's pieces are then dropped, or parts of their own, as
    _third_colours says).
    """
    counts = np.bincount(b, minlength=15)
    major = np.flatnonzero(counts >= config.color_split_fraction * len(pix))
    if len(major) <= 1 or counts[major].sum() < config.color_split_purity * len(pix):
        return None
    ys, xs = np.divmod(pix, shape[1])
    y0, x0 = ys.min(), xs.min()
    parts = []
    scattered = 0
    for hb in major:  # each hue's blobs, within the region's bounding box
        sub = np.zeros((ys.max() + 1 - y0, xs.max() + 1 - x0), np.uint8)
        sel = b == hb
        sub[ys[sel] - y0, xs[sel] - x0] = 1
        m, lab, stats, _ = cv2.connectedComponentsWithStats(sub, connectivity=8)
        if m < 2:
            return None
        areas = stats[1:, cv2.CC_STAT_AREA]
        if areas.max() < config.color_split_compact * counts[hb]:
            if not config.color_split_prints:
                return None
            scattered += 1
            continue
        for j in np.flatnonzero(areas >= config.min_points):
            rows, cols = np.nonzero(lab == j + 1)
            parts.append((int(hb), (rows + y0) * shape[1] + cols + x0))
    if scattered and len({h for h, _c in parts}) < 2:
        return None
    return parts + _third_colours(pix, b, shape, parts, config.colour_piece_cells)


def _third_colours(pix: np.ndarray, b: np.ndarray, shape: tuple[int, int],
                   parts: list[tuple[int, np.ndarray]], min_cells: int
                   ) -> list[tuple[int, np.ndarray]]:
    """The pieces of a region (cells ``pix``, hue bins ``b``) that none of its major colours'
    blobs (``parts``) holds, each a part of its own (its most common hue) where it holds
    ``min_cells`` cells or more and no one blob encloses it (holds more than half the cells
    around it: a print or a highlight within one object); 0 = none. They were dropped: a small
    object of a third colour touching two of plain colours was erased (SpatialBench hard_val,
    a 4 cm box and a 6 cm box between larger ones). A bottle's cap on the tuning frames is
    9-10 cells."""
    if min_cells <= 0:
        return []
    ys, xs = np.divmod(pix, shape[1])
    y0, x0 = ys.min(), xs.min()
    ids = np.zeros((ys.max() + 1 - y0, xs.max() + 1 - x0), np.int32)  # 0: not the region
    ids[ys - y0, xs - x0] = -1  # the region's cells no blob holds
    for k, (_h, cells) in enumerate(parts):
        ids[cells // shape[1] - y0, cells % shape[1] - x0] = k + 1
    count, lab = cv2.connectedComponents((ids < 0).astype(np.uint8), connectivity=8)
    if count < 2:
        return []
    sizes = np.bincount(lab.ravel())
    hues = np.zeros(ids.shape, np.int64)
    hues[ys - y0, xs - x0] = b
    out = []
    for j in np.flatnonzero(sizes[1:] >= min_cells) + 1:
        piece = (lab == j).astype(np.uint8)
        ring = (cv2.dilate(piece, _SQUARE) > 0) & (piece == 0)
        around = np.bincount(np.maximum(ids[ring], 0), minlength=len(parts) + 1)
        if parts and around[1:].max() * 2 > ring.sum():
            continue  # within one blob: a print or a highlight on it
        rows, cols = np.nonzero(piece)
        out.append((int(np.bincount(hues[rows, cols]).argmax()),
                    (rows + y0) * shape[1] + cols + x0))
    return out


def _fill_enclosed(labels: np.ndarray, free: np.ndarray, hull_share: float = 0.0,
                   silhouette: np.ndarray | None = None) -> None:
    """Give each region the ``free`` cells (plane readings, no reading) it encloses: a bowl's
    inner floor is level with the table and its plane takes it, yet it is the bowl's."""
    for k, cells in cells_by_region(labels).items():
        if len(cells) < 9:
            continue
        ys, xs = np.divmod(cells, labels.shape[1])
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        if y1 - y0 < 3 or x1 - x0 < 3:
            continue
        own = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.uint8)
        own[ys - y0 + 1, xs - x0 + 1] = 1
        outside = 1 - own
        flood = outside.copy()
        cv2.floodFill(flood, None, (0, 0), 2)  # the border ring is outside by construction
        holes = (flood == 1)[1:-1, 1:-1] & free[y0:y1, x0:x1] & (labels[y0:y1, x0:x1] == 0)
        if hull_share > 0 and silhouette is not None:  # the free cells of its convex hull
            # are its image region, not its surface: an open ring (a bowl whose front rim
            # dips into the table plane) encloses its floor only so
            pts = np.stack([xs - x0, ys - y0], axis=1).astype(np.int32)
            hull = np.zeros(holes.shape, np.uint8)
            cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
            extra = (hull > 0) & free[y0:y1, x0:x1] & (labels[y0:y1, x0:x1] == 0) & ~holes
            if extra.sum() <= hull_share * len(cells):
                silhouette[y0:y1, x0:x1][extra] = k
        labels[y0:y1, x0:x1][holes] = k
