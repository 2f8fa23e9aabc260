"""Write a World back as SDF text (for generated SpatialBench scenes): loads in Gazebo and in
spatial_ros.sim.sdf.load_world."""
from __future__ import annotations

import math

import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.sim.meshes import MeshData
from spatial_ros.sim.sdf import World

__all__ = ["world_to_sdf", "pose_text"]


def pose_text(pose: Pose) -> str:
    r = pose.rotation
    pitch = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    roll = math.atan2(r[2, 1], r[2, 2])
    yaw = math.atan2(r[1, 0], r[0, 0])
    values = [*pose.translation, roll, pitch, yaw]
    return " ".join(f"{v:.6f}" for v in values)


def _geometry(kind: str, size: np.ndarray, mesh: MeshData | None = None) -> str:
    if mesh is not None:
        scale = " ".join(f"{v:g}" for v in mesh.scale)
        # a relative path stays relative: the loader reads it beside the world file
        return f"<mesh><uri>{mesh.path}</uri><scale>{scale}</scale></mesh>"
    if kind == "box":
        return f"<box><size>{size[0]:.6f} {size[1]:.6f} {size[2]:.6f}</size></box>"
    if kind == "cylinder":
        return (f"<cylinder><radius>{size[0] / 2:.6f}</radius><length>{size[2]:.6f}</length>"
                "</cylinder>")
    if kind == "sphere":
        return f"<sphere><radius>{size[0] / 2:.6f}</radius></sphere>"
    return f"<plane><normal>0 0 1</normal><size>{size[0]:.6f} {size[1]:.6f}</size></plane>"


def world_to_sdf(world: World) -> str:
    out = ['<?xml version="1.0"?>', '<sdf version="1.9">', f'  <world name="{world.name}">']
    a = f"{world.ambient:.4f}"
    out.append(f"    <scene><ambient>{a} {a} {a} 1</ambient></scene>")
    d = " ".join(f"{-v:.6f}" for v in np.asarray(world.light) / np.linalg.norm(world.light))
    out.append('    <light type="directional" name="sun"><cast_shadows>false</cast_shadows>'
               f"<diffuse>1 1 1 1</diffuse><direction>{d}</direction></light>")
    for model in world.models:
        out.append(f'    <model name="{model.name}">')
        out.append(f"      <static>{str(model.static).lower()}</static>")
        out.append('      <link name="link">')
        for i, v in enumerate(model.visuals):
            c = " ".join(f"{x:.4f}" for x in v.color)
            label = "" if model.label is None else (
                '<plugin filename="gz-sim-label-system" name="gz::sim::systems::Label">'
                f"<label>{model.label}</label></plugin>")
            out.append(f'        <visual name="{v.name}_{i}"><pose>{pose_text(v.pose)}</pose>'
                       f"<geometry>{_geometry(v.geometry, v.size, v.mesh)}</geometry>"
                       f"<material><diffuse>{c} 1</diffuse></material>{label}</visual>")
        out.append("      </link>")
        out.append("    </model>")
    for cam in world.cameras:
        out.append(f'    <model name="{cam.name}_mount"><static>true</static>'
                   f"<pose>{pose_text(cam.pose)}</pose>"
                   f'<link name="link"><sensor name="{cam.name}" type="{cam.sensor_type}">'
                   f"<camera><horizontal_fov>{cam.hfov:.6f}</horizontal_fov><image>"
                   f"<width>{cam.width}</width><height>{cam.height}</height></image>"
                   f"<clip><near>{cam.near}</near><far>{cam.far}</far></clip></camera>"
                   f"<update_rate>{cam.update_rate:g}</update_rate><topic>{cam.topic}</topic>"
                   "</sensor></link></model>")
    out += ["  </world>", "</sdf>", ""]
    return "\n".join(out)
