"""Load the SDF worlds that Gazebo runs, for the project's own headless renderer.

Supported: worlds with models, nested models, ``<include>`` of ``model://`` URIs, links, visuals
with box / cylinder / sphere / plane geometry and meshes (OBJ, STL, PLY, DAE, with ``<scale>``;
spatial_ros.sim.meshes: a relative URI is relative to the world file), poses (with
``relative_to`` and ``degrees``), material colours, the Gazebo label system plugin, and camera
sensors (``camera``, ``rgbd_camera``, ``depth_camera``, ``segmentation``) with pose, image size,
horizontal_fov and clip. Elements that do not affect images are ignored by the explicit lists
below; any other element is an :class:`SdfError` naming the element, the file and what is
supported.
"""
from __future__ import annotations

import math
import os
import pathlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.errors import SdfError
from spatial_ros.geometry import CameraIntrinsics, Pose
from spatial_ros.sim.meshes import MAX_MESH_EXTENT, MeshData, load_mesh

__all__ = ["Visual", "SimModel", "SimCamera", "World", "load_world", "euler_to_matrix",
           "OPTICAL_FROM_BODY"]

#: Rotation from a Gazebo sensor's body frame (x forward, y left, z up) to its optical frame
#: (x right, y down, z forward): columns are the optical axes in body coordinates.
OPTICAL_FROM_BODY = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

IGNORED = {
    "world": {"physics", "plugin", "light", "gravity", "magnetic_field", "atmosphere", "scene",
              "gui", "spherical_coordinates", "wind", "audio", "state"},
    "model": {"static", "self_collide", "allow_auto_disable", "plugin", "joint", "enable_wind",
              "gripper"},
    "link": {"inertial", "collision", "gravity", "kinematic", "must_be_base_link",
             "velocity_decay", "self_collide", "enable_wind", "light", "audio_source",
             "audio_sink", "battery", "projector", "particle_emitter"},
    "visual": {"cast_shadows", "transparency", "laser_retro", "visibility_flags", "meta",
               "plugin"},
    "material": {"ambient", "specular", "emissive", "pbr", "lighting", "double_sided",
                 "render_order", "shader"},
    "include": {"static", "plugin", "placement_frame"},
}
CAMERA_SENSORS = {"camera", "rgbd_camera", "depthcamera", "depth_camera", "segmentation",
                  "rgbd"}
GEOMETRIES = ("box", "cylinder", "sphere", "plane", "mesh")


