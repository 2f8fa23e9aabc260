"""Stable ids: a moving camera, a moving object, objects that leave the view."""
import math

import numpy as np
import pytest

from spatial_ros.geometry import Pose
from spatial_ros.perception import detect_objects
from spatial_ros.pipeline import SceneGraphBuilder
from spatial_ros.scene import OrientedBox
from spatial_ros.sim.paths import find_world
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sdf import load_world
from spatial_ros.tracking import Tracker, TrackerConfig, blend_boxes


def _rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def scene():
    world = load_world(find_world("tabletop"))
    return world, Renderer(world)


def _ids_by_instance(result):
    return {t.instance: t.id for t, _d in result.detections}


def test_ids_survive_a_moving_camera(scene):
    _world, renderer = scene
    builder = SceneGraphBuilder()
    base = renderer.camera.optical_pose
    seen = []
    for k in range(8):  # the camera swings 16 degrees about the table
        rz = _rz(math.radians(2 * k))
        pose = Pose(rotation=rz @ base.rotation, translation=rz @ base.translation)
        fr = renderer.render(pose)
        seen.append(_ids_by_instance(builder.process(fr.rgb, fr.depth, fr.intrinsics, pose,
                                                     stamp=0.1 * k, mask=fr.mask)))
    assert len(seen[0]) == 7
    # every object keeps its id; the purple sphere slides behind the blue box (too few points
    # to detect in the last frames) and is kept by the tracker meanwhile
    assert all(s[i] == seen[0][i] for s in seen for i in s)
    assert 4 not in seen[-1]
    assert len(builder.tracker.tracks) == 7


def test_a_moved_object_keeps_its_id_and_position_follows(scene):
    world, _renderer = scene
    red = next(m for m in world.objects if m.label == 1)
    builder = SceneGraphBuilder()
    ids, centres = [], []
    for k in range(6):  # the red box slides 3 cm per frame towards -y
        for v in red.visuals:
            v.pose = Pose(rotation=v.pose.rotation,
                          translation=v.pose.translation + np.array([0, -0.03 if k else 0, 0]))
        fr = Renderer(world).render()
        res = builder.process(fr.rgb, fr.depth, fr.intrinsics, fr.camera_pose, stamp=0.1 * k,
                              mask=fr.mask)
        track = next(t for t, d in res.detections if d.instance == 1)
        ids.append(track.id)
        centres.append(track.centroid.copy())
    assert len(set(ids)) == 1
    assert centres[-1][1] < centres[0][1] - 0.1  # it followed the 15 cm move
    assert len(builder.tracker.tracks) == 7


def _det(centre, color="red", shape="box", fits=True):
    from spatial_ros.perception import Detection

    box = OrientedBox(center=centre, size=[0.1, 0.1, 0.1])
    return Detection(points=np.array([centre]), centroid=np.asarray(centre, float), box=box,
                     color=color, rgb=np.zeros(3), shape=shape, bbox2d=(0, 0, 1, 1),
                     pixels=np.array([0]), shape_fits=fits)


def test_a_track_uses_its_shape_word_only_where_the_fits_support_it():
    tracker = Tracker()
    for k, fits in enumerate((False, True, False)):  # a "sphere" whose fit mostly fails
        tracker.update([_det([0, 0, 0], shape="sphere", fits=fits)], now=0.1 * k)
    (obj,) = tracker.objects(0.2)
    assert tracker.tracks[0].shape == "sphere" and obj.label == "object"
    assert obj.name == "medium-sized red object"
    tracker.update([_det([0, 0, 0], shape="sphere", fits=True)], now=0.3)  # 2 of 4: enough
    assert tracker.objects(0.3)[0].label == "sphere"


def test_objects_out_of_view_are_kept_then_forgotten():
    tracker = Tracker(TrackerConfig(forget_after=2.0))
    tracker.update([_det([0, 0, 0]), _det([1, 0, 0], "blue")], now=0.0)
    tracker.update([_det([0, 0, 0])], now=1.5)  # the blue one left the view
    assert {t.color for t in tracker.tracks} == {"red", "blue"}
    objs = {o.color: o for o in tracker.objects(1.5)}
    assert objs["blue"].last_seen == 0.0 and objs["red"].last_seen == 1.5
    tracker.update([_det([0, 0, 0])], now=2.5)
    assert [t.color for t in tracker.tracks] == ["red"]
    tracker.update([_det([1, 0, 0], "blue")], now=3.0)  # it comes back as a new object
    assert sorted(t.id for t in tracker.tracks) == [1, 3]


def test_colour_decides_between_two_close_candidates():
    tracker = Tracker()
    tracker.update([_det([0, 0, 0], "red"), _det([0.06, 0, 0], "green")], now=0.0)
    pairs = tracker.update([_det([0.05, 0, 0], "red"), _det([0.01, 0, 0], "green")], now=0.1)
    assert {d.color: t.id for t, d in pairs} == {"red": 1, "green": 2}


def test_blend_boxes_handles_swapped_axes():
    old = OrientedBox(center=[0, 0, 0], size=[0.2, 0.1, 0.1], rotation=_rz(0.0))
    new = OrientedBox(center=[0, 0, 0], size=[0.1, 0.2, 0.1], rotation=_rz(math.pi / 2))
    out = blend_boxes(old, new, 0.5)
    assert np.allclose(out.size, [0.2, 0.1, 0.1]) and np.allclose(out.rotation, np.eye(3))


def test_detections_are_in_the_world_frame(scene):
    _world, renderer = scene
    fr = renderer.render()
    dets, _ = detect_objects(fr.rgb, fr.depth, fr.intrinsics, fr.camera_pose, fr.mask)
    blue = next(d for d in dets if d.instance == 2)
    assert np.allclose(blue.box.center, [0.05, 0.0, 0.85], atol=0.01)
