"""The spatial vocabulary shared by every part of spatial_ros.

This module is the ROS-free twin of ``msg/SpatialRelation.msg``: the predicate strings, the
reference-frame kinds and the relation sources. ``test/messages/test_vocabulary.py`` fails if the
two ever differ.
"""
from __future__ import annotations

import enum

__all__ = [
    "PREDICATES",
    "INVERSE",
    "SYMMETRIC",
    "DIRECTIONAL",
    "Frame",
    "Source",
    "check_predicate",
    "decision_keys",
    "DECISION_KEYS",
]

#: Every predicate, in the order of the message constants.
PREDICATES: tuple[str, ...] = (
    "left_of",
    "right_of",
    "above",
    "below",
    "in_front_of",
    "behind",
    "near",
    "far_from",
    "on_top_of",
    "under",
    "inside",
    "contains",
    "occludes",
    "larger_than",
    "smaller_than",
)

#: ``a P b`` holds exactly when ``b INVERSE[P] a`` holds (``occludes`` has no named inverse).
INVERSE: dict[str, str | None] = {
    "left_of": "right_of",
    "right_of": "left_of",
    "above": "below",
    "below": "above",
    "in_front_of": "behind",
    "behind": "in_front_of",
    "near": "near",
    "far_from": "far_from",
    "on_top_of": "under",
    "under": "on_top_of",
    "inside": "contains",
    "contains": "inside",
    "occludes": None,
    "larger_than": "smaller_than",
    "smaller_than": "larger_than",
}

#: Predicates with ``a P b`` equivalent to ``b P a``.
SYMMETRIC: frozenset[str] = frozenset(p for p, q in INVERSE.items() if p == q)

#: Predicates whose meaning depends on the reference frame (egocentric vs allocentric).
DIRECTIONAL: frozenset[str] = frozenset(
    {"left_of", "right_of", "above", "below", "in_front_of", "behind"}
)


class Frame(enum.IntEnum):
    """Reference frame kind of a relation (values match ``SpatialRelation.FRAME_*``)."""

    EGOCENTRIC = 0  #: camera optical frame: x right, y down, z forward
    ALLOCENTRIC = 1  #: world frame
    GRAVITY_ALIGNED = 2  #: camera position and yaw, world up


class Source(enum.IntEnum):
    """Origin of a relation (values match ``SpatialRelation.SOURCE_*``)."""

    GEOMETRY = 0
    MODEL = 1
    FUSED = 2


def check_predicate(predicate: str) -> str:
    """Return ``predicate`` if it is in the vocabulary, else raise ``ValueError`` naming it."""
    if predicate not in INVERSE:
        raise ValueError(
            f"unknown predicate {predicate!r}; expected one of {', '.join(PREDICATES)}"
        )
    return predicate


def decision_keys() -> list[tuple[str, Frame]]:
    """Every (predicate, frame) decided for an ordered pair, in the model's output order: each
    directional predicate in the egocentric and the allocentric frame, ``occludes`` in the
    egocentric frame (it is a property of the view), every other predicate in the world
    frame (allocentric)."""
    keys = []
    for p in PREDICATES:
        if p in DIRECTIONAL:
            keys += [(p, Frame.EGOCENTRIC), (p, Frame.ALLOCENTRIC)]
        else:
            keys.append((p, Frame.EGOCENTRIC if p == "occludes" else Frame.ALLOCENTRIC))
    return keys


#: The decision vocabulary: the relation head's outputs, in order. Checkpoints store its names
#: (``predicate/frame``) and loading checks them, so a reordered vocabulary cannot silently
#: swap a model's outputs.
DECISION_KEYS: tuple[tuple[str, Frame], ...] = tuple(decision_keys())
