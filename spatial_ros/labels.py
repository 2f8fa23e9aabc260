"""Class names from an upstream detector: a label map of instance id -> name (ROS-free).

A detector on the robot publishes an instance mask (ids, 0 = background) and knows a class name
per id. The names reach the scene graph as ``SceneObject.label`` (the planner then resolves
"the mug"), given as a label map in one of three forms:

    inline      "1: mug, 2: bowl"  (also "1=mug;2=bowl")
    JSON        '{"1": "mug", "2": "bowl"}'
    a file      /path/labels.yaml or .json holding that mapping (YAML: ``1: mug`` lines)

Names are lower-cased and stripped; an id is a positive integer (0 is the background). Anything
else is a LabelMapError that names where the map came from (the parameter or topic).
"""
from __future__ import annotations

import json
import pathlib
import re

from spatial_ros.errors import SpatialRosError

__all__ = ["LabelMapError", "parse_label_map", "mask_label", "MAX_LABEL_LENGTH"]

MAX_LABEL_LENGTH = 64
_PAIR = re.compile(r"\s*(\d+)\s*[:=]\s*([^:=]+?)\s*")
_FORMATS = ("'id: name, ...' (e.g. '1: mug, 2: bowl'), a JSON object ('{\"1\": \"mug\"}') or "
            "the path of a .yaml / .yml / .json file holding that mapping")


class LabelMapError(SpatialRosError, ValueError):
    """A label map that cannot be read: the message names its source and what is wrong."""


def parse_label_map(value: str | dict, *, source: str = "label_map") -> dict[int, str]:
    """Instance id -> class name from ``value`` (see the module docstring for the forms).

    Args:
        value: the map's text, a file path, or an already parsed mapping.
        source: where it came from, for error messages (a parameter or topic name).
    """
    if isinstance(value, dict):
        return _checked(value, source)
    if not isinstance(value, str):
        raise LabelMapError(f"{source}: a label map is text, not {type(value).__name__}")
    text = value.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelMapError(f"{source}: not valid JSON ({exc.msg} at character "
                                f"{exc.pos})") from exc
        if not isinstance(mapping, dict):
            raise LabelMapError(f"{source}: the JSON is not an object of id: name")
        return _checked(mapping, source)
    suffix = pathlib.Path(text).suffix.lower()
    if suffix in (".yaml", ".yml", ".json") and not _PAIR.fullmatch(text.split(",")[0]):
        return _checked(_read_file(pathlib.Path(text), source), f"{source} ({text})")
    pairs = [p for p in re.split(r"[,;\n]", text) if p.strip()]
    mapping = {}
    for pair in pairs:
        m = _PAIR.fullmatch(pair)
        if m is None:
            raise LabelMapError(f"{source}: unknown label-map format {text[:80]!r}: "
                                f"{pair.strip()!r} is not 'id: name'. Expected {_FORMATS}")
        mapping[m.group(1)] = m.group(2)
    return _checked(mapping, source)


def _read_file(path: pathlib.Path, source: str) -> object:
    if not path.is_file():
        raise LabelMapError(f"{source}: label-map file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - JSON or YAML syntax (yaml.YAMLError)
        raise LabelMapError(f"{source}: cannot read {path}: {exc}") from exc


def _checked(mapping: object, source: str) -> dict[int, str]:
    if not isinstance(mapping, dict):
        raise LabelMapError(f"{source}: expected a mapping of id: name, got "
                            f"{type(mapping).__name__}")
    out: dict[int, str] = {}
    for key, name in mapping.items():
        try:
            ident = int(str(key).strip())
        except ValueError:
            raise LabelMapError(f"{source}: id {key!r} is not an integer") from None
        if ident <= 0:
            raise LabelMapError(f"{source}: id {ident} is not a positive integer (0 is the "
                                "mask's background)")
        if not isinstance(name, str) or not name.strip():
            raise LabelMapError(f"{source}: id {ident} has no name ({name!r})")
        name = " ".join(name.lower().split())
        if len(name) > MAX_LABEL_LENGTH:
            raise LabelMapError(f"{source}: the name of id {ident} is {len(name)} characters; "
                                f"the limit is {MAX_LABEL_LENGTH}")
        out[ident] = name
    return out


def mask_label(labels: dict[int, str], instance: int) -> str:
    """The class name of mask id ``instance``: the label map's entry for the id itself, or, for
    a Gazebo labels_map instance (id ``label << 16 | count``, from
    spatial_ros.ros.conversions.image_to_mask), for its label; "" when the map has neither."""
    if instance in labels:
        return labels[instance]
    return labels.get(instance >> 16, "") if instance >= 1 << 16 else ""
