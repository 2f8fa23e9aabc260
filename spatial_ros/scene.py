"""Scene graph data types of the ROS-free core: objects (nodes) and relations (edges)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.vocabulary import Frame, Source, check_predicate

__all__ = ["OrientedBox", "SceneObject", "Relation", "SceneGraph", "size_class", "SIZE_CLASSES",
           "GENERIC_NOUN", "GENERIC_LABELS"]

#: size classes by an object's longest box side (m): under the first "small", from the
#: second "large" (a mug or a can is medium-sized, a cereal box large)
SIZE_CLASSES = (0.08, 0.2)
#: what an object whose shape word does not fit is called (with its size and colour)
GENERIC_NOUN = "object"
#: labels that name no kind of object: the shape word did not fit, or too few points
GENERIC_LABELS = (GENERIC_NOUN, "unknown")


def size_class(box: OrientedBox) -> str:
    """"small", "medium-sized" or "large", by the box's longest side (``SIZE_CLASSES``)."""
    longest = float(np.max(box.size))
    return "small" if longest < SIZE_CLASSES[0] else "large" if longest >= SIZE_CLASSES[1] \
        else "medium-sized"


@dataclass
class OrientedBox:
    """A 3D box: ``rotation`` maps box axes to the parent frame; ``size`` is the full extent."""

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=np.float64).reshape(3)
        self.size = np.asarray(self.size, dtype=np.float64).reshape(3)
        self.rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)

    def corners(self) -> np.ndarray:
        """The 8 corners (8, 3) in the parent frame."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return self.center + (signs * (self.size / 2.0)) @ self.rotation.T

    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds (min, max) in the parent frame."""
        half = np.abs(self.rotation) @ (self.size / 2.0)
        return self.center - half, self.center + half

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))


@dataclass
class SceneObject:
    """One object of the scene graph (mirrors ``msg/SceneObject.msg``)."""

    id: int
    centroid: np.ndarray
    box: OrientedBox
    label: str = "unknown"
    color: str = "unknown"
    confidence: float = 1.0
    bbox2d: tuple[int, int, int, int] = (0, 0, 0, 0)  # u_min, v_min, u_max, v_max
    point_count: int = 0
    last_seen: float = 0.0  # seconds

    def __post_init__(self) -> None:
        self.centroid = np.asarray(self.centroid, dtype=np.float64).reshape(3)

    @property
    def name(self) -> str:
        """What a person would call it, e.g. ``red box``; an object of no known kind by its
        size and colour, e.g. ``large red object``."""
        if self.label in GENERIC_LABELS:
            return f"{size_class(self.box)} {self.color} object"
        return f"{self.color} {self.label}"

    @property
    def description(self) -> str:
        """Its name and id, e.g. ``red box (id 3)``."""
        return f"{self.name} (id {self.id})"


@dataclass(frozen=True)
class Relation:
    """A directed, graded relation ``subject predicate object`` (mirrors SpatialRelation.msg)."""

    subject: int
    predicate: str
    object: int
    confidence: float
    distance: float = math.nan
    frame: Frame = Frame.EGOCENTRIC
    source: Source = Source.GEOMETRY

    def __post_init__(self) -> None:
        check_predicate(self.predicate)
        if not (0.0 <= self.confidence <= 1.0):
            raise ValueError(f"relation confidence {self.confidence} must lie in [0, 1]")

    @classmethod
    def trusted(cls, subject: int, predicate: str, object: int, confidence: float,
                distance: float, frame: Frame, source: Source) -> Relation:
        """A relation from the relation engine, whose predicates and confidences are valid by
        construction: the checks (and a frozen dataclass's slow field setting) are skipped.
        A graph of 32 objects has thousands of relations per frame."""
        rel = cls.__new__(cls)
        rel.__dict__.update(subject=subject, predicate=predicate, object=object,
                            confidence=confidence, distance=distance, frame=frame,
                            source=source)
        return rel


@dataclass
class SceneGraph:
    """Objects and relations of one frame, in frame ``frame_id`` at time ``stamp`` (seconds)."""

    objects: list[SceneObject] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    stamp: float = 0.0
    frame_id: str = ""
    gravity_source: str = ""  # where up came from (see msg/SceneGraph.msg)
    #: world pose of the camera's optical frame the graph was built with (None: not known)
    camera_pose: Pose | None = None
    #: world heights of the horizontal support surfaces seen (a table, the floor)
    support_heights: list[float] = field(default_factory=list)

    def object(self, object_id: int) -> SceneObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"no object with id {object_id} in the scene graph")