def euler_to_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """SDF's fixed-axis roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch),
                              math.cos(yaw), math.sin(yaw))
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


@dataclass
class Visual:
    """One visual in world coordinates."""

    name: str
    model: str
    geometry: str  # box | cylinder | sphere | plane | mesh
    #: box: size; cylinder: (2r, 2r, length); sphere: (2r,)*3; plane: (sx, sy, 0); mesh: the
    #: extent of its vertices in the visual's frame
    size: np.ndarray
    pose: Pose
    color: np.ndarray  # rgb in [0, 1]
    mesh: MeshData | None = None  # the scaled mesh, in the visual's frame (geometry "mesh")
    #: colour noise: each triangle's colour times 1 + this x a standard normal (0 = flat; a
    #: simulator's domain randomisation, no SDF element)
    texture: float = 0.0

    @property
    def center(self) -> np.ndarray:
        """World centre of the visual's box (a mesh's vertices need not centre on its origin)."""
        if self.mesh is None:
            return self.pose.translation
        lo, hi = self.mesh.bounds
        return self.pose.rotation @ ((lo + hi) / 2) + self.pose.translation


@dataclass
class SimModel:
    name: str
    pose: Pose
    static: bool
    visuals: list[Visual] = field(default_factory=list)
    label: int | None = None


@dataclass
class SimCamera:
    name: str
    sensor_type: str
    pose: Pose  # world pose of the sensor body frame (x forward, y left, z up)
    width: int
    height: int
    hfov: float
    near: float
    far: float
    update_rate: float
    topic: str

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics.from_hfov(width=self.width, height=self.height, hfov=self.hfov)

    @property
    def optical_pose(self) -> Pose:
        """World pose of the optical frame (x right, y down, z forward)."""
        return Pose(rotation=self.pose.rotation @ OPTICAL_FROM_BODY,
                    translation=self.pose.translation)


@dataclass
class World:
    name: str
    path: pathlib.Path
    models: list[SimModel]
    cameras: list[SimCamera]
    #: the headless renderer's light: direction towards it (world) and the ambient share
    light: tuple[float, float, float] = (0.3, 0.2, 0.93)
    ambient: float = 0.45
    #: the colours (RGB gains) of the light and of the ambient share: white by default; a
    #: tungsten lamp is orange, skylight in the shade blue (the colour study's illuminants)
    light_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient_color: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def camera(self, name: str | None = None) -> SimCamera:
        """The camera called ``name`` (the first colour-capable camera when None)."""
        for cam in self.cameras:
            if name is None or cam.name == name:
                return cam
        names = ", ".join(c.name for c in self.cameras) or "none"
        raise SdfError(f"{self.path}: no camera sensor named {name!r} (cameras: {names})")

    @property
    def objects(self) -> list[SimModel]:
        """Models carrying a label (the objects of the scene graph)."""
        return [m for m in self.models if m.label is not None]


class _Loader:
    def __init__(self, path: pathlib.Path, search: list[pathlib.Path]) -> None:
        self.path = path
        self.search = search

    def fail(self, element: str, problem: str) -> SdfError:
        return SdfError(f"{self.path}: <{element}>: {problem}")

    def floats(self, el: ET.Element, n: int | None, what: str) -> list[float]:
        text = (el.text or "").split()
        try:
            values = [float(v) for v in text]
        except ValueError:
            raise self.fail(el.tag, f"{what}: expected numbers, got {el.text!r}") from None
        if n is not None and len(values) != n:
            raise self.fail(el.tag, f"{what}: expected {n} numbers, got {el.text!r}")
        if not all(math.isfinite(v) for v in values):
            raise self.fail(el.tag, f"{what}: values must be finite, got {el.text!r}")
        return values

    def number(self, parent: ET.Element, tag: str, default: float | None, what: str) -> float:
        el = parent.find(tag)
        if el is None:
            if default is None:
                raise self.fail(parent.tag, f"missing <{tag}> ({what})")
            return default
        return self.floats(el, 1, what)[0]

    def raw_pose(self, el: ET.Element) -> tuple[Pose, str | None]:
        pose_el = el.find("pose")
        if pose_el is None or not (pose_el.text or "").strip():
            return Pose(), (pose_el.get("relative_to") if pose_el is not None else None)
        fmt = pose_el.get("rotation_format", "euler_rpy")
        if fmt == "quat_xyzw":
            x, y, z, qx, qy, qz, qw = self.floats(pose_el, 7, "pose x y z qx qy qz qw")
            from spatial_ros.geometry import quat_to_matrix

            rot = quat_to_matrix((qx, qy, qz, qw))
        else:
            x, y, z, r, p, yw = self.floats(pose_el, 6, "pose x y z roll pitch yaw")
            if pose_el.get("degrees", "false").lower() == "true":
                r, p, yw = (math.radians(v) for v in (r, p, yw))
            rot = euler_to_matrix(r, p, yw)
        return Pose(rotation=rot, translation=np.array([x, y, z])), pose_el.get("relative_to")

    def placement(self, el: ET.Element, model: ET.Element) -> tuple[Pose, str | None]:
        """Pose of a model or include: an include's own <pose> replaces the model's."""
        if el.tag == "include" and el.find("pose") is not None:
            return self.raw_pose(el)
        return self.raw_pose(model)

    def check_children(self, el: ET.Element, kind: str, handled: set[str]) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if child.tag not in handled and child.tag not in IGNORED.get(kind, set()):
                raise self.fail(child.tag, f"unsupported element inside <{kind} "
                                f"name={el.get('name')!r}>; supported: "
                                f"{', '.join(sorted(handled | IGNORED.get(kind, set())))}")

    def resolve_frames(self, entries: dict[str, tuple[Pose, str | None]], parent: Pose,
                       scope: str) -> dict[str, Pose]:
        """World poses of sibling frames, following relative_to within one scope."""
        out: dict[str, Pose] = {}

        def world_of(name: str, stack: tuple[str, ...]) -> Pose:
            if name in out:
                return out[name]
            if name in stack:
                raise self.fail("pose", f"relative_to cycle in {scope}: {' -> '.join(stack)}")
            local, rel = entries[name]
            if rel in (None, "", "__model__") or (rel == "world" and scope == "world"):
                base = parent
            elif rel == "world":
                base = Pose()
            elif rel in entries:
                base = world_of(rel, (*stack, name))
            else:
                raise self.fail("pose", f"relative_to={rel!r} of {name!r} names no frame in "
                                f"{scope} (frames: {', '.join(entries)})")
            out[name] = base @ local
            return out[name]

        for name in entries:
            world_of(name, ())
        return out

    def label_of(self, el: ET.Element) -> int | None:
        for plugin in el.findall("plugin"):
            if "label" in (plugin.get("filename", "") + plugin.get("name", "")).lower():
                lab = plugin.find("label")
                if lab is None:
                    raise self.fail("plugin", "label system plugin without <label>")
                value = self.floats(lab, 1, "label")[0]
                if value != int(value) or not (1 <= value <= 255):
                    raise self.fail("label", f"label must be an integer in 1..255, got {value}")
                return int(value)
        return None

    def color(self, visual: ET.Element) -> np.ndarray:
        mat = visual.find("material")
        if mat is None:
            return np.array([0.7, 0.7, 0.7])
        self.check_children(mat, "material", {"diffuse", "script"})
        if mat.find("script") is not None:
            raise self.fail("script", "material scripts are not rendered headless; give the "
                            "colour as <diffuse>r g b a</diffuse>")
        diffuse = mat.find("diffuse")
        if diffuse is None:
            amb = mat.find("ambient")
            return np.array(self.floats(amb, 4, "ambient")[:3]) if amb is not None \
                else np.array([0.7, 0.7, 0.7])
        rgba = self.floats(diffuse, None, "diffuse r g b [a]")
        if len(rgba) not in (3, 4):
            raise self.fail("diffuse", f"expected 'r g b a', got {diffuse.text!r}")
        return np.clip(np.array(rgba[:3]), 0.0, 1.0)

    def geometry(self, visual: ET.Element) -> tuple[str, np.ndarray, MeshData | None]:
        geo = visual.find("geometry")
        if geo is None or len(geo) == 0:
            raise self.fail("visual", f"visual {visual.get('name')!r} has no <geometry>")
        shape = geo[0]
        if shape.tag == "mesh":
            self.check_children(shape, "mesh", {"uri", "scale"})
            uri = (self.need(shape, "uri").text or "").strip()
            if not uri:
                raise self.fail("uri", "empty mesh <uri>")
            scale_el = shape.find("scale")
            scale = self.floats(scale_el, 3, "mesh scale") if scale_el is not None \
                else [1.0, 1.0, 1.0]
            mesh = load_mesh(self.resolve_uri(uri, "mesh"), scale)
            return "mesh", mesh.extent, mesh
        if shape.tag == "box":
            size = self.floats(self.need(shape, "size"), 3, "box size")
        elif shape.tag == "cylinder":
            r = self.number(shape, "radius", None, "cylinder radius")
            length = self.number(shape, "length", None, "cylinder length")
            size = [2 * r, 2 * r, length]
        elif shape.tag == "sphere":
            r = self.number(shape, "radius", None, "sphere radius")
            size = [2 * r] * 3
        elif shape.tag == "plane":
            normal = self.floats(self.need(shape, "normal"), 3, "plane normal") \
                if shape.find("normal") is not None else [0.0, 0.0, 1.0]
            if not np.allclose(normal, [0, 0, 1]):
                raise self.fail("normal", f"only planes with normal 0 0 1 are supported, got "
                                f"{normal}")
            sx, sy = self.floats(self.need(shape, "size"), 2, "plane size")
            size = [sx, sy, 0.0]
        else:
            raise self.fail(shape.tag, f"unsupported geometry in visual "
                            f"{visual.get('name')!r}; supported: {', '.join(GEOMETRIES)}")
        if any(v < 0 for v in size) or (shape.tag != "plane" and any(v <= 0 for v in size)):
            raise self.fail(shape.tag, f"sizes must be positive, got {size}")
        return shape.tag, np.array(size, dtype=float), None

    def need(self, el: ET.Element, tag: str) -> ET.Element:
        child = el.find(tag)
        if child is None:
            raise self.fail(el.tag, f"missing <{tag}>")
        return child

    def resolve_uri(self, uri: str, what: str) -> pathlib.Path:
        if uri.startswith("model://"):
            rest = uri[len("model://"):]
            for base in self.search:
                cand = base / rest
                if cand.is_dir():
                    cand = cand / "model.sdf"
                if cand.is_file():
                    return cand
            raise self.fail("uri", f"{what} {uri!r} not found in the model search path "
                            f"({', '.join(str(b) for b in self.search)}; add folders with "
                            "GZ_SIM_RESOURCE_PATH)")
        path = pathlib.Path(uri[len("file://"):] if uri.startswith("file://") else uri)
        if not path.is_absolute():
            path = self.path.parent / path
        if path.is_dir():
            path = path / "model.sdf"
        if not path.is_file():
            raise self.fail("uri", f"{what} file {uri!r} not found ({path})")
        return path

    def camera(self, sensor: ET.Element, pose: Pose, model: str) -> SimCamera:
        cam = sensor.find("camera")
        name = sensor.get("name") or "camera"
        if cam is None:
            raise self.fail("sensor", f"camera sensor {name!r} in model {model!r} has no "
                            "<camera>")
        image = self.need(cam, "image")
        width = self.number(image, "width", None, "image width in pixels")
        height = self.number(image, "height", None, "image height in pixels")
        if width <= 0 or height <= 0 or width != int(width) or height != int(height):
            raise self.fail("image", f"camera {name!r}: width and height must be positive "
                            f"integers, got width={width:g} height={height:g}")
        hfov = self.number(cam, "horizontal_fov", 1.047, "horizontal field of view (rad)")
        if not (0.0 < hfov < math.pi):
            raise self.fail("horizontal_fov", f"camera {name!r}: horizontal_fov must lie in "
                            f"(0, pi) rad, got {hfov:g}")
        clip = cam.find("clip")
        near = self.number(clip, "near", 0.1, "near clip") if clip is not None else 0.1
        far = self.number(clip, "far", 100.0, "far clip") if clip is not None else 100.0
        if not (0 < near < far):
            raise self.fail("clip", f"camera {name!r}: need 0 < near < far, got near={near:g} "
                            f"far={far:g}")
        rate = self.number(sensor, "update_rate", 30.0, "update rate (Hz)")
        topic = (sensor.findtext("topic") or name).strip()
        return SimCamera(name=name, sensor_type=sensor.get("type", ""), pose=pose,
                         width=int(width), height=int(height), hfov=hfov, near=near, far=far,
                         update_rate=rate, topic=topic)

    def model(self, el: ET.Element, world_pose: Pose, models: list[SimModel],
              cameras: list[SimCamera], prefix: str = "") -> None:
        name = prefix + (el.get("name") or "")
        if not el.get("name"):
            raise self.fail("model", "model without a name attribute")
        self.check_children(el, "model", {"pose", "link", "model", "include", "frame"})
        static = (el.findtext("static") or "false").strip().lower() in ("true", "1")
        model = SimModel(name=name, pose=world_pose, static=static, label=self.label_of(el))
        entries: dict[str, tuple[Pose, str | None]] = {}
        kinds: dict[str, ET.Element] = {}
        for child in el:
            if child.tag in ("link", "model", "frame", "include"):
                child_el = self.include(child) if child.tag == "include" else child
                cname = child_el.get("name") or ""
                entries[cname] = self.placement(child, child_el)
                if child.tag == "frame":
                    entries[cname] = (entries[cname][0], child.get("attached_to") or
                                      entries[cname][1])
                kinds[cname] = child_el
        poses = self.resolve_frames(entries, world_pose, f"model {name!r}")
        models.append(model)
        for cname, child in kinds.items():
            if child.tag == "link":
                self.link(child, poses[cname], model, cameras)
            elif child.tag == "model":
                self.model(child, poses[cname], models, cameras, prefix=f"{name}::")
                nested = models[-1]
                if nested.label is None and model.label is not None:
                    nested.label = model.label

    def include(self, inc: ET.Element) -> ET.Element:
        self.check_children(inc, "include", {"uri", "name", "pose"})
        uri = (inc.findtext("uri") or "").strip()
        if not uri:
            raise self.fail("include", "missing <uri>")
        path = self.resolve_uri(uri, "model")
        sub = _parse(path)
        model = sub.find("model")
        if model is None:
            raise SdfError(f"{path}: expected a <model> in the included file ({uri})")
        if inc.findtext("name"):
            model.set("name", inc.findtext("name").strip())
        return model

    def link(self, el: ET.Element, link_pose: Pose, model: SimModel,
             cameras: list[SimCamera]) -> None:
        self.check_children(el, "link", {"pose", "visual", "sensor"})
        for vis in el.findall("visual"):
            self.check_children(vis, "visual", {"pose", "geometry", "material"})
            local, _ = self.raw_pose(vis)
            kind, size, mesh = self.geometry(vis)
            model.visuals.append(Visual(name=vis.get("name") or "visual", model=model.name,
                                        geometry=kind, size=size, pose=link_pose @ local,
                                        color=self.color(vis), mesh=mesh))
            label = self.label_of(vis)
            if label is not None:
                model.label = label
        for sensor in el.findall("sensor"):
            local, _ = self.raw_pose(sensor)
            if sensor.get("type") in CAMERA_SENSORS:
                cameras.append(self.camera(sensor, link_pose @ local, model.name))


def _parse(path: pathlib.Path) -> ET.Element:
    if not path.is_file():
        raise SdfError(f"{path}: SDF file not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SdfError(f"{path}: malformed XML: {exc}") from None
    if root.tag != "sdf":
        raise SdfError(f"{path}: <{root.tag}>: expected <sdf> as the root element")
    return root


def _check_mesh_sizes(path: pathlib.Path, models: list[SimModel]) -> None:
    """No mesh larger than the world: its ground plane where it has one, else MAX_MESH_EXTENT
    (a wrong unit scale, millimetres read as metres, makes a mug 100 m tall)."""
    planes = [float(max(v.size[:2])) for m in models for v in m.visuals if v.geometry == "plane"]
    limit = max(planes) if planes else MAX_MESH_EXTENT
    for m in models:
        for v in m.visuals:
            if v.mesh is not None and float(v.size.max()) > limit:
                raise SdfError(f"{v.mesh.path}: mesh of visual {v.name!r} in model {m.name!r} "
                               f"is {v.size.max():.3g} m across, larger than the world "
                               f"({limit:g} m); check its <scale> (units)")


def default_search_path(world_path: pathlib.Path) -> list[pathlib.Path]:
    paths = [world_path.parent / "models", world_path.parent.parent / "models"]
    for entry in os.environ.get("GZ_SIM_RESOURCE_PATH", "").split(os.pathsep):
        if entry:
            paths.append(pathlib.Path(entry))
    return paths


def load_world(path: str | os.PathLike) -> World:
    """Parse an SDF world file into models, visuals (world poses) and camera sensors."""
    path = pathlib.Path(path)
    root = _parse(path)
    world_el = root.find("world")
    if world_el is None:
        raise SdfError(f"{path}: <sdf>: expected a <world> element")
    loader = _Loader(path, default_search_path(path))
    loader.check_children(world_el, "world", {"model", "include", "frame"})
    entries: dict[str, tuple[Pose, str | None]] = {}
    elements: dict[str, ET.Element] = {}
    for child in world_el:
        if child.tag in ("model", "include"):
            el = loader.include(child) if child.tag == "include" else child
            name = el.get("name") or ""
            if name in elements:
                raise loader.fail("model", f"two models named {name!r}")
            entries[name] = loader.placement(child, el)
            elements[name] = el
    poses = loader.resolve_frames(entries, Pose(), "world")
    models: list[SimModel] = []
    cameras: list[SimCamera] = []
    for name, el in elements.items():
        loader.model(el, poses[name], models, cameras)
    _check_mesh_sizes(path, models)
    light, ambient = _lighting(loader, world_el)
    return World(name=world_el.get("name") or path.stem, path=path, models=models,
                 cameras=cameras, light=light, ambient=ambient)


def _lighting(loader: _Loader, world_el: ET.Element) -> tuple[tuple[float, float, float],
                                                                 float]:
    """The headless renderer's light from the world's first directional <light> (its
    <direction> is where the light travels: the renderer's points back to the light) and
    ambient share from <scene><ambient> (mean of r, g, b); the defaults where absent."""
    light, ambient = World.light, World.ambient
    for el in world_el.findall("light"):
        direction = el.find("direction")
        if el.get("type") == "directional" and direction is not None:
            d = np.array(loader.floats(direction, 3, "light direction"))
            if np.linalg.norm(d) < 1e-9:
                raise loader.fail("direction", "light direction must not be zero")
            light = tuple(float(v) for v in -d / np.linalg.norm(d))
            break
    amb = world_el.find("scene/ambient")
    if amb is not None:
        values = loader.floats(amb, None, "scene ambient")
        if len(values) not in (3, 4) or not all(0.0 <= v <= 1.0 for v in values[:3]):
            raise loader.fail("ambient", f"scene ambient: expected 3 or 4 numbers in 0..1, got "
                              f"{amb.text!r}")
        ambient = float(np.mean(values[:3]))
    return light, ambient
