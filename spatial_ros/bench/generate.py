"""`spatial-ros bench generate`: random controlled SpatialBench scenes.

On-disk format, one folder per scene under ``OUT/<split>/scene_NNNNNN/``:

    world.sdf   the scene as an SDF world (loads in Gazebo and in spatial_ros.sim)
    rgb.png     colour, 8-bit RGB
    depth.png   depth of the chosen sensor preset, 16-bit millimetres, 0 = no reading
    mask.png    instance ids, 8-bit, 0 = background (ids match the objects' "id")
    scene.json  intrinsics, camera pose (world pose of the optical frame, 4x4 row-major),
                objects (id, colour, shape, box centre / size / rotation), relations that hold
                (subject, predicate, object, frame, confidence) and questions (level, text,
                answer, kind, object ids) about the objects in view (covering at least
                0.05 % of the image; a camera cannot answer for what it does not see)

``OUT/<split>/index.jsonl`` lists the scenes. Splits are disjoint by seed: scene i of a split
uses the seed sequence (split, seed, i). ``shift`` uses colours, a shape and camera heights that
the other splits never use. ``household`` places household meshes (spatial_ros.sim.household:
mug, bowl, bottle, can, cereal box, cup, toy block, marker) of every colour, with domain
randomisation: their size and proportions, texture noise, unlabelled distractors, the table's
height, size and colour, the light, and the camera's distance, height, pitch and roll; its
meshes are written beside ``world.sdf`` (``meshes/``). ``household_train`` and ``household_val``
are other scenes of the same kind, for training. ``hard`` (with its own ``hard_train`` and
``hard_val``) makes depth order disagree with the 2D cues that give it away on a table seen from
above: objects stand on unlabelled pedestals and on each other (the higher object in the image
is often the nearer one), sizes span 3.5-22 cm (a near small object beside a far large one), the
camera is low, rolled up to 40 degrees and aimed off the table's centre. ``room`` (with
``room_train`` and ``room_val``) puts the objects where real ones are (issue 30's held-out
frames): a small table with legs on a visible floor against one or two walls, chairs, a desk and
a cabinet beyond it, objects touching each other, stacked and touching the wall; a shelf bin
with a back panel, books and boxes, seen from the front; a tote with its walls, seen from above
at an angle; cameras from frontal to top-down. Only the things on a support or in the
container are objects (labelled); the floor, walls, furniture, shelf and tote are structure.
``bin`` (with ``bin_train`` and ``bin_val``) is the picking tote of a warehouse cell (issue 31's
held-out tote, reproduced here, never copied): a tote of any colour whose walls lean out by up
to 20 degrees, sometimes with a rim, on the floor or a table, packed with 5-14 objects that
touch and rest on one another (flat packages, cylinders lying on their side, balls, household
meshes; about a fifth of them black, which the RealSense presets leave without depth), the camera
above it looking down at any roll. The same arguments give the same bytes.
"""
from __future__ import annotations

import json
import math
import pathlib
import time

import cv2
import numpy as np

from spatial_ros.colors import PALETTE
from spatial_ros.errors import BenchError
from spatial_ros.geometry import Pose
from spatial_ros.relations import RelationConfig, viewer_relation
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.sim.household import HOUSEHOLD, household_mesh, write_mesh
from spatial_ros.sim.meshes import MeshData
from spatial_ros.sim.paths import look_at
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sdf import OPTICAL_FROM_BODY, SimCamera, SimModel, Visual, World
from spatial_ros.sim.sdf_writer import world_to_sdf
from spatial_ros.sim.sensors import apply_sensor, get_sensor
from spatial_ros.vocabulary import Frame

__all__ = ["SPLITS", "UNLABELLED_THINGS", "generate_scene", "generate"]

SPLITS = {"train": 0, "val": 1, "test": 2, "shift": 3, "household": 4, "hard": 5,
          "hard_train": 6, "hard_val": 7, "household_train": 8, "household_val": 9,
          "room": 10, "room_train": 11, "room_val": 12, "bin": 13, "bin_train": 14,
          "bin_val": 15}
HARD_SPLITS = ("hard", "hard_train", "hard_val")
HOUSEHOLD_SPLITS = ("household", "household_train", "household_val")
ROOM_SPLITS = ("room", "room_train", "room_val")
BIN_SPLITS = ("bin", "bin_train", "bin_val")
#: name prefixes of the things the scenes put on a support without a label, in no question:
#: household's grey distractors, hard's grey pedestals. To a class-agnostic segmentation they
#: are objects all the same: bench relations leaves detections on them out of its precision
UNLABELLED_THINGS = ("distractor_", "pedestal_")
TRAIN_COLORS = ["red", "green", "blue", "yellow", "orange", "purple", "grey"]
SHIFT_COLORS = ["cyan", "pink", "brown", "white"]
TRAIN_SHAPES = ["box", "cylinder", "sphere"]
SHIFT_SHAPES = ["box", "cylinder", "sphere", "bar"]
TABLE_TOP = 0.75
PHRASES = {"left_of": "left of", "right_of": "right of", "above": "above", "below": "below",
           "in_front_of": "in front of", "behind": "behind", "near": "near",
           "far_from": "far from", "on_top_of": "on top of", "under": "under",
           "inside": "inside", "contains": "containing", "occludes": "hiding",
           "larger_than": "larger than", "smaller_than": "smaller than"}
EGO = ["left_of", "right_of", "in_front_of", "behind", "above", "below"]


def _visual(name: str, shape: str, size: np.ndarray, pos: np.ndarray, yaw: float,
            color: str) -> Visual:
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    geometry = "box" if shape == "bar" else shape
    return Visual(name="visual", model=name, geometry=geometry, size=size,
                  pose=Pose(rotation=rot, translation=pos), color=np.array(PALETTE[color]))


def _sample_size(shape: str, rng: np.random.Generator) -> np.ndarray:
    s = rng.uniform(0.05, 0.16)
    if shape == "box":
        return np.array([s, s * rng.uniform(0.7, 1.3), s * rng.uniform(0.6, 1.4)])
    if shape == "cylinder":
        return np.array([s * 0.7, s * 0.7, s * rng.uniform(1.0, 2.0)])
    if shape == "sphere":
        return np.array([s, s, s])
    return np.array([s * 3.0, s * 0.5, s * 0.5])  # bar


