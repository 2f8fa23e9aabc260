"""Headless rendering of SDF worlds with Open3D raycasting: RGB, metric depth, instance mask.

Intrinsics match Gazebo's camera (fx = fy = width / (2 tan(hfov / 2)), principal point at the
image centre) and images follow the optical-frame convention (x right, y down, z forward).
Shading is Lambertian with one directional light and an ambient term (the world's ``light``
and ``ambient``, coloured by ``light_color`` and ``ambient_color``); a visual's ``texture``
adds colour noise per triangle.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import open3d as o3d

from spatial_ros.geometry import CameraIntrinsics, Pose
from spatial_ros.sim.sdf import SimCamera, Visual, World

__all__ = ["RenderedFrame", "Renderer", "visual_mesh"]

BACKGROUND = np.array([0.78, 0.80, 0.84])


@dataclass
class RenderedFrame:
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres along the optical axis, NaN where nothing is hit
    mask: np.ndarray  # (H, W) uint8 instance label of the hit model, 0 = no labelled object
    intrinsics: CameraIntrinsics
    camera_pose: Pose  # world pose of the optical frame
    #: (H, W) int16 index into the world's models of the hit model, -1 = nothing hit
    model: np.ndarray | None = None


def visual_mesh(visual: Visual) -> o3d.geometry.TriangleMesh:
    """A triangle mesh of a visual in world coordinates."""
    sx, sy, sz = visual.size
    if visual.geometry == "box":
        mesh = o3d.geometry.TriangleMesh.create_box(sx, sy, sz)
        mesh.translate((-sx / 2, -sy / 2, -sz / 2))
    elif visual.geometry == "cylinder":
        mesh = o3d.geometry.TriangleMesh.create_cylinder(radius=sx / 2, height=sz,
                                                         resolution=40, split=1)
    elif visual.geometry == "sphere":
        mesh = o3d.geometry.TriangleMesh.create_sphere(radius=sx / 2, resolution=24)
    elif visual.geometry == "mesh":
        mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(visual.mesh.vertices),
                                         o3d.utility.Vector3iVector(visual.mesh.triangles))
    elif visual.geometry == "plane":
        mesh = o3d.geometry.TriangleMesh.create_box(sx, sy, 1e-4)
        mesh.translate((-sx / 2, -sy / 2, -1e-4))
    else:  # the SDF loader admits only the five above
        raise ValueError(f"unknown geometry {visual.geometry!r}")
    mesh.transform(visual.pose.matrix)
    return mesh


class Renderer:
    """Renders one world from a camera; the scene is built once, poses can change per frame.

    Shading is constant per triangle (one directional light), so every triangle's shaded colour
    is computed once here and a frame is one raycast plus one gather.
    """

    def __init__(self, world: World, camera: SimCamera | None = None) -> None:
        self.world = world
        self.camera = camera or world.camera()
        self.intrinsics = self.camera.intrinsics
        self._scene = o3d.t.geometry.RaycastingScene()
        tables, labels, owners, offsets, n = [], [], [], [], 0
        light = np.asarray(world.light, float) / np.linalg.norm(world.light)
        key = np.asarray(world.light_color, float)
        fill = np.asarray(world.ambient_color, float)
        for m_index, model in enumerate(world.models):
            for visual in model.visuals:
                legacy = visual_mesh(visual).compute_triangle_normals()
                self._scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(legacy))
                normals = np.asarray(legacy.triangle_normals)
                shade = np.abs(normals @ light)[:, None] * (1 - world.ambient) * key \
                    + world.ambient * fill
                colour = visual.color[None, :] * shade
                if visual.texture > 0:  # the same noise for the same visual, every run
                    rng = np.random.default_rng(zlib.crc32(f"{model.name}/{visual.name}"
                                                           .encode()))
                    colour = colour * (1 + visual.texture * rng.standard_normal(
                        (len(normals), 1)))
                tables.append(np.clip(colour, 0, 1))
                labels.append(np.full(len(normals), model.label or 0, np.uint8))
                owners.append(np.full(len(normals), m_index, np.int16))
                offsets.append(n)
                n += len(normals)
        # Last entry: the background, for rays that hit nothing within the clip range.
        rgb_table = np.concatenate(tables + [np.clip(BACKGROUND * fill, 0, 1)[None, :]])
        self._rgb_table = (rgb_table * 255 + 0.5).astype(np.uint8)
        self._label_table = np.concatenate(labels + [np.zeros(1, np.uint8)])
        self._model_table = np.concatenate(owners + [np.full(1, -1, np.int16)])
        self._offsets = np.array(offsets, dtype=np.int64)
        self._background = n
        self._dirs = self.intrinsics.ray_directions()
        self._rays = np.empty((len(self._dirs), 6), np.float32)
        self._rays_pose: np.ndarray | None = None

    def _rays_for(self, pose: Pose) -> o3d.core.Tensor:
        m = pose.matrix
        if self._rays_pose is None or not np.array_equal(m, self._rays_pose):
            self._rays[:, :3] = pose.translation.astype(np.float32)
            self._rays[:, 3:] = self._dirs @ pose.rotation.T.astype(np.float32)
            self._rays_pose = m
        return o3d.core.Tensor.from_numpy(self._rays)

    def render(self, camera_pose: Pose | None = None) -> RenderedFrame:
        """Render from ``camera_pose`` (world pose of the optical frame; default: the SDF's)."""
        pose = camera_pose or self.camera.optical_pose
        intr = self.intrinsics
        hit = self._scene.cast_rays(self._rays_for(pose), nthreads=0)
        t = hit["t_hit"].numpy()
        gid = hit["geometry_ids"].numpy()
        prim = hit["primitive_ids"].numpy()
        miss = ~((t >= self.camera.near) & (t <= self.camera.far))  # inf and NaN included
        index = np.where(miss, self._background,
                         self._offsets[np.minimum(gid, len(self._offsets) - 1)] + prim)
        depth = np.where(miss, np.float32(np.nan), t)
        h, w = intr.height, intr.width
        return RenderedFrame(rgb=self._rgb_table[index].reshape(h, w, 3),
                             depth=depth.reshape(h, w),
                             mask=self._label_table[index].reshape(h, w),
                             intrinsics=intr, camera_pose=pose,
                             model=self._model_table[index].reshape(h, w))
