"""Triangle meshes for SDF ``<mesh>`` visuals: read, scaled and checked (ROS-free).

OBJ, STL and PLY are read by Open3D, DAE (COLLADA) by trimesh with pycollada. The mesh's own
materials and textures are not used: a visual's colour is its SDF material's diffuse, as for
the primitives. A file that is missing, unreadable or empty, whose surface is not manifold (an
edge shared by more than two triangles; open boundaries, a cup's rim, are fine), or whose
scale makes it larger than the world is an :class:`SdfError` naming the file.
"""
from __future__ import annotations

import functools
import pathlib
from dataclasses import dataclass

import numpy as np

from spatial_ros.errors import SdfError

__all__ = ["MeshData", "load_mesh", "MESH_FORMATS", "MAX_MESH_EXTENT"]

MESH_FORMATS = (".obj", ".stl", ".ply", ".dae")
#: no mesh may be larger than this (m) where the world has no ground plane to compare with: a
#: model drawn in millimetres and read as metres is 1000 times its size
MAX_MESH_EXTENT = 50.0


@dataclass(frozen=True)
class MeshData:
    """A mesh in its visual's frame, scaled: ``vertices`` (N, 3) metres, ``triangles`` (M, 3)."""

    path: pathlib.Path
    vertices: np.ndarray
    triangles: np.ndarray
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)  # applied to the file's vertices

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    @property
    def extent(self) -> np.ndarray:
        lo, hi = self.bounds
        return hi - lo


def load_mesh(path: str | pathlib.Path, scale=(1.0, 1.0, 1.0)) -> MeshData:
    """The mesh of ``path`` scaled by ``scale`` (per axis), checked (module docstring)."""
    path = pathlib.Path(path)
    scale = np.asarray(scale, float).reshape(-1)
    if scale.shape != (3,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise SdfError(f"{path}: mesh scale must be three positive numbers, got {scale.tolist()}")
    path_r = path.resolve()
    if not path_r.is_file():
        raise SdfError(f"{path}: mesh file not found")
    stat = path_r.stat()
    vertices, triangles = _read(path_r, stat.st_mtime_ns, stat.st_size)
    return MeshData(path=path, vertices=vertices * scale, triangles=triangles,
                    scale=tuple(float(v) for v in scale))


@functools.lru_cache(maxsize=64)
def _read(path: pathlib.Path, _mtime: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a mesh file, unscaled (cached by path, time and size: scenes
    reuse their meshes)."""
    suffix = path.suffix.lower()
    if suffix not in MESH_FORMATS:
        raise SdfError(f"{path}: unsupported mesh format {suffix or '(none)'!r}; supported: "
                       f"{', '.join(MESH_FORMATS)}")
    if size == 0:
        raise SdfError(f"{path}: mesh file is empty")
    if suffix == ".dae":
        vertices, triangles = _read_dae(path)
    else:
        import open3d as o3d

        mesh = o3d.io.read_triangle_mesh(str(path), print_progress=False)
        vertices = np.asarray(mesh.vertices, float)
        triangles = np.asarray(mesh.triangles, np.int64)
    if len(triangles) == 0 or len(vertices) < 3:
        raise SdfError(f"{path}: mesh has no triangles (empty or unreadable {suffix} file)")
    if not np.all(np.isfinite(vertices)):
        raise SdfError(f"{path}: mesh has vertices that are not finite numbers")
    if triangles.min() < 0 or triangles.max() >= len(vertices):
        raise SdfError(f"{path}: mesh triangles index vertices it does not have")
    shared = _overshared_edges(triangles)
    if shared:
        raise SdfError(f"{path}: mesh is not manifold: {shared} edges are shared by more than "
                       "two triangles")
    vertices.flags.writeable = False
    triangles.flags.writeable = False
    return vertices, triangles


def _read_dae(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        import trimesh
    except ImportError:  # pragma: no cover - a dependency of the package
        raise SdfError(f"{path}: DAE meshes need trimesh and pycollada (pip install trimesh "
                       "pycollada)") from None
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh and pycollada raise many kinds on malformed files
        raise SdfError(f"{path}: unreadable DAE mesh: {exc}") from None
    return np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64).reshape(-1, 3)


def _overshared_edges(triangles: np.ndarray) -> int:
    """How many undirected edges more than two triangles share (0 for a manifold surface)."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts > 2).sum())