def _rot(axis: int, angle: float) -> np.ndarray:
    """Rotation by ``angle`` about world axis ``axis`` (0 = x, 1 = y, 2 = z)."""
    c, s = math.cos(angle), math.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def _yaw(angle: float) -> np.ndarray:
    return _rot(2, angle)


def _rolled(pose: Pose, roll: float) -> Pose:
    """The camera pose (optical frame) turned by ``roll`` about its optical axis."""
    return Pose(rotation=pose.rotation @ _yaw(roll), translation=pose.translation)


def _camera(pose: Pose, width: int, height: int) -> SimCamera:
    """The scene camera whose optical frame is at ``pose``."""
    return SimCamera(name="camera", sensor_type="rgbd_camera",
                     pose=Pose(rotation=pose.rotation @ OPTICAL_FROM_BODY.T,
                               translation=pose.translation),
                     width=width, height=height, hfov=1.1, near=0.1, far=10.0,
                     update_rate=30.0, topic="camera")


def _free_spot(rng: np.random.Generator, half: np.ndarray, radius: float,
               placed: list[tuple[np.ndarray, float]]) -> np.ndarray | None:
    """A point of the table (half sizes ``half``) ``radius`` clear of the placed footprints."""
    for _ in range(60):
        xy = rng.uniform(-half + radius, half - radius)
        if all(np.linalg.norm(xy - c) > radius + r for c, r in placed):
            return xy
    return None


def _household_scene(rng: np.random.Generator, name: str, width: int, height: int
                     ) -> tuple[World, Pose]:
    """A table of household meshes, domain-randomised (module docstring)."""
    top = float(rng.uniform(0.6, 0.9))
    half = rng.uniform([0.45, 0.35], [0.7, 0.55])
    table_rgb = np.clip(rng.uniform(0.15, 0.85) * np.array([1.0, 1.0, 1.0])
                        + rng.normal(0, 0.08, 3), 0.05, 0.95)
    table = SimModel(name="table", pose=Pose(), static=True, visuals=[Visual(
        name="top", model="table", geometry="box", size=np.array([2 * half[0], 2 * half[1], 0.04]),
        pose=Pose(translation=np.array([0, 0, top - 0.02])), color=table_rgb,
        texture=float(rng.uniform(0.0, 0.08)))])
    models: list[SimModel] = [table]
    colours = TRAIN_COLORS + SHIFT_COLORS
    combos = [(c, k) for c in colours for k in HOUSEHOLD]
    n = int(rng.integers(3, 9))
    placed: list[tuple[np.ndarray, float]] = []
    flat_tops: list[tuple[np.ndarray, float, float]] = []  # (xy, top z, footprint radius)
    label = 0
    for ci in rng.permutation(len(combos))[:n]:
        colour, kind = combos[ci]
        v, t = household_mesh(kind, scale=float(rng.uniform(0.8, 1.25)), rng=rng)
        radius = float(np.linalg.norm((v.max(0) - v.min(0))[:2]) / 2)
        z = top
        xy = None
        small = kind in ("toy block", "can", "cup") and flat_tops and rng.random() < 0.2
        if small:  # stacked on a flat top wide enough to hold it
            base_xy, base_z, base_r = flat_tops[int(rng.integers(len(flat_tops)))]
            if base_r > radius:
                xy, z = base_xy, base_z
        if xy is None:
            xy = _free_spot(rng, half, radius, placed)
            if xy is None:
                continue
            placed.append((xy, radius))
        label += 1
        model = f"{kind.replace(' ', '_')}_{label}"
        pose = Pose(rotation=_yaw(float(rng.uniform(0, 2 * math.pi))),
                    translation=np.array([xy[0], xy[1], z]))
        mesh = MeshData(path=pathlib.Path("meshes") / f"{model}.obj", vertices=v, triangles=t)
        models.append(SimModel(name=model, pose=pose, static=False, label=label, visuals=[
            Visual(name="visual", model=model, geometry="mesh", size=mesh.extent,
                   pose=pose, color=np.array(PALETTE[colour]), mesh=mesh,
                   texture=float(rng.uniform(0.0, 0.12)))]))
        if kind in ("can", "cereal box", "toy block"):
            flat_tops.append((xy, z + float(v[:, 2].max()), radius * 0.8))
    for k in range(int(rng.integers(0, 3))):  # distractors: no label, in no question
        size = rng.uniform(0.03, 0.08, 3)
        xy = _free_spot(rng, half, float(np.linalg.norm(size[:2]) / 2), placed)
        if xy is None:
            continue
        placed.append((xy, float(np.linalg.norm(size[:2]) / 2)))
        pos = np.array([xy[0], xy[1], top + size[2] / 2])
        grey = np.full(3, rng.uniform(0.2, 0.8))
        models.append(SimModel(name=f"distractor_{k}", pose=Pose(translation=pos), static=False,
                               visuals=[Visual(name="visual", model=f"distractor_{k}",
                                               geometry=str(rng.choice(["box", "cylinder"])),
                                               size=size, pose=Pose(rotation=_yaw(
                                                   float(rng.uniform(0, math.pi))),
                                                   translation=pos), color=grey)]))
    az = rng.uniform(-math.pi, math.pi)
    dist = rng.uniform(0.7, 1.4)
    eye = np.array([dist * math.cos(az), dist * math.sin(az), top + rng.uniform(0.3, 0.8)])
    pose = look_at(eye, np.array([0, 0, top + 0.05]) + rng.normal(0, 0.08, 3))
    roll = float(rng.uniform(-0.25, 0.25))  # about the optical axis
    pose = _rolled(pose, roll)
    elevation, light_az = rng.uniform(0.7, 1.5), rng.uniform(-math.pi, math.pi)
    light = (math.cos(elevation) * math.cos(light_az), math.cos(elevation) * math.sin(light_az),
             math.sin(elevation))
    return World(name=name, path=pathlib.Path("generated"), models=models,
                 cameras=[_camera(pose, width, height)], light=light,
                 ambient=float(rng.uniform(0.3, 0.6))), pose


