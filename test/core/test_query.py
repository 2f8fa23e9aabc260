"""Multi-hop queries and distances over a hand-made scene graph."""
import numpy as np
import pytest

from spatial_ros.geometry import Pose
from spatial_ros.query import Q, chain, distances, relation_confidence
from spatial_ros.relations import Body, RelationConfig, compute_relations
from spatial_ros.scene import OrientedBox, SceneGraph, SceneObject
from spatial_ros.sim.paths import look_at
from spatial_ros.vocabulary import Frame


@pytest.fixture(scope="module")
def graph():
    # world: x forward (away from the camera), y left, z up; the camera looks along +x
    spec = {1: ("blue", "box", [0.0, 0.0, 0.05], 0.1), 2: ("red", "box", [0.0, 0.3, 0.05], 0.1),
            3: ("green", "cube", [0.0, 0.3, 0.13], 0.06), 4: ("red", "sphere", [0.0, -0.3, 0.05],
                                                               0.1)}
    objs = [SceneObject(id=i, centroid=c, box=OrientedBox(center=c, size=[s] * 3), color=col,
                        label=lab) for i, (col, lab, c, s) in spec.items()]
    cam = look_at(np.array([-1.0, 0.0, 0.3]), np.array([0.0, 0.0, 0.05]))
    bodies = [Body.from_box(o.id, o.box, cam) for o in objs]
    return SceneGraph(objects=objs, relations=compute_relations(bodies, RelationConfig()))


def test_one_hop(graph):
    blue = Q.where(color="blue", label="box")
    assert Q.all().that("left_of", blue).evaluate(graph) == [2, 3]
    assert Q.all().that("right_of", blue).evaluate(graph) == [4]
    assert Q.where(color="red").evaluate(graph) == [2, 4]


def test_intersection_and_nesting(graph):
    blue = Q.where(color="blue")
    # objects left of the blue box that are on top of the red box
    assert Q.all().that("left_of", blue).that("on_top_of", Q.ids(2)).evaluate(graph) == [3]
    # what is on top of the object left of the blue box?
    left_of_blue = Q.all().that("left_of", blue).that("on_top_of", Q.all()).excluding(Q.ids(3))
    assert left_of_blue.evaluate(graph) == []
    assert Q.all().that("on_top_of", Q.all().that("left_of", blue)).evaluate(graph) == [3]
    assert chain(graph, [("left_of", blue), ("above", Q.ids(2))]) == [3]


def test_allocentric_frame_and_confidence(graph):
    blue = Q.where(color="blue")
    world = Q.all(frame=Frame.ALLOCENTRIC).that("left_of", blue)
    assert world.evaluate(graph) == [2, 3]  # the camera looks along +x: both frames agree
    c = relation_confidence(graph, 2, "left_of", 1)
    assert 0.5 < c < 1.0
    assert relation_confidence(graph, 1, "left_of", 2) == 0.0


def test_distances(graph):
    centre, surface = distances(graph.object(1), graph.object(2))
    assert centre == pytest.approx(0.3) and surface == pytest.approx(0.2)
    assert distances(graph.object(2), graph.object(3))[1] == pytest.approx(0.0)


def test_unknown_predicate_is_rejected():
    with pytest.raises(ValueError, match="unknown predicate 'beside'"):
        Q.all().that("beside", Q.all())
    _ = Pose()
