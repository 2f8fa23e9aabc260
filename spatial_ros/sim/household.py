"""Household object meshes made in code (ROS-free): mug with handle, bowl, bottle, can, cereal
box, cup, toy block, marker, with their size varied.

Each is a closed triangle surface (no edge shared by more than two triangles, so
spatial_ros.sim.meshes accepts it) in metres, standing on z = 0 and centred on the z axis
(a marker lies on its side). Round objects are surfaces of revolution of a profile; open ones
(mug, cup, bowl) have a wall thickness, so their inside is seen from above as on a real table.
``write_mesh`` saves one as OBJ, PLY or STL (Open3D) or DAE (trimesh).
"""
from __future__ import annotations

import math
import pathlib
import re

import numpy as np

from spatial_ros.errors import SpatialRosError

__all__ = ["HOUSEHOLD", "household_mesh", "write_mesh", "lathe", "box_mesh", "shape_words"]

#: kind -> (shape word a person would accept or "", nominal size (m): width, depth, height)
HOUSEHOLD = {
    "mug": ("cylinder", (0.08, 0.08, 0.095)),
    "bowl": ("", (0.15, 0.15, 0.06)),
    "bottle": ("cylinder", (0.07, 0.07, 0.2)),
    "can": ("cylinder", (0.066, 0.066, 0.1)),
    "cereal box": ("box", (0.19, 0.07, 0.27)),
    "cup": ("cylinder", (0.075, 0.075, 0.09)),
    "toy block": ("box", (0.05, 0.05, 0.05)),
    "marker": ("cylinder", (0.13, 0.018, 0.018)),
}
_SEGMENTS = 32


def shape_words(label: str) -> set[str]:
    """The shape words a person accepts for an object labelled ``label`` in the ground truth: a
    primitive's own ("box"), a household object's (a mug: "cylinder"; a bowl: none)."""
    if label in HOUSEHOLD:
        return {HOUSEHOLD[label][0]} - {""}
    return {label}


