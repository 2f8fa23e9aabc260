"""Multi-hop queries over a scene graph (ROS-free).

A query is a composable description of a set of objects, evaluated against a SceneGraph::

    blue_box = Q.where(color="blue", label="box")
    Q.all().that("left_of", blue_box).that("on_top_of", Q.ids(3))   # left of X and on Y
    Q.all().that("on_top_of", Q.all().that("left_of", blue_box))    # on the thing left of X

``that(predicate, other)`` keeps the objects that stand in ``predicate`` to at least one object
of ``other`` (in the query's frame for directional predicates) with confidence at least
``min_confidence``; chaining ``that`` intersects, nesting queries makes hops.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from spatial_ros.scene import SceneGraph, SceneObject
from spatial_ros.vocabulary import DIRECTIONAL, Frame, check_predicate

__all__ = ["Q", "chain", "relation_confidence", "distances"]


def _frame_for(predicate: str, frame: Frame) -> Frame:
    if predicate in DIRECTIONAL:
        return frame
    return Frame.EGOCENTRIC if predicate == "occludes" else Frame.ALLOCENTRIC


def relation_confidence(graph: SceneGraph, subject: int, predicate: str, obj: int,
                        frame: Frame = Frame.EGOCENTRIC) -> float:
    """Confidence of ``subject predicate obj`` in the graph (0 when it is not there)."""
    f = _frame_for(check_predicate(predicate), frame)
    best = 0.0
    for r in graph.relations:
        if (r.subject, r.predicate, r.object, r.frame) == (subject, predicate, obj, f):
            best = max(best, r.confidence)
    return best


def distances(a: SceneObject, b: SceneObject) -> tuple[float, float]:
    """(centroid distance, surface gap between the axis-aligned boxes), metres."""
    alo, ahi = a.box.aabb()
    blo, bhi = b.box.aabb()
    gap = np.maximum(0.0, np.maximum(alo - bhi, blo - ahi))
    return float(np.linalg.norm(a.centroid - b.centroid)), float(np.linalg.norm(gap))


@dataclass(frozen=True)
class Q:
    """A set of objects, described; ``evaluate(graph)`` gives their ids, sorted."""

    _select: Callable[[SceneGraph], set[int]]
    frame: Frame = Frame.EGOCENTRIC
    min_confidence: float = 0.5

    @classmethod
    def all(cls, **kw) -> Q:
        return cls(lambda g: {o.id for o in g.objects}, **kw)

    @classmethod
    def ids(cls, *ids: int, **kw) -> Q:
        wanted = set(ids)
        return cls(lambda g: {o.id for o in g.objects} & wanted, **kw)

    @classmethod
    def where(cls, *, color: str | None = None, label: str | None = None, **kw) -> Q:
        def sel(g: SceneGraph) -> set[int]:
            return {o.id for o in g.objects if (color is None or o.color == color)
                    and (label is None or o.label == label)}
        return cls(sel, **kw)

    def that(self, predicate: str, other: Q) -> Q:
        """Those of these objects that are ``predicate`` some object of ``other``."""
        check_predicate(predicate)
        f = _frame_for(predicate, self.frame)

        def sel(g: SceneGraph) -> set[int]:
            mine, targets = self._select(g), other._select(g)
            return {r.subject for r in g.relations
                    if r.predicate == predicate and r.frame == f and r.subject in mine
                    and r.object in targets and r.subject != r.object
                    and r.confidence >= self.min_confidence}
        return Q(sel, frame=self.frame, min_confidence=self.min_confidence)

    def excluding(self, other: Q) -> Q:
        return Q(lambda g: self._select(g) - other._select(g), frame=self.frame,
                 min_confidence=self.min_confidence)

    def evaluate(self, graph: SceneGraph) -> list[int]:
        return sorted(self._select(graph))

    def objects(self, graph: SceneGraph) -> list[SceneObject]:
        return [graph.object(i) for i in self.evaluate(graph)]


def chain(graph: SceneGraph, hops: Iterable[tuple[str, Q]], start: Q | None = None) -> list[int]:
    """Objects that satisfy every (predicate, other) hop (an intersection)."""
    q = start or Q.all()
    for predicate, other in hops:
        q = q.that(predicate, other)
    return q.evaluate(graph)
