"""Exact ground truth of a simulated frame: object boxes from the SDF geometry and the relations
that the project's single predicate definitions (spatial_ros.relations) give for them."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import open3d as o3d

from spatial_ros.colors import color_name
from spatial_ros.geometry import Pose
from spatial_ros.relations import Body, RelationConfig, compute_relations
from spatial_ros.scene import OrientedBox, SceneGraph, SceneObject
from spatial_ros.sim.render import Renderer, visual_mesh
from spatial_ros.sim.sdf import SimModel, World
from spatial_ros.vocabulary import Frame

__all__ = ["object_box", "object_shape", "occlusion_fractions", "ground_truth"]


def object_box(model: SimModel) -> OrientedBox:
    """Exact box of a model: its visual's oriented box, or the world AABB of several visuals."""
    if len(model.visuals) == 1:
        v = model.visuals[0]
        return OrientedBox(center=v.center, size=v.size, rotation=v.pose.rotation)
    corners = np.concatenate([OrientedBox(v.center, v.size, v.pose.rotation).corners()
                              for v in model.visuals])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    return OrientedBox(center=(lo + hi) / 2, size=hi - lo)


def object_shape(model: SimModel) -> str:
    """box / cylinder / sphere for single-primitive models; for a mesh, the model's name as
    words ("cereal_box_2" -> "cereal box"); else the last word of the model name."""
    name = model.name.split("::")[-1]
    if len(model.visuals) == 1 and model.visuals[0].geometry == "mesh":
        return " ".join(w for w in name.split("_") if not w.isdigit()) or "object"
    if len(model.visuals) == 1 and model.visuals[0].geometry != "plane":
        return model.visuals[0].geometry
    return model.name.split("::")[-1].split("_")[-1]


def occlusion_fractions(world: World, renderer: Renderer, camera_pose: Pose, *,
                        stride: int = 4) -> dict[tuple[int, int], float]:
    """Share of each object's silhouette that each other object hides, {(a, b): fraction}.

    Casts every ``stride``-th pixel's ray through all surfaces; a hides b on a ray when a's first
    hit comes before b's.
    """
    scene = o3d.t.geometry.RaycastingScene()
    labels = []
    for model in world.objects:
        for visual in model.visuals:
            scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(visual_mesh(visual)))
            labels.append(model.label)
    labels = np.array(labels)
    dirs = renderer.intrinsics.ray_directions(stride) @ camera_pose.rotation.T
    rays = np.concatenate([np.broadcast_to(camera_pose.translation, dirs.shape), dirs], 1)
    out = scene.list_intersections(o3d.core.Tensor(rays.astype(np.float32)))
    ray_ids = out["ray_ids"].numpy()
    lab = labels[out["geometry_ids"].numpy()]
    t = out["t_hit"].numpy()
    order = np.lexsort((t, ray_ids))
    ray_ids, lab = ray_ids[order], lab[order]
    seen: dict[int, int] = {}
    hidden: dict[tuple[int, int], int] = {}
    start = 0
    for end in np.flatnonzero(np.diff(ray_ids, append=-1)) + 1:
        first: list[int] = []
        for label in lab[start:end]:
            if label not in first:
                first.append(int(label))
        for i, b in enumerate(first):
            seen[b] = seen.get(b, 0) + 1
            for a in first[:i]:
                hidden[(a, b)] = hidden.get((a, b), 0) + 1
        start = end
    return {(a, b): n / seen[b] for (a, b), n in hidden.items()}


def ground_truth(world: World, renderer: Renderer, camera_pose: Pose | None = None, *,
                 config: RelationConfig | None = None, stamp: float = 0.0,
                 frames: tuple[Frame, ...] = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC),
                 ) -> SceneGraph:
    """Objects with exact boxes (world frame) and every relation that holds (margin > 0).

    A relation's confidence is the graded sigmoid of its margin, so it is above 0.5 exactly when
    the relation holds.
    """
    config = config or RelationConfig()
    pose = camera_pose or renderer.camera.optical_pose
    objects, bodies = [], []
    for model in world.objects:
        box = object_box(model)
        color = np.mean([v.color for v in model.visuals], axis=0)
        objects.append(SceneObject(id=model.label, centroid=box.center, box=box,
                                   label=object_shape(model), color=color_name(color),
                                   confidence=1.0, last_seen=stamp))
        bodies.append(Body.from_box(model.label, box, pose))
    occ = occlusion_fractions(world, renderer, pose)
    # Truth is margin > 0, i.e. confidence above sigmoid(0) = 0.5, whatever the caller's cut-off.
    rels = compute_relations(bodies, replace(config, min_confidence=0.5), frames=frames,
                             occlusion=occ)
    return SceneGraph(objects=objects, relations=rels, stamp=stamp, frame_id="world")