def _slab(model: str, name: str, size, centre, colour, texture: float = 0.0,
          yaw: float = 0.0) -> Visual:
    """A box visual (structure: walls, boards, legs) of ``size`` at ``centre``."""
    return Visual(name=name, model=model, geometry="box", size=np.asarray(size, float),
                  pose=Pose(rotation=_yaw(yaw), translation=np.asarray(centre, float)),
                  color=np.clip(np.asarray(colour, float), 0.0, 1.0), texture=texture)


def _pale(rng: np.random.Generator) -> np.ndarray:
    """A wall's or furniture's colour: pale and greyish, sometimes tinted."""
    return np.clip(rng.uniform(0.55, 0.95) + rng.normal(0, 0.05, 3), 0.3, 0.97)


class _Objects:
    """Labelled objects of a room scene: household meshes and primitives of palette colours."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.models, self.label = rng, [], 0
        colours = TRAIN_COLORS + SHIFT_COLORS
        self.kinds = [(c, k) for c in colours for k in list(HOUSEHOLD) + TRAIN_SHAPES]
        self._order = iter(rng.permutation(len(self.kinds)))

    def next_kind(self) -> tuple[str, str]:
        return self.kinds[int(next(self._order))]

    def add(self, colour: str, kind: str, xy: np.ndarray, z: float, *, scale: float = 1.0,
            yaw: float | None = None) -> tuple[np.ndarray, float, float]:
        """Place one object standing at ``xy`` on the surface at height ``z``; returns its
        footprint centre, radius and top height."""
        rng = self.rng
        yaw = float(rng.uniform(0, 2 * math.pi)) if yaw is None else yaw
        self.label += 1
        if kind in HOUSEHOLD:
            v, t = household_mesh(kind, scale=scale * float(rng.uniform(0.85, 1.2)), rng=rng)
            model = f"{kind.replace(' ', '_')}_{self.label}"
            pose = Pose(rotation=_yaw(yaw), translation=np.array([xy[0], xy[1], z]))
            mesh = MeshData(path=pathlib.Path("meshes") / f"{model}.obj", vertices=v,
                            triangles=t)
            visual = Visual(name="visual", model=model, geometry="mesh", size=mesh.extent,
                            pose=pose, color=np.array(PALETTE[colour]), mesh=mesh,
                            texture=float(rng.uniform(0.0, 0.12)))
            radius = float(np.linalg.norm((v.max(0) - v.min(0))[:2]) / 2)
            top = z + float(v[:, 2].max())
        else:
            size = _sample_size(kind, rng) * scale
            model = f"{colour}_{kind}_{self.label}"
            pos = np.array([xy[0], xy[1], z + size[2] / 2])
            visual = _visual(model, kind, size, pos, yaw if kind == "box" else 0.0, colour)
            visual.model = model
            radius = float(np.linalg.norm(size[:2]) / 2)
            top = z + float(size[2])
            pose = Pose(translation=pos)
        self.models.append(SimModel(name=model, pose=pose, static=False, label=self.label,
                                    visuals=[visual]))
        return np.asarray(xy, float), radius, top


def _structured_world(rng: np.random.Generator, name: str, structure: list[Visual],
                      objects: _Objects, pose: Pose, width: int, height: int,
                      min_elevation: float) -> tuple[World, Pose]:
    """The World of a room or bin scene: the structure's visuals as one static model per
    name, the labelled objects, a light from ``min_elevation``-1.5 rad above the horizon."""
    groups: dict[str, list[Visual]] = {}
    for v in structure:
        groups.setdefault(v.model, []).append(v)
    models = [SimModel(name=m, pose=Pose(), static=True, visuals=vs) for m, vs in groups.items()]
    elevation, light_az = rng.uniform(min_elevation, 1.5), rng.uniform(-math.pi, math.pi)
    light = (math.cos(elevation) * math.cos(light_az), math.cos(elevation) * math.sin(light_az),
             math.sin(elevation))
    return World(name=name, path=pathlib.Path("generated"), models=models + objects.models,
                 cameras=[_camera(pose, width, height)], light=light,
                 ambient=float(rng.uniform(0.3, 0.6))), pose


def _room_scene(rng: np.random.Generator, name: str, width: int, height: int
                ) -> tuple[World, Pose]:
    """A table against walls, a shelf bin or a tote, with the room around it (docstring)."""
    kind = str(rng.choice(["table", "table", "shelf", "tote"]))
    floor = np.clip(rng.uniform(0.2, 0.7) * np.array([1.0, 0.9, 0.8]) + rng.normal(0, 0.05, 3),
                    0.05, 0.95)
    structure = [_slab("floor", "floor", [8.0, 8.0, 0.02], [0, 0, -0.01], floor,
                       float(rng.uniform(0.0, 0.15)))]
    objects = _Objects(rng)
    wall = _pale(rng)
    if kind == "table":
        top = float(rng.uniform(0.5, 0.85))
        half = rng.uniform([0.25, 0.2], [0.6, 0.45])
        wood = np.clip(rng.uniform(0.15, 0.8) * np.array([1.0, 0.8, 0.6]) + rng.normal(0, .05, 3),
                       0.05, 0.95)
        structure.append(_slab("table", "top", [2 * half[0], 2 * half[1], 0.03],
                               [0, 0, top - 0.015], wood, float(rng.uniform(0, 0.08))))
        for sx in (-1, 1):
            for sy in (-1, 1):
                structure.append(_slab("table", f"leg{sx}{sy}", [0.04, 0.04, top - 0.03],
                                       [sx * (half[0] - 0.04), sy * (half[1] - 0.04),
                                        (top - 0.03) / 2], wood))
        gap = float(rng.choice([0.0, rng.uniform(0.0, 0.5)]))  # the wall touches the table
        structure.append(_slab("wall", "back", [0.05, 5.0, 2.5],
                               [half[0] + gap + 0.025, 0, 1.25], wall))
        az = rng.uniform(-1.0, 1.0) + math.pi  # the camera on the room's side, walls beyond
        if rng.random() < 0.6:  # a side wall, on the side away from the camera
            side = -1.0 if math.sin(az) > 0 else 1.0
            structure.append(_slab("wall", "side", [5.0, 0.05, 2.5],
                                   [half[0] + gap - 2.5, side * (half[1] + rng.uniform(0, 0.6)),
                                    1.25], _pale(rng)))
        for k in range(int(rng.integers(1, 4))):  # furniture beyond: chairs, a desk, a cabinet
            size = rng.uniform([0.4, 0.4, 0.45], [1.0, 0.9, 1.2])
            y = float(rng.uniform(-2.2, 2.2))
            x = float(rng.uniform(-2.5, half[0] + gap - size[0] / 2))
            if abs(y) < half[1] + size[1] / 2 + 0.2 and x > -half[0] - size[0] / 2 - 0.5:
                x = -half[0] - size[0] / 2 - float(rng.uniform(1.0, 2.0))  # clear of the table
            structure.append(_slab("furniture", f"piece{k}", size, [x, y, size[2] / 2],
                                   _pale(rng) * rng.uniform(0.4, 1.0)))
        placed: list[tuple[np.ndarray, float]] = []
        flat: list[tuple[np.ndarray, float, float]] = []
        for _ in range(int(rng.integers(3, 8))):
            colour, what = objects.next_kind()
            if flat and rng.random() < 0.15 and what in ("can", "cup", "toy block", "box"):
                xy, r, z = flat[int(rng.integers(len(flat)))]  # stacked
                objects.add(colour, what, xy, z, scale=0.7)
                continue
            r = 0.06
            if placed and rng.random() < 0.4:  # touching the last one
                c, rc = placed[-1]
                a = rng.uniform(0, 2 * math.pi)
                xy = c + (rc + r) * np.array([math.cos(a), math.sin(a)])
            elif rng.random() < 0.3:  # against the wall side of the table
                xy = np.array([half[0] - r, rng.uniform(-half[1] + r, half[1] - r)])
            else:
                xy = _free_spot(rng, half, r, placed)
            if xy is None or np.any(np.abs(xy) > half - 0.03):
                continue
            c, rc, ztop = objects.add(colour, what, xy, top)
            placed.append((c, rc))
            if what in ("can", "cereal box", "toy block", "box"):
                flat.append((c, rc, ztop))
        target = np.array([0.0, 0.0, top + 0.05])
        dist, cam_z = rng.uniform(0.5, 1.3), top + rng.uniform(0.15, 0.9)
        if rng.random() < 0.2:  # near top-down
            dist, cam_z = rng.uniform(0.15, 0.35), top + rng.uniform(0.7, 1.0)
    elif kind == "shelf":
        board = float(rng.uniform(0.3, 1.1))  # the bin's floor
        bin_h, depth, bin_w = rng.uniform(0.3, 0.45), rng.uniform(0.3, 0.45), rng.uniform(0.5, 0.9)
        wood = _pale(rng) * rng.uniform(0.5, 1.0)
        structure += [
            _slab("shelf", "floor", [depth, bin_w, 0.025], [depth / 2, 0, board - 0.0125], wood),
            _slab("shelf", "roof", [depth, bin_w, 0.025], [depth / 2, 0, board + bin_h], wood),
            _slab("shelf", "back", [0.02, bin_w, bin_h + 0.05], [depth + 0.01, 0,
                                                                  board + bin_h / 2], wood),
            _slab("shelf", "left", [depth, 0.02, bin_h], [depth / 2, bin_w / 2, board + bin_h / 2],
                  wood),
            _slab("shelf", "right", [depth, 0.02, bin_h], [depth / 2, -bin_w / 2,
                                                           board + bin_h / 2], wood),
            _slab("wall", "back", [0.05, 5.0, 2.5], [depth + 0.05, 0, 1.25], wall)]
        y = -bin_w / 2 + 0.05
        while y < bin_w / 2 - 0.06:
            colour = str(rng.choice(TRAIN_COLORS + SHIFT_COLORS))
            if rng.random() < 0.5:  # a book standing (a thin box)
                size = np.array([rng.uniform(0.15, 0.25), rng.uniform(0.02, 0.05),
                                 min(rng.uniform(0.18, 0.3), bin_h - 0.03)])
                objects.label += 1
                model = f"{colour}_box_{objects.label}"
                pos = np.array([depth - size[0] / 2 - 0.02, y + size[1] / 2, board + size[2] / 2])
                objects.models.append(SimModel(name=model, pose=Pose(translation=pos),
                                               static=False, label=objects.label, visuals=[
                                                   _visual(model, "box", size, pos, 0.0, colour)]))
                y += size[1] + rng.uniform(0.0, 0.08)
            else:
                c2, what = objects.next_kind()
                _c, r, _t = objects.add(c2, what, np.array([rng.uniform(0.08, depth - 0.08),
                                                            y + 0.06]), board)
                y += 2 * r + rng.uniform(0.0, 0.08)
        target = np.array([depth / 2, 0.0, board + bin_h * 0.35])
        dist, cam_z = rng.uniform(0.35, 0.9), board + rng.uniform(0.05, bin_h + 0.15)
        az = rng.uniform(-0.4, 0.4) + math.pi
    else:  # tote
        base = float(rng.choice([0.0, rng.uniform(0.5, 0.8)]))  # on the floor or a table
        if base > 0:
            structure.append(_slab("table", "top", [1.0, 0.8, 0.03], [0, 0, base - 0.015],
                                   _pale(rng) * 0.7))
        tw, td, th = rng.uniform(0.4, 0.6), rng.uniform(0.3, 0.42), rng.uniform(0.12, 0.25)
        tote = np.array(PALETTE[str(rng.choice(["red", "blue", "grey", "green", "orange"]))])
        structure += [
            _slab("tote", "bottom", [tw, td, 0.015], [0, 0, base + 0.0075], tote),
            _slab("tote", "wall_a", [tw, 0.015, th], [0, td / 2, base + th / 2], tote),
            _slab("tote", "wall_b", [tw, 0.015, th], [0, -td / 2, base + th / 2], tote),
            _slab("tote", "wall_c", [0.015, td, th], [tw / 2, 0, base + th / 2], tote),
            _slab("tote", "wall_d", [0.015, td, th], [-tw / 2, 0, base + th / 2], tote)]
        placed = []
        inner = np.array([tw / 2 - 0.02, td / 2 - 0.02])
        for _ in range(int(rng.integers(3, 7))):
            colour, what = objects.next_kind()
            xy = _free_spot(rng, inner, 0.05, placed) if rng.random() < 0.6 else (
                placed[-1][0] + np.array([0.09, 0.0]) if placed else None)
            if xy is None or np.any(np.abs(xy) > inner - 0.03):
                continue
            c, r, _t = objects.add(colour, what, xy, base + 0.015, scale=0.9)
            placed.append((c, r))
        target = np.array([0.0, 0.0, base + 0.05])
        dist, cam_z = rng.uniform(0.1, 0.5), base + rng.uniform(0.55, 0.95)
        az = rng.uniform(-math.pi, math.pi)
    eye = target + np.array([dist * math.cos(az), dist * math.sin(az), 0.0])
    eye[2] = cam_z
    pose = look_at(eye, target + rng.normal(0, 0.03, 3))
    roll = float(rng.uniform(-0.15, 0.15))
    pose = _rolled(pose, roll)
    return _structured_world(rng, name, structure, objects, pose, width, height, 0.7)


def _bin_scene(rng: np.random.Generator, name: str, width: int, height: int
               ) -> tuple[World, Pose]:
    """A picking tote packed with objects, seen from above (module docstring)."""
    floor = np.clip(rng.uniform(0.15, 0.7) + rng.normal(0, 0.06, 3), 0.05, 0.95)
    structure = [_slab("floor", "floor", [8.0, 8.0, 0.02], [0, 0, -0.01], floor,
                       float(rng.uniform(0.0, 0.15)))]
    base = float(rng.choice([0.0, rng.uniform(0.4, 0.8)]))  # on the floor or a table
    if base > 0:
        structure.append(_slab("table", "top", rng.uniform([0.8, 0.7, 0.03], [1.4, 1.0, 0.03]),
                               [0, 0, base - 0.015], _pale(rng) * rng.uniform(0.5, 1.0)))
    tw, td, th = rng.uniform(0.35, 0.6), rng.uniform(0.25, 0.42), rng.uniform(0.12, 0.3)
    slope = float(rng.uniform(0.0, 0.35))  # walls leaning out by up to 20 degrees
    tote = np.clip(rng.uniform(0.05, 0.95, 3) if rng.random() < 0.5 else
                   np.array(PALETTE[str(rng.choice(["red", "blue", "grey", "green", "orange",
                                                    "black", "yellow"]))]), 0.03, 0.97)
    out, slant = th * math.tan(slope) / 2, th / math.cos(slope)
    lx, ly = tw + 4 * out, td + 4 * out  # the walls' length: the corners stay closed
    structure.append(_slab("tote", "bottom", [tw, td, 0.015], [0, 0, base + 0.0075], tote))
    for wall, size, centre, rot in (
            ("wall_a", [lx, 0.015, slant], [0, td / 2 + out, base + th / 2], _rot(0, -slope)),
            ("wall_b", [lx, 0.015, slant], [0, -td / 2 - out, base + th / 2], _rot(0, slope)),
            ("wall_c", [0.015, ly, slant], [tw / 2 + out, 0, base + th / 2], _rot(1, slope)),
            ("wall_d", [0.015, ly, slant], [-tw / 2 - out, 0, base + th / 2], _rot(1, -slope))):
        structure.append(Visual(name=wall, model="tote", geometry="box", size=np.array(size),
                                pose=Pose(rotation=rot, translation=np.array(centre, float)),
                                color=tote, texture=float(rng.uniform(0.0, 0.1))))
    if rng.random() < 0.5:  # a rim around the top
        r = th * math.tan(slope)
        for k, (sx, sy, cx, cy) in enumerate(((tw + 2 * r + 0.08, 0.04, 0, td / 2 + r + 0.02),
                                              (tw + 2 * r + 0.08, 0.04, 0, -td / 2 - r - 0.02),
                                              (0.04, td + 2 * r, tw / 2 + r + 0.02, 0),
                                              (0.04, td + 2 * r, -tw / 2 - r - 0.02, 0))):
            structure.append(_slab("tote", f"rim{k}", [sx, sy, 0.012],
                                   [cx, cy, base + th - 0.006], tote))
    objects = _Objects(rng)
    colours = TRAIN_COLORS + SHIFT_COLORS + ["black"]
    #: (colour, shape word) of the objects so far: one object each, so that every question's
    #: name picks one object
    named: set[tuple[str, str]] = set()
    inner = np.array([tw / 2, td / 2])
    #: (xy, footprint radius, top) of what is in the tote: later objects rest on earlier ones
    piled: list[tuple[np.ndarray, float, float]] = []
    for _ in range(int(rng.integers(5, 15))):
        form = str(rng.choice(["package", "package", "lying", "household", "ball"]))
        size = {"package": rng.uniform([0.07, 0.05, 0.015], [0.26, 0.16, 0.08]),
                "lying": np.array([1, 1, 0]) * rng.uniform(0.04, 0.09) + np.array(
                    [0, 0, rng.uniform(0.1, 0.24)]),
                "ball": np.full(3, rng.uniform(0.04, 0.1)),
                "household": np.full(3, 0.1)}[form]
        radius = float(np.linalg.norm(size[:2] if form != "lying" else size[1:]) / 2)
        xy = rng.uniform(-inner + radius * 0.6, inner - radius * 0.6)
        under = [t for c, r, t in piled if np.linalg.norm(c - xy) < (r + radius) * 0.55]
        z = max(under, default=base + 0.015)
        if z + 0.02 > base + th + 0.05:  # the pile stays about in the tote
            continue
        if form == "household":
            colour, kind = objects.next_kind()
            while kind not in HOUSEHOLD or (colour, kind) in named:
                colour, kind = objects.next_kind()
            named.add((colour, kind))
            _c, radius, top = objects.add(colour, kind, xy, z, scale=0.8)
            piled.append((xy, radius, top))
            continue
        word = {"package": "box", "lying": "cylinder", "ball": "sphere"}[form]
        free = [c for c in colours + ["black"] * 2 if (c, word) not in named]  # black: 1 in 5
        colour = str(rng.choice(free))
        named.add((colour, word))
        objects.label += 1
        model = f"{colour}_{form}_{objects.label}"
        yaw = _yaw(float(rng.uniform(0, 2 * math.pi)))
        if form == "lying":  # a cylinder on its side: its axis along the yawed x
            rot, geometry, tall = yaw @ _rot(1, math.pi / 2), "cylinder", size[0]
        else:
            rot, geometry, tall = yaw, "box" if form == "package" else "sphere", size[2]
        tilt = _rot(0, float(rng.normal(0, 0.08))) if under else np.eye(3)  # resting askew
        pos = np.array([xy[0], xy[1], z + tall / 2])
        objects.models.append(SimModel(
            name=model, pose=Pose(translation=pos), static=False, label=objects.label,
            visuals=[Visual(name="visual", model=model, geometry=geometry, size=size,
                            pose=Pose(rotation=tilt @ rot, translation=pos),
                            color=np.array(PALETTE[colour]),
                            texture=float(rng.uniform(0.0, 0.12)))]))
        piled.append((xy, radius, z + tall))
    target = np.array([*rng.normal(0, 0.03, 2), base + 0.05])
    eye = target + np.array([*rng.normal(0, 0.12, 2), th + rng.uniform(0.3, 0.75)])
    pose = look_at(eye, target)
    pose = _rolled(pose, float(rng.uniform(-math.pi, math.pi)))  # any roll
    return _structured_world(rng, name, structure, objects, pose, width, height, 0.9)


def _hard_scene(rng: np.random.Generator, name: str, width: int, height: int
                ) -> tuple[World, Pose]:
    """Primitives at several heights, seen so that image height and size mislead (docstring)."""
    top = float(rng.uniform(0.65, 0.85))
    half = rng.uniform([0.5, 0.4], [0.7, 0.55])
    wood = np.clip(np.array([0.62, 0.45, 0.3]) * rng.uniform(0.6, 1.3) + rng.normal(0, 0.05, 3),
                   0.05, 0.95)
    models: list[SimModel] = [SimModel(name="table", pose=Pose(), static=True, visuals=[Visual(
        name="top", model="table", geometry="box", size=np.array([2 * half[0], 2 * half[1], 0.04]),
        pose=Pose(translation=np.array([0, 0, top - 0.02])), color=wood)])]
    placed: list[tuple[np.ndarray, float]] = []
    # supports: (xy, top z, half footprint) of pedestals and of flat-topped objects
    supports: list[tuple[np.ndarray, float, float]] = []
    for k in range(int(rng.integers(1, 4))):  # unlabelled pedestals: in no question
        foot = rng.uniform(0.04, 0.08)
        tall = float(rng.uniform(0.06, 0.3))
        xy = _free_spot(rng, half, foot * 1.42, placed)
        if xy is None:
            continue
        placed.append((xy, foot * 1.42))
        pos = np.array([xy[0], xy[1], top + tall / 2])
        grey = np.full(3, rng.uniform(0.25, 0.75))
        models.append(SimModel(name=f"pedestal_{k}", pose=Pose(translation=pos), static=True,
                               visuals=[Visual(name="visual", model=f"pedestal_{k}",
                                               geometry="box",
                                               size=np.array([2 * foot, 2 * foot, tall]),
                                               pose=Pose(translation=pos), color=grey)]))
        supports.append((xy, top + tall, foot))
    n = int(rng.integers(4, 10))
    combos = [(c, s) for c in TRAIN_COLORS for s in TRAIN_SHAPES]
    label = 0
    for ci in rng.permutation(len(combos))[:n]:
        color, shape = combos[ci]
        s = float(np.exp(rng.uniform(math.log(0.035), math.log(0.22))))
        size = {"box": np.array([s, s * rng.uniform(0.7, 1.3), s * rng.uniform(0.6, 1.4)]),
                "cylinder": np.array([s * 0.7, s * 0.7, s * rng.uniform(0.8, 1.8)]),
                "sphere": np.array([s, s, s])}[shape]
        foot = float(np.linalg.norm(size[:2]) / 2)
        usable = [sp for sp in supports if sp[2] >= foot * 0.6]
        if usable and rng.random() < 0.55:  # on a pedestal or on another object
            xy, z, _ = usable[int(rng.integers(len(usable)))]
            supports = [sp for sp in supports if sp[0] is not xy]  # one object per support
        else:
            xy = _free_spot(rng, half, foot, placed)
            if xy is None:
                continue
            placed.append((xy, foot))
            z = top
        label += 1
        pos = np.array([xy[0], xy[1], z + size[2] / 2])
        yaw = float(rng.uniform(0, math.pi)) if shape == "box" else 0.0
        model = f"{color}_{shape}"
        models.append(SimModel(name=model, pose=Pose(translation=pos), static=False, label=label,
                               visuals=[_visual(model, shape, size, pos, yaw, color)]))
        if shape != "sphere":
            supports.append((np.array(xy, float), z + size[2], foot * 0.8))
    az = rng.uniform(-math.pi, math.pi)
    dist = rng.uniform(0.85, 1.5)
    eye = np.array([dist * math.cos(az), dist * math.sin(az), top + rng.uniform(0.1, 0.6)])
    aim = np.array([*rng.uniform(-0.3, 0.3, 2), top + rng.uniform(0.0, 0.2)])
    pose = look_at(eye, aim)
    roll = float(rng.uniform(-0.7, 0.7))  # about the optical axis
    pose = _rolled(pose, roll)
    return World(name=name, path=pathlib.Path("generated"), models=models,
                 cameras=[_camera(pose, width, height)]), pose


def generate_scene(split: str, seed: int, index: int, *, width: int = 320,
                   height: int = 240) -> tuple[World, Pose]:
    """A random scene (as a World) and the camera's optical pose."""
    rng = np.random.default_rng([SPLITS[split], seed, index])
    if split in HOUSEHOLD_SPLITS:
        return _household_scene(rng, f"spatialbench_{split}_{seed}_{index}", width, height)
    if split in HARD_SPLITS:
        return _hard_scene(rng, f"spatialbench_{split}_{seed}_{index}", width, height)
    if split in ROOM_SPLITS:
        return _room_scene(rng, f"spatialbench_{split}_{seed}_{index}", width, height)
    if split in BIN_SPLITS:
        return _bin_scene(rng, f"spatialbench_{split}_{seed}_{index}", width, height)
    shift = split == "shift"
    colors, shapes = (SHIFT_COLORS, SHIFT_SHAPES) if shift else (TRAIN_COLORS, TRAIN_SHAPES)
    n = int(rng.integers(2, 11))
    combos = [(c, s) for c in colors for s in shapes]
    # a bar is a box to its name ("the brown box"): one name per scene, so that every question's
    # reference picks exactly one object (without this, 1 shift question in 5 had two answers)
    order, names = [], set()
    for ci in rng.permutation(len(combos)):
        c, s = combos[ci]
        spoken = (c, "box" if s == "bar" else s)
        if spoken not in names and len(order) < n:
            order.append(ci)
            names.add(spoken)
    table = SimModel(name="table", pose=Pose(), static=True, visuals=[Visual(
        name="top", model="table", geometry="box", size=np.array([1.2, 1.0, 0.04]),
        pose=Pose(translation=np.array([0, 0, TABLE_TOP - 0.02])),
        color=np.array([0.62, 0.45, 0.3]))])
    models: list[SimModel] = [table]
    placed: list[tuple[np.ndarray, np.ndarray]] = []  # (centre, size) of objects on the table
    for k, ci in enumerate(order):
        color, shape = combos[ci]
        name = f"{color}_{shape}"
        size = _sample_size(shape, rng)
        yaw = float(rng.uniform(0, math.pi)) if shape in ("box", "bar") else 0.0
        stack = placed and rng.random() < 0.2 and shape != "sphere"
        if stack:  # on top of an earlier object (stacking)
            base_c, base_s = placed[int(rng.integers(len(placed)))]
            pos = np.array([base_c[0], base_c[1], base_c[2] + base_s[2] / 2 + size[2] / 2])
        else:
            for _ in range(50):
                xy = rng.uniform([-0.45, -0.4], [0.45, 0.4])
                if all(np.linalg.norm(xy - c[:2]) > (np.max(s[:2]) + np.max(size[:2])) * 0.75
                       for c, s in placed):
                    break
            pos = np.array([xy[0], xy[1], TABLE_TOP + size[2] / 2])
        models.append(SimModel(name=name, pose=Pose(translation=pos), static=False,
                               visuals=[_visual(name, shape, size, pos, yaw, color)],
                               label=k + 1))
        placed.append((pos, size))
    lo_h, hi_h = (0.9, 1.3) if shift else (0.35, 0.75)
    az = rng.uniform(-math.pi, math.pi)
    dist = rng.uniform(0.9, 1.5)
    eye = np.array([dist * math.cos(az), dist * math.sin(az), TABLE_TOP + rng.uniform(lo_h, hi_h)])
    pose = look_at(eye, np.array([0, 0, TABLE_TOP + 0.05]) + rng.normal(0, 0.05, 3))
    return World(name=f"spatialbench_{split}_{seed}_{index}", path=pathlib.Path("generated"),
                 models=models, cameras=[_camera(pose, width, height)]), pose