def lathe(profile: list[tuple[float, float]], segments: int = _SEGMENTS
          ) -> tuple[np.ndarray, np.ndarray]:
    """Surface of revolution about z of ``profile``, (radius, height) points in order; the
    first and last points lie on the axis (radius 0), which closes the surface."""
    if profile[0][0] != 0 or profile[-1][0] != 0 or len(profile) < 3:
        raise SpatialRosError("a lathe profile must start and end on the axis (radius 0)")
    angles = np.linspace(0, 2 * math.pi, segments, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    verts = [np.array([[0.0, 0.0, profile[0][1]]])]
    for r, z in profile[1:-1]:
        verts.append(np.column_stack([r * ring, np.full(segments, z)]))
    verts.append(np.array([[0.0, 0.0, profile[-1][1]]]))
    v = np.concatenate(verts)
    tris = []
    k = np.arange(segments)
    nxt = (k + 1) % segments
    first, last = 1, 1 + segments * (len(profile) - 3)
    tris.append(np.column_stack([np.zeros(segments, int), first + nxt, first + k]))
    for i in range(len(profile) - 3):
        a, b = 1 + i * segments, 1 + (i + 1) * segments
        tris.append(np.column_stack([a + k, a + nxt, b + nxt]))
        tris.append(np.column_stack([a + k, b + nxt, b + k]))
    tip = len(v) - 1
    tris.append(np.column_stack([np.full(segments, tip), last + k, last + nxt]))
    return v, np.concatenate(tris).astype(np.int64)


def box_mesh(sx: float, sy: float, sz: float) -> tuple[np.ndarray, np.ndarray]:
    """A box standing on z = 0, centred on the z axis."""
    v = np.array([[x, y, z] for z in (0.0, sz) for y in (-sy / 2, sy / 2)
                  for x in (-sx / 2, sx / 2)])
    t = np.array([[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
                  [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]])
    return v, t


def _tube(path: np.ndarray, radius: float, sides: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A closed tube of ``radius`` along the points ``path`` (N, 3), capped at both ends."""
    verts, tris = [], []
    n = len(path)
    for i, p in enumerate(path):
        d = path[min(i + 1, n - 1)] - path[max(i - 1, 0)]
        d /= np.linalg.norm(d)
        u = np.cross(d, [0.0, 1.0, 0.0])
        if np.linalg.norm(u) < 1e-6:
            u = np.cross(d, [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u)
        w = np.cross(d, u)
        a = np.linspace(0, 2 * math.pi, sides, endpoint=False)
        verts.append(p + radius * (np.cos(a)[:, None] * u + np.sin(a)[:, None] * w))
    v = np.concatenate(verts + [path[:1], path[-1:]])
    k = np.arange(sides)
    nxt = (k + 1) % sides
    for i in range(n - 1):
        a, b = i * sides, (i + 1) * sides
        tris += [np.column_stack([a + k, b + k, b + nxt]), np.column_stack([a + k, b + nxt,
                                                                             a + nxt])]
    s0, s1 = len(v) - 2, len(v) - 1
    tris += [np.column_stack([np.full(sides, s0), nxt, k]),
             np.column_stack([np.full(sides, s1), (n - 1) * sides + k,
                              (n - 1) * sides + nxt])]
    return v, np.concatenate(tris).astype(np.int64)


def _join(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    verts, tris, n = [], [], 0
    for v, t in parts:
        verts.append(v)
        tris.append(t + n)
        n += len(v)
    return np.concatenate(verts), np.concatenate(tris)


def household_mesh(kind: str, scale: float = 1.0, rng: np.random.Generator | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) and triangles (M, 3) of a ``kind`` of ``HOUSEHOLD`` at ``scale`` times
    its nominal size; with ``rng``, proportions vary too (each side by up to 15 %)."""
    if kind not in HOUSEHOLD:
        raise SpatialRosError(f"unknown household object {kind!r}; known: "
                              f"{', '.join(HOUSEHOLD)}")
    if not (0.1 <= scale <= 10.0):
        raise SpatialRosError(f"household object scale must lie in [0.1, 10], got {scale}")
    w, d, h = (np.array(HOUSEHOLD[kind][1]) * scale
               * (rng.uniform(0.85, 1.15, 3) if rng is not None else 1.0))
    r = w / 2
    t = max(0.004 * scale, 0.08 * r)  # wall thickness
    if kind == "can":
        return lathe([(0, 0), (r, 0), (r, h), (0, h)])
    if kind == "bottle":
        neck = 0.35 * r
        return lathe([(0, 0), (r, 0), (r, 0.6 * h), (0.8 * r, 0.72 * h), (neck, 0.82 * h),
                      (neck, h), (0, h)])
    if kind == "cup":  # tapered, open
        foot = 0.75 * r
        return lathe([(0, 0), (foot, 0), (r, h), (r - t, h), (foot - t, t), (0, t)])
    if kind == "bowl":
        outer = [(r * math.sin(a), h * (1 - math.cos(a))) for a in np.linspace(0.35, 1.45, 6)]
        inner = [(max(x - t, 0.0), max(z, t)) for x, z in outer[::-1]]
        return lathe([(0, 0)] + outer + [(r, h)] + inner + [(0, t)])
    if kind == "mug":
        body = lathe([(0, 0), (r, 0), (r, h), (r - t, h), (r - t, t), (0, t)])
        a = np.linspace(-0.5 * math.pi, 0.5 * math.pi, 12)
        reach, mid = 0.45 * h, 0.5 * h
        path = np.column_stack([r - t / 2 + reach * np.cos(a), np.zeros_like(a),
                                mid + 0.6 * reach * np.sin(a)])
        return _join(body, _tube(path, 0.09 * h))
    if kind == "marker":  # a cylinder lying along x
        v, tri = lathe([(0, 0), (d / 2, 0), (d / 2, 0.8 * w), (d / 4, w), (0, w)])
        v = v[:, [2, 1, 0]] - [w / 2, 0, -d / 2]
        return v, tri[:, ::-1]  # swapping x and z mirrors: turn the triangles back outward
    # cereal box, toy block
    return box_mesh(w, d, h)


def write_mesh(path: str | pathlib.Path, vertices: np.ndarray, triangles: np.ndarray
               ) -> pathlib.Path:
    """Save a mesh by its suffix: .obj, .ply, .stl (Open3D) or .dae (trimesh)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".dae":
        import trimesh

        tri = vertices[triangles]
        face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area-weighted
        normals = np.zeros_like(vertices)
        for k in range(3):
            np.add.at(normals, triangles[:, k], face)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        # given normals: trimesh would otherwise compute them with scipy, or complain without
        text = trimesh.Trimesh(vertices, triangles, vertex_normals=normals,
                               process=False).export(file_type="dae").decode()
        # the same mesh, the same file: COLLADA's asset dates are the writing time
        text = re.sub(r"<(created|modified)>[^<]*</\1>", r"<\1>2000-01-01T00:00:00</\1>", text)
        ids: dict[str, str] = {}  # and its element ids random UUIDs: number them in order
        text = re.sub(r"\b[0-9a-f]{32}\b", lambda m: ids.setdefault(m.group(0), f"id{len(ids)}"),
                      text)
        path.write_text(text)
        return path
    if suffix not in (".obj", ".ply", ".stl"):
        raise SpatialRosError(f"{path}: write .obj, .ply, .stl or .dae")
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                     o3d.utility.Vector3iVector(triangles))
    if suffix == ".stl":
        mesh.compute_triangle_normals()  # STL stores one normal per triangle
    if not o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=suffix != ".stl"):
        raise SpatialRosError(f"{path}: could not be written")
    return path
