import numpy as np
import pytest

from spatial_ros.scene import OrientedBox, Relation, SceneGraph, SceneObject


def test_box_corners_and_aabb():
    box = OrientedBox(center=[1, 2, 3], size=[2, 4, 6])
    lo, hi = box.aabb()
    np.testing.assert_allclose(lo, [0, 0, 0])
    np.testing.assert_allclose(hi, [2, 4, 6])
    assert box.corners().shape == (8, 3)
    assert box.volume == 48


def test_relation_validates_predicate_and_confidence():
    with pytest.raises(ValueError, match="unknown predicate 'beside'"):
        Relation(subject=1, predicate="beside", object=2, confidence=0.5)
    with pytest.raises(ValueError, match="confidence 1.5"):
        Relation(subject=1, predicate="near", object=2, confidence=1.5)


def test_graph_lookup():
    obj = SceneObject(id=4, centroid=[0, 0, 1], box=OrientedBox([0, 0, 1], [1, 1, 1]),
                      label="box", color="red")
    graph = SceneGraph(objects=[obj])
    assert graph.object(4).description == "red box (id 4)"
    with pytest.raises(KeyError, match="no object with id 9"):
        graph.object(9)