#: an object is in view when it covers at least this share of the image's pixels
VISIBLE_SHARE = 0.0005


def visible_ids(mask: np.ndarray, share: float = VISIBLE_SHARE) -> list[int]:
    """Ids of the instance mask covering at least ``share`` of the image."""
    counts = np.bincount(mask.ravel(), minlength=256)
    return [int(i) for i in np.flatnonzero(counts >= share * mask.size) if i != 0]


def _questions(graph, rng: np.random.Generator, camera: Pose,
               visible: list[int] | None = None) -> list[dict]:
    """The scene's questions, about (and answered over) the objects in view only: a camera
    cannot answer for what it does not see."""
    objs = {o.id: o for o in graph.objects if visible is None or o.id in visible}
    name = {o.id: f"{o.color} {o.label}" for o in objs.values()}
    holds = {(r.subject, r.predicate, r.object, r.frame) for r in graph.relations
             if r.subject in objs and r.object in objs}
    ids = sorted(objs)
    qs: list[dict] = []
    if len(ids) < 2:
        return qs

    def true(a, p, b, frame=Frame.EGOCENTRIC):
        f = frame if p in EGO else (Frame.EGOCENTRIC if p == "occludes" else Frame.ALLOCENTRIC)
        return (a, p, b, f) in holds

    def ask(level, text, answer, kind, refs):
        qs.append({"level": level, "question": text, "answer": answer, "kind": kind,
                   "object_ids": [int(i) for i in refs]})

    preds = list(PHRASES)
    facts = sorted((r.subject, r.predicate, r.object) for r in graph.relations
                   if r.subject in objs and r.object in objs
                   and r.predicate != "occludes" and (r.predicate not in EGO
                                                    or r.frame == Frame.EGOCENTRIC))
    for k in range(4):  # L1: yes/no, half of them true facts so that "no" is no free win
        if k % 2 == 0 and facts:
            a, p, b = facts[int(rng.integers(len(facts)))]
        else:
            a, b = rng.choice(ids, 2, replace=False)
            p = str(rng.choice(preds))
        ask(1, f"is the {name[a]} {PHRASES[p]} the {name[b]}?", "yes" if true(a, p, b) else "no",
            "yes_no", [a, b])
    for _ in range(3):  # L2: which object
        b = int(rng.choice(ids))
        p = str(rng.choice(preds))
        ans = sorted(name[a] for a in ids if a != b and true(a, p, b))
        ask(2, f"what is {PHRASES[p]} the {name[b]}?", ", ".join(ans) or "nothing", "which", [b])
    a, b = rng.choice(ids, 2, replace=False)  # L3: metric
    d = float(np.linalg.norm(objs[a].centroid - objs[b].centroid))
    ask(3, f"how far is the {name[a]} from the {name[b]}?", f"{d:.2f}", "metric", [a, b])
    da, db = (float(np.linalg.norm(objs[i].centroid - camera.translation)) for i in (a, b))
    ask(3, f"which is closer to the camera, the {name[a]} or the {name[b]}?",
        name[a] if da < db else name[b], "which", [a, b])
    for hops in (2, 3):  # L4: multi-hop chains
        for _ in range(10):
            chain = [int(rng.choice(ids))]
            phrase = f"the {name[chain[0]]}"
            ok = True
            for _h in range(hops - 1):
                p = str(rng.choice(EGO))
                cands = [x for x in ids if x not in chain and true(x, p, chain[-1])]
                if len(cands) != 1:
                    ok = False
                    break
                chain.append(cands[0])
                phrase = f"the object {PHRASES[p]} {phrase}"
            if not ok:
                continue
            p = str(rng.choice(EGO))
            ans = sorted(name[x] for x in ids if x != chain[-1] and true(x, p, chain[-1]))
            ask(4, f"what is {PHRASES[p]} {phrase}?", ", ".join(ans) or "nothing",
                f"chain{hops}", chain)
            break
    a, b = rng.choice(ids, 2, replace=False)  # L5: frames of reference
    p = str(rng.choice(["left_of", "right_of", "in_front_of", "behind"]))
    ask(5, f"in the world frame, is the {name[a]} {PHRASES[p]} the {name[b]}?",
        "yes" if true(a, p, b, Frame.ALLOCENTRIC) else "no", "yes_no_world", [a, b])
    ask(5, f"from the camera, is the {name[a]} {PHRASES[p]} the {name[b]}?",
        "yes" if true(a, p, b, Frame.EGOCENTRIC) else "no", "yes_no_camera", [a, b])
    if len(ids) >= 3:  # L5: another object's point of view
        v, a, b = (int(x) for x in rng.choice(ids, 3, replace=False))
        p = str(rng.choice(["left_of", "right_of"]))
        holds_v = viewer_relation(objs[v], objs[a], objs[b], p)
        ask(5, f"standing at the {name[v]} and facing the {name[b]}, is the {name[a]} "
            f"{PHRASES[p]} the {name[b]}?", "yes" if holds_v else "no", "yes_no_viewer",
            [v, a, b])
    return qs


def _r(x, nd=5):
    return [round(float(v), nd) for v in np.asarray(x).ravel()]


def write_scene(folder: pathlib.Path, world: World, pose: Pose, sensor: str, seed: int,
                index: int, split: str) -> dict:
    renderer = Renderer(world)
    frame = renderer.render(pose)
    depth = apply_sensor(frame.depth, frame.rgb, sensor,
                         np.random.default_rng([SPLITS[split], seed, index, 7]))
    graph = ground_truth(world, renderer, pose, config=RelationConfig())
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "rgb.png"), frame.rgb[..., ::-1])
    mm = np.clip(np.nan_to_num(np.rint(depth * 1000), nan=0), 0, 65535).astype(np.uint16)
    cv2.imwrite(str(folder / "depth.png"), mm)
    cv2.imwrite(str(folder / "mask.png"), frame.mask)
    for model in world.models:  # generated meshes: beside the world, which names them
        for v in model.visuals:
            if v.mesh is not None and not v.mesh.path.is_absolute():
                write_mesh(folder / v.mesh.path, np.round(v.mesh.vertices, 6),
                           v.mesh.triangles)
    (folder / "world.sdf").write_text(world_to_sdf(world))
    intr = frame.intrinsics
    meta = {
        "split": split, "seed": seed, "index": index, "sensor": sensor,
        "intrinsics": {"width": intr.width, "height": intr.height, "fx": round(intr.fx, 6),
                       "fy": round(intr.fy, 6), "cx": intr.cx, "cy": intr.cy},
        "camera_pose": _r(pose.matrix, 6),
        "objects": [{"id": o.id, "color": o.color, "shape": o.label, "center": _r(o.box.center),
                     "size": _r(o.box.size), "rotation": _r(o.box.rotation)}
                    for o in graph.objects],
        "relations": [{"subject": r.subject, "predicate": r.predicate, "object": r.object,
                       "frame": r.frame.name.lower(), "confidence": round(r.confidence, 4)}
                      for r in graph.relations],
        "questions": _questions(graph, np.random.default_rng([SPLITS[split], seed, index, 9]),
                                pose, visible_ids(frame.mask)),
    }
    (folder / "scene.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return meta


def generate(*, split: str, n: int, seed: int, out: str | pathlib.Path, sensor: str = "ideal",
             width: int = 320, height: int = 240, progress: bool = True) -> dict:
    """Write ``n`` scenes of ``split``; return counts and timing."""
    if split not in SPLITS:
        raise BenchError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if n <= 0:
        raise BenchError(f"--n must be positive, got {n}")
    if width <= 0 or height <= 0:
        raise BenchError(f"image size must be positive, got {width}x{height}")
    get_sensor(sensor)
    from tqdm import tqdm

    root = pathlib.Path(out) / split
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows, questions = [], 0
    for i in tqdm(range(n), desc=f"SpatialBench {split}", unit="scene", disable=not progress):
        world, pose = generate_scene(split, seed, i, width=width, height=height)
        meta = write_scene(root / f"scene_{i:06d}", world, pose, sensor, seed, i, split)
        questions += len(meta["questions"])
        rows.append(json.dumps({"scene": f"scene_{i:06d}", "objects": len(meta["objects"]),
                                "questions": len(meta["questions"])}, sort_keys=True))
    (root / "index.jsonl").write_text("\n".join(rows) + "\n")
    elapsed = time.perf_counter() - t0
    disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"scenes": n, "questions": questions, "seconds": elapsed,
            "scenes_per_minute": 60 * n / elapsed, "bytes": disk}
