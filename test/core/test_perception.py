"""Objects from RGB-D on the rendered tabletop: geometry, shapes, colours, bad input."""
import pathlib

import numpy as np
import pytest

from spatial_ros.geometry import CameraIntrinsics, Pose
from spatial_ros.perception import PerceptionConfig, detect_objects
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.sim.paths import find_world
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sdf import load_world
from spatial_ros.sim.sensors import apply_sensor


@pytest.fixture(scope="module")
def tabletop():
    world = load_world(find_world("tabletop"))
    renderer = Renderer(world)
    frame = renderer.render()
    return frame, ground_truth(world, renderer, frame.camera_pose)


def _by_instance(dets, frame):
    out = {}
    for d in dets:
        lab = int(np.bincount(frame.mask.ravel()[d.pixels], minlength=256).argmax())
        out[lab] = d
    return out


def test_mask_path_recovers_every_box(tabletop):
    frame, truth = tabletop
    dets, report = detect_objects(frame.rgb, frame.depth, frame.intrinsics, frame.camera_pose,
                                  frame.mask)
    assert report.warnings == []
    assert sorted(d.instance for d in dets) == [1, 2, 3, 4, 5, 6, 7]
    found = {d.instance: d for d in dets}
    for obj in truth.objects:
        d = found[obj.id]
        assert np.allclose(d.box.center, obj.box.center, atol=0.012), obj.description
        assert np.allclose(np.sort(d.box.size), np.sort(obj.box.size), atol=0.02), \
            obj.description
        assert d.color == obj.color
        assert d.point_count >= 25 and d.bbox2d[0] < d.bbox2d[2] and d.bbox2d[1] < d.bbox2d[3]
    shapes = {i: found[i].shape for i in found}
    assert shapes[1] == "box" and shapes[2] == "box" and shapes[5] == "cylinder"
    assert shapes[4] == "sphere"  # partly hidden behind the blue box: completed by the fit
    assert abs(report.support_heights[0] - 0.77) < 0.005  # the table top


@pytest.mark.parametrize("segmentation", ["geometric", "learned"])
@pytest.mark.parametrize("sensor", ["ideal", "realsense_d435"])
def test_class_agnostic_path_finds_the_objects(tabletop, sensor, segmentation):
    frame, truth = tabletop
    depth = apply_sensor(frame.depth, frame.rgb, sensor, np.random.default_rng(1))
    cfg = PerceptionConfig(noise_quadratic=0.0042 if sensor != "ideal" else 0.0,
                           segmentation=segmentation)
    dets, _ = detect_objects(frame.rgb, depth, frame.intrinsics, frame.camera_pose, None, cfg)
    found = _by_instance(dets, frame)
    # the orange sphere shows only a cap in the bin; the learned segmenter takes the grey bin
    # (6) for structure, as it does a room's tote (a limit, measured: issue 31's note)
    assert ({1, 2, 3, 4, 5, 6} if segmentation == "geometric" else {1, 2, 3, 4, 5}) \
        <= set(found)
    assert all(d.instance == 0 for d in dets)
    # the green cube on the blue box touches it: only colour separates them
    assert found[3].color == "green" and found[2].color == "blue"
    assert found[3].box.center[2] > found[2].box.center[2] + 0.08
    for i in (1, 2, 3, 5):
        g = truth.object(i)
        assert np.linalg.norm(found[i].box.center - g.box.center) < 0.02, g.description


def test_all_nan_depth_gives_no_objects_and_says_why(tabletop):
    frame, _ = tabletop
    depth = np.full(frame.depth.shape, np.nan, np.float32)
    dets, report = detect_objects(frame.rgb, depth, frame.intrinsics, frame.camera_pose,
                                  frame.mask)
    assert dets == [] and report.valid_points == 0
    assert report.warnings == ["no valid depth in this frame"]


def test_absurd_depth_is_ignored_and_reported(tabletop):
    frame, _ = tabletop
    depth = frame.depth.copy()
    depth[:40] = 1e6
    dets, report = detect_objects(frame.rgb, depth, frame.intrinsics, frame.camera_pose,
                                  frame.mask)
    assert report.absurd_points > 0 and "beyond max_depth" in report.warnings[0]
    assert len(dets) == 7


def test_segment_cap_keeps_the_largest(tabletop):
    frame, _ = tabletop
    dets, report = detect_objects(frame.rgb, frame.depth, frame.intrinsics, frame.camera_pose,
                                  frame.mask, PerceptionConfig(max_objects=3))
    assert len(dets) == 3 and report.dropped_cap == 4
    assert "exceed max_objects 3" in report.warnings[0]
    counts = np.bincount(frame.mask[::2, ::2].ravel(), minlength=8)[1:]
    assert sorted(d.instance for d in dets) == sorted(np.argsort(counts)[::-1][:3] + 1)


def test_mismatched_sizes_are_an_error(tabletop):
    frame, _ = tabletop
    with pytest.raises(ValueError, match="image sizes differ"):
        detect_objects(frame.rgb[:100], frame.depth, frame.intrinsics, frame.camera_pose)
    with pytest.raises(ValueError, match="but the camera is"):
        detect_objects(frame.rgb[:100], frame.depth[:100], frame.intrinsics, frame.camera_pose)


@pytest.mark.parametrize("scene, instance, what", [
    (5, 9, "a grey cylinder whose lower part a nearer box hides: down to the table"),
    (17, 3, "a yellow cylinder standing on a green box: down to the box, not the table"),
])
def test_hidden_bottoms_reach_the_surface_below(scene, instance, what):
    from spatial_ros.bench.generate import generate_scene

    world, pose = generate_scene("test", 0, scene, width=640, height=480)
    renderer = Renderer(world)
    fr = renderer.render(pose)
    truth = ground_truth(world, renderer, pose).object(instance)
    heights = {}
    for share in (0.5, 2.0):  # 2.0: a bottom never counts as hidden (the old behaviour)
        dets, _ = detect_objects(fr.rgb, fr.depth, fr.intrinsics, pose, fr.mask,
                                 PerceptionConfig(occluded_bottom_share=share))
        box = {d.instance: d for d in dets}[instance].box
        heights[share] = box.size[2]
        if share == 0.5:
            assert abs(box.size[2] - truth.box.size[2]) < 0.01, what
            assert abs(box.center[2] - truth.box.center[2]) < 0.01, what
    if scene == 5:  # without the completion it was the top cap alone
        assert heights[2.0] < 0.5 * truth.box.size[2]


def test_support_planes_do_not_depend_on_the_ransac_draw(tabletop):
    """Open3D's threaded RANSAC varies between runs despite its seed; the least-squares refit
    on the inliers makes the support height the same whatever the draw (here: the seed)."""
    frame, _ = tabletop
    depth = apply_sensor(frame.depth, frame.rgb, "realsense_d435", np.random.default_rng(0))
    heights = set()
    for seed in range(4):
        _, report = detect_objects(frame.rgb, depth, frame.intrinsics, frame.camera_pose,
                                   frame.mask, PerceptionConfig(seed=seed))
        heights.add(round(report.support_heights[0], 9))
    assert len(heights) == 1 and abs(heights.pop() - 0.77) < 0.005


def test_planes_that_start_a_millimetre_apart_settle_on_one_plane():
    """The hard inlier cut-off alone kept two RANSAC draws apart (points at the cut-off change
    sides); the Gaussian-weighted fit after it ends both on the same plane, bit for bit."""
    from spatial_ros.perception.supports import refit_plane

    rng = np.random.default_rng(4)
    xy = rng.uniform(-0.6, 0.6, (12000, 2))
    z = 0.75 + rng.normal(0, 0.004 * (1 + xy[:, 1] ** 2), len(xy))  # D435-like, grows away
    table = np.c_[xy, z]
    objects = np.c_[rng.uniform(-0.2, 0.2, (3000, 2)), rng.uniform(0.76, 0.9, 3000)]
    points = np.vstack([table, objects])
    n0 = np.array([0.0, 0.0, 1.0])
    tilt = np.array([1e-3, -1e-3, 1.0]) / np.linalg.norm([1e-3, -1e-3, 1.0])
    starts = [(n0, -0.75), (tilt, -0.751)]
    settled = {refit_plane(points, n, d, 0.01)[1] for n, d in starts}
    normals = {tuple(refit_plane(points, n, d, 0.01)[0]) for n, d in starts}
    assert len(settled) == 1 and len(normals) == 1
    assert abs(settled.pop() + 0.75) < 5e-4
    hard = {refit_plane(points, n, d, 0.01, settle=0)[1] for n, d in starts}
    assert len(hard) == 2  # without the settling the two draws stay apart


def test_far_objects_take_every_pixel_of_their_region():
    """At stride 3 the top of a box 5 m away is a grid row or two: objects with fewer than
    ``dense_below`` grid points take their geometry from every pixel (room, mask path)."""
    world = load_world(find_world("room"))
    renderer = Renderer(world)
    frame = renderer.render()
    truth = ground_truth(world, renderer, frame.camera_pose)
    far = truth.object(4)  # the 0.6 x 0.3 x 0.5 box 4.8 m from the camera

    def centre_error(config):
        dets, _ = detect_objects(frame.rgb, frame.depth, frame.intrinsics, frame.camera_pose,
                                 frame.mask, config)
        det = next(d for d in dets if d.instance == 4)
        return float(np.linalg.norm(det.box.center - far.box.center)), det

    assert PerceptionConfig().stride == 3
    room = PerceptionConfig(workspace_range=0.0)  # room scale: objects up to 5.5 m away
    dense_error, det = centre_error(room)
    sparse_error, _ = centre_error(PerceptionConfig(dense_below=0, workspace_range=0.0))
    assert dense_error < 0.01 and sparse_error > 0.03, (dense_error, sparse_error)
    assert det.point_count > 1000  # about 2000 pixels, not the 223 grid points


def test_class_agnostic_boxes_grow_by_the_sample_spacing(tabletop):
    frame, _truth = tabletop
    sizes = {}
    for pad in (0.0, 1.0):
        cfg = PerceptionConfig(sample_pad=pad, dense_below=0)
        dets, _ = detect_objects(frame.rgb, frame.depth, frame.intrinsics, frame.camera_pose,
                                 None, cfg)
        sizes[pad] = {_by_instance([d], frame).popitem()[0]: d for d in dets}
    cube = sizes[0.0][3]  # the green cube
    rng = float(np.linalg.norm(cube.points.mean(axis=0) - frame.camera_pose.translation))
    gap = PerceptionConfig().stride / frame.intrinsics.fx * rng  # a sample spacing there
    grown = sizes[1.0][3].box.size - cube.box.size
    assert np.allclose(grown, [gap, gap, gap / 2], atol=1e-6), (grown, gap)


def _det(points, rgb, pixels):
    from spatial_ros.perception import Detection
    from spatial_ros.scene import OrientedBox
    lo, hi = points.min(axis=0), points.max(axis=0)
    return Detection(points=points, centroid=points.mean(axis=0),
                     box=OrientedBox(center=(lo + hi) / 2, size=hi - lo), color="",
                     rgb=np.asarray(rgb, float), shape="box", bbox2d=(0, 0, 10, 10),
                     pixels=np.asarray(pixels))


def test_fragments_inside_an_object_of_their_colour_join_it():
    from spatial_ros.perception.detect import _absorb_fragments
    rng = np.random.default_rng(0)
    tub = _det(rng.uniform(0, 0.2, (400, 3)), [0.8, 0.2, 0.3], np.arange(400))
    floor = _det(rng.uniform(0.05, 0.15, (40, 3)) * [1, 1, 0.1], [0.8, 0.22, 0.3],
                 np.arange(400, 440))  # inside the tub, its colour
    ball = _det(rng.uniform(0.05, 0.15, (40, 3)), [0.1, 0.3, 0.9], np.arange(440, 480))
    beside = _det(rng.uniform(0.3, 0.4, (40, 3)), [0.8, 0.2, 0.3], np.arange(480, 520))
    cfg = PerceptionConfig()
    kept, hidden = _absorb_fragments([tub, floor, ball, beside], [False, True, False, False],
                                     cfg)
    assert kept == [tub, ball, beside] and hidden == [False, False, False]
    assert len(tub.points) == 440 and set(range(400, 440)) <= set(tub.pixels.tolist())
    kept, _ = _absorb_fragments([tub, floor], [False, False],
                                PerceptionConfig(absorb_inside=1.1))  # off by threshold
    assert len(kept) == 2


def _one_objects_detections(split: str, index: int, sensor: str, name: str, field: str
                            ) -> dict:
    """SpatialBench scene ``index`` (one 640 x 480 frame, class-agnostic) with PerceptionConfig
    ``field`` off (0) and at its default: per value, the detections mostly on the object
    ``name`` and the sorted sizes (grid cells) of the others."""
    from spatial_ros.bench.relations import scene_frames
    runs = {}
    for value in (0, getattr(PerceptionConfig(), field)):
        *_, sf = scene_frames(split, 0, index, sensor, frames=1, width=640, height=480,
                              use_mask=False, perception={field: value})
        gid = 1 + [str(o.name) for o in sf.world.objects].index(name)
        mask = sf.frame.mask.ravel()
        on = [2 * int((mask[d.pixels] == gid).sum()) >= len(d.pixels)
              for _t, d in sf.result.detections]
        runs[value] = (sum(on), sorted(len(d.pixels) for (_t, d), hit
                                       in zip(sf.result.detections, on) if not hit))
    return runs


@pytest.mark.parametrize("split, index, sensor, name, field, what", [
    ("household_val", 3, "realsense_d435", "bowl_3", "absorb_shade", "a bowl's shaded inside"),
    ("household_val", 4, "realsense_d435", "bowl_1", "absorb_shade", "a bowl's shaded inside"),
    ("household_val", 19, "realsense_d435", "bowl_7", "absorb_shade", "a bowl's shaded inside"),
    ("bin_val", 4, "realsense_d435_raw", "purple_package_2", "join_behind",
     "a package in two pieces around one lying across it"),
    ("bin_val", 27, "realsense_d435_raw", "blue_package_3", "join_behind",
     "a package in two pieces around one lying across it"),
    ("bin_val", 29, "realsense_d435_raw", "yellow_package_4", "join_behind",
     "a package in two pieces around one lying across it"),
    ("household_val", 4, "realsense_d435", "mug_3", "attach_share", "a mug's handle"),
    ("household_val", 16, "realsense_d435", "mug_4", "attach_share", "a mug's handle"),
    ("household_val", 17, "realsense_d435", "bottle_1", "attach_share", "a bottle's top"),
])
def test_an_objects_fragment_joins_it(split, index, sensor, name, field, what):
    """SpatialBench dev scenes (class-agnostic): an object seen in two detections of one
    colour is one with the field at its default and two with it off, and the other
    detections stay as they were. absorb_shade: a bowl's inside, seen over its rim, is darker
    than its lit outside (lightness 17-28 apart in Lab, the hue the same); join_behind: a flat
    package under another lying across it shows in two pieces on one plane, the nearer
    package touching both between them; attach_share: a small piece touching the object in
    the image and in space."""
    runs = _one_objects_detections(split, index, sensor, name, field)
    (apart, others_before), (joined, others_after) = runs.values()
    assert (apart, joined) == (2, 1), (what, apart, joined)
    assert others_before == others_after, what


def test_a_containers_inside_seen_over_its_rim_joins_its_outside():
    """A cup's outside wall (front half, seen from the camera) and its inside (the far half's
    inner face, a depth step behind): both reach up to the rim, the inside lies within 3 cm
    of the wall's box. It joins, and the wall's box grows to hold it; a neighbour of another
    height, or of another colour, stays apart, and absorb_rim 0 keeps the old rule."""
    from spatial_ros.perception.detect import _absorb_fragments
    rng = np.random.default_rng(1)

    def half_ring(n, radius, far, top=0.10):  # a cylinder's half shell, axis at x = 0.5
        a = rng.uniform(0, np.pi, n) + (0 if far else np.pi)
        return np.stack([0.5 + radius * np.sin(a), radius * np.cos(a),
                         rng.uniform(0.0 if not far else 0.04, top, n)], axis=1)

    def make():
        wall = _det(half_ring(300, 0.03, far=False), [0.2, 0.3, 0.8], np.arange(300))
        wall.boxes = {"box": wall.box}
        inside = _det(half_ring(200, 0.027, far=True), [0.22, 0.3, 0.8], np.arange(300, 500))
        return wall, inside

    wall, inside = make()
    assert np.mean(np.all(np.abs(inside.points - wall.box.center) <= wall.box.size / 2,
                          axis=1)) < 0.8  # the old rule alone keeps them apart
    kept, _ = _absorb_fragments([wall, inside], [False, False], PerceptionConfig())
    assert kept == [wall] and len(wall.points) == 500
    assert wall.box.center[0] + wall.box.size[0] / 2 >= 0.5 + 0.02  # grown over the far half
    assert wall.boxes["box"] is not None and wall.boxes["box"].size[0] == wall.box.size[0]
    wall, inside = make()
    kept, _ = _absorb_fragments([wall, inside], [False, False], PerceptionConfig(absorb_rim=0))
    assert kept == [wall, inside]
    wall, inside = make()
    inside.points[:, 2] -= 0.04  # a lower thing behind the wall: its top is not the rim
    kept, _ = _absorb_fragments([wall, inside], [False, False], PerceptionConfig())
    assert kept == [wall, inside]
    wall, inside = make()
    inside.rgb = np.array([0.8, 0.3, 0.2])  # another colour
    kept, _ = _absorb_fragments([wall, inside], [False, False], PerceptionConfig())
    assert kept == [wall, inside]


def _flat_region(rgb: np.ndarray) -> np.ndarray:
    """Labels of ``depth_regions`` for one fronto-parallel surface 1 m away painted ``rgb``."""
    from spatial_ros.perception.segmentation import depth_regions
    depth = np.ones(rgb.shape[:2], np.float32)
    return depth_regions(depth, np.ones(rgb.shape[:2], bool), rgb, PerceptionConfig())


def test_shading_across_a_hue_boundary_stays_one_object():
    """A white surface whose shaded side reads blue (real white balance: the white bowl of
    tabletop_1) changes colour gradually; two plain colours touching change it in a step."""
    from spatial_ros.perception.segmentation import hue_bins
    t = np.linspace(0.0, 1.0, 60)[None, :, None]
    ramp = np.broadcast_to((1 - t) * [110, 160, 230] + t * [235, 238, 242], (40, 60, 3))
    ramp = np.ascontiguousarray(ramp, np.uint8)
    assert set(np.unique(hue_bins(ramp)).tolist()) == {7, 14}  # it crosses the hue boundary
    labels = _flat_region(ramp)
    assert len(np.unique(labels[labels > 0])) == 1
    from spatial_ros.perception.segmentation import depth_regions
    split = depth_regions(np.ones((40, 60), np.float32), np.ones((40, 60), bool), ramp,
                          PerceptionConfig(color_split_step=0.0))  # the hue split alone
    assert len(np.unique(split[split > 0])) == 2
    step = np.zeros((40, 60, 3), np.uint8)
    step[:, :30] = [200, 40, 40]
    step[:, 30:] = [40, 200, 40]
    labels = _flat_region(step)
    assert len(np.unique(labels[labels > 0])) == 2
    assert len(np.unique(labels[:, :28])) == 1 and len(np.unique(labels[:, 32:])) == 1


def test_a_small_object_of_a_third_colour_between_two_plain_ones_is_its_own():
    """Two plain colours touching split by colour; the pieces of a third colour that neither
    blob holds were dropped with them, and a small object between two larger ones with them
    (SpatialBench hard_val: a 4 cm box, a 6 cm box). A piece of 20 cells or more that no one
    blob encloses is an object of its own; a print within one blob, or a piece the size of a
    bottle's cap (9 cells), is not."""
    surface = np.zeros((40, 60, 3), np.uint8)
    surface[:, :30] = [200, 40, 40]
    surface[:, 30:] = [40, 40, 200]
    surface[28:34, 27:33] = [40, 200, 40]  # between the two: 36 cells
    surface[8:14, 6:12] = [40, 200, 40]  # a print within the red one
    surface[2:5, 28:31] = [230, 230, 40]  # 9 cells of yellow between them
    for cells, segments in ((20, 3), (0, 2)):
        from spatial_ros.perception.segmentation import depth_regions
        labels = depth_regions(np.ones((40, 60), np.float32), np.ones((40, 60), bool), surface,
                               PerceptionConfig(colour_piece_cells=cells))
        assert len(np.unique(labels[labels > 0])) == segments, cells
        assert (labels[28:34, 27:33] > 0).all() == (cells > 0), cells
        assert len(np.unique(labels[28:34, 27:33])) == 1
        assert (labels[8:14, 6:12] == 0).all() and (labels[2:5, 28:31] == 0).all()


def test_a_print_does_not_keep_two_plain_coloured_objects_together():
    """SpatialBench dev scenes (never trained on), D435, class-agnostic: a region of touching
    objects whose colours include a hue scattered in pieces (a print) was kept whole; with
    color_split_prints the other hues' blobs split it. Printed hard_val scenes 18 and 32 (a
    green cylinder and a yellow box, a green box, each merged with a printed neighbour),
    room_val scene 16: more objects found, none lost."""
    from test.core.scenes import found_objects
    cases = (("hard_val", 18, "realsense_d435", 0.6), ("hard_val", 32, "realsense_d435", 0.6),
             ("room_val", 16, "realsense_d435_raw", 0.0))
    found = {on: {(split, i, name) for split, i, sensor, paint in cases
                  for name in found_objects(split, i, sensor, paint=paint,
                                            color_split_prints=on)}
             for on in (False, True)}
    assert found[False] <= found[True], f"lost {sorted(found[False] - found[True])}"
    assert len(found[True] - found[False]) >= 5, sorted(found[True] - found[False])


def test_small_objects_between_larger_ones_are_found_in_the_hard_split():
    """SpatialBench hard_val (never trained on), combined, D435:
    three scenes where a small object between two larger ones was erased with the third
    colour's pieces; each is found with colour_piece_cells, none lost."""
    from test.core.scenes import gained
    new = gained("hard_val", (5, 10, 11), "realsense_d435", "colour_piece_cells", 0)
    assert len(new) >= 3, sorted(new)


def test_a_detections_image_region_takes_the_cut_cells_along_its_outline():
    """SpatialBench household_val scenes 1-4 (D435, class-agnostic): the flying pixels along an
    object's outline are cut from every segment, and its image region lacked them (a marker's
    or a mug's detection then covered under half of it). With outline_cells the region takes
    the cut cells that touch it alone, one cell deep: the points, boxes and surface pixels are
    the same, each added cell is off the detection's surface and of no other detection, next
    to its own cells, and more objects are found whole (mask IoU >= 0.5), none less."""
    from spatial_ros.bench.misses import best_ious
    from spatial_ros.bench.relations import scene_frames
    whole = {0: set(), 1: set()}
    for i in (1, 2, 3, 4):
        runs = {}
        for cells in (0, 1):
            *_, sf = scene_frames("household_val", 0, i, "realsense_d435", frames=1, width=640,
                                  height=480, use_mask=False,
                                  perception={"outline_cells": cells})
            runs[cells] = sf
            whole[cells] |= {(i, g) for g, iou in best_ious(sf.result, sf.frame.mask, sf.depth,
                                                            3).items() if iou >= 0.5}
        before, after = ([d for _t, d in runs[c].result.detections] for c in (0, 1))
        assert len(before) == len(after)
        w = runs[1].frame.mask.shape[1]
        surface = np.concatenate([d.pixels for d in after])
        added_any = 0
        for a, b in zip(before, after):
            assert np.array_equal(a.pixels, b.pixels) and np.array_equal(a.points, b.points)
            assert np.allclose(a.box.center, b.box.center) and np.allclose(a.box.size, b.box.size)
            added = np.setdiff1d(b.mask_pixels, a.mask_pixels)
            added_any += len(added)
            assert not np.isin(added, surface).any()
            own = {(int(r) // 3, int(c) // 3) for r, c in zip(*np.divmod(b.pixels, w))}
            for r, c in zip(*np.divmod(added, w)):
                r, c = int(r) // 3, int(c) // 3
                assert any((r + dr, c + dc) in own for dr in (-1, 0, 1) for dc in (-1, 0, 1))
        assert added_any > 0, i
    assert whole[0] <= whole[1], f"lost {sorted(whole[0] - whole[1])}"
    assert len(whole[1] - whole[0]) >= 4, sorted(whole[1] - whole[0])


def test_noisy_tops_are_trimmed_by_the_noise():
    """The highest of many noisy points on a flat top lies sigmas above it; ``top_trim``
    takes one sigma off."""
    from spatial_ros.geometry import Pose
    from spatial_ros.perception.amodal import object_geometry
    rng = np.random.default_rng(3)
    faces = []
    for axis in range(3):  # a 0.1 m cube's faces, 0 <= x, y, z <= 0.1
        for side in (0.0, 0.1):
            f = rng.uniform(0.0, 0.1, (300, 3))
            f[:, axis] = side
            faces.append(f)
    cube = np.concatenate(faces) + [1.0, 0.0, 0.0]
    camera = Pose(rotation=np.eye(3), translation=np.zeros(3))
    quadratic = 0.004  # sigma at 1 m
    sigma = quadratic * float(np.linalg.norm(cube.mean(axis=0))) ** 2
    noisy = cube + rng.normal(0.0, sigma, cube.shape) * [0, 0, 1]
    heights = {}
    for trim in (0.0, 1.0):
        cfg = PerceptionConfig(noise_quadratic=quadratic, top_trim=trim, shape_classifier=False)
        box, *_ = object_geometry(noisy, cfg, camera, [])
        heights[trim] = float(box.size[2])
    over = float(noisy[:, 2].max() - noisy[:, 2].min()) - 0.1
    assert heights[0.0] - heights[1.0] == pytest.approx(sigma, rel=0.02)  # mean vs box range
    assert over > 2 * sigma  # the overshoot the trim takes part of
    assert abs(heights[1.0] - 0.1) < abs(heights[0.0] - 0.1)


def test_a_sphere_box_never_reaches_through_the_support_the_points_rest_on():
    """A ball on a table keeps its sphere box; a canister whose domed top fits a ball larger
    than itself (tabletop_4's wipes: a 30 cm box reaching 3 cm through the table) does not
    where a support lies under its points, and keeps it where none does."""
    from spatial_ros.perception.amodal import object_geometry

    rng = np.random.default_rng(4)
    camera = Pose(rotation=np.eye(3), translation=np.zeros(3))
    cfg = PerceptionConfig(shape_classifier=False)

    def cap(radius: float, centre_z: float, floor: float) -> np.ndarray:
        """Points of a sphere's surface above ``floor``, on the side facing the camera."""
        d = rng.normal(size=(4000, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p = d * radius + [0.8, 0.0, centre_z]
        return p[(p[:, 2] >= floor) & (d[:, 0] < 0.2)]

    ball = cap(0.05, 0.05, 0.002)  # resting on the table at z = 0
    *_, boxes = object_geometry(ball, cfg, camera, [0.0])
    assert "sphere" in boxes and abs(boxes["sphere"].center[2] - 0.05) < 0.005
    dome = cap(0.148, 0.117, 0.012)  # its sphere reaches 3 cm under the table
    *_, boxes = object_geometry(dome, cfg, camera, [0.0])
    assert "sphere" not in boxes
    assert abs(boxes["box"].center[2] - boxes["box"].size[2] / 2) < 1e-3  # down to the table
    *_, boxes = object_geometry(dome, cfg, camera, [])  # no support known under it
    assert "sphere" in boxes


def test_a_cylinder_box_only_for_a_footprint_that_can_hold_its_circle():
    """The cylinder box is the circle round an object's top: a can standing keeps it; a
    marker lying on the table shows a strip along its length on top, whose circle is a disc
    of seven times its volume (cylinder_footprint): it keeps its footprint's box."""
    from spatial_ros.perception.amodal import object_geometry

    rng = np.random.default_rng(5)
    camera = Pose(rotation=np.eye(3), translation=np.zeros(3))
    cfg = PerceptionConfig(shape_classifier=False)

    def cylinder(radius: float, length: float, lying: bool) -> np.ndarray:
        """The half of a cylinder's surface facing the camera (at the origin, looking along
        +x), on a table at z = 0, 0.8 m away; lying: its axis along y."""
        a = rng.uniform(-np.pi / 2, np.pi / 2, 3000)  # around the axis, towards the camera
        t = rng.uniform(0.0, length, 3000)  # along it
        if lying:
            p = np.stack([-radius * np.cos(a), t - length / 2, radius + radius * np.sin(a)], 1)
        else:
            p = np.stack([-radius * np.cos(a), radius * np.sin(a), t], 1)
            lid = rng.uniform(0, 1, (800, 2))
            r, b = radius * np.sqrt(lid[:, 0]), 2 * np.pi * lid[:, 1]
            p = np.concatenate([p, np.stack([r * np.cos(b), r * np.sin(b),
                                             np.full(800, length)], 1)])
        return p + [0.8, 0.0, 0.0]

    *_, boxes = object_geometry(cylinder(0.033, 0.10, lying=False), cfg, camera, [0.0])
    assert "cylinder" in boxes
    assert boxes["cylinder"].size[:2] == pytest.approx([0.066, 0.066], abs=0.006)
    marker = cylinder(0.009, 0.13, lying=True)
    *_, boxes = object_geometry(marker, cfg, camera, [0.0])
    assert "cylinder" not in boxes
    assert float(np.prod(boxes["box"].size)) < 2 * 0.13 * 0.018 * 0.018
    *_, boxes = object_geometry(marker, PerceptionConfig(shape_classifier=False,
                                                         cylinder_footprint=0.0), camera, [0.0])
    assert float(np.prod(boxes["cylinder"].size)) > 5 * 0.13 * 0.018 * 0.018  # the disc


def test_flying_pixels_a_mask_takes_in_are_left_out(tabletop):
    """The raw D435 puts readings between an object and what lies behind it at its outline;
    an instance mask takes them in. Left out (mask_flying), the boxes come back to their size;
    kept (0), they stretch the boxes towards the background."""
    import dataclasses

    from spatial_ros.perception.detect import _isolated
    from spatial_ros.sim.sensors import get_sensor

    frame, truth = tabletop
    depth = apply_sensor(frame.depth, frame.rgb, get_sensor("realsense_d435_raw"),
                         np.random.default_rng(0))
    # ideal depth has no flying pixels: nothing is left out
    ideal = np.where(np.isfinite(frame.depth), frame.depth, 0.0)
    assert not _isolated(ideal, frame.mask.astype(np.int32), 0.06).any()
    on = PerceptionConfig()
    errors = {}
    for name, cfg in (("on", on), ("off", dataclasses.replace(on, mask_flying=0.0))):
        dets, _ = detect_objects(frame.rgb, depth, frame.intrinsics, frame.camera_pose,
                                 frame.mask, config=cfg)
        found = {d.instance: d for d in dets}
        errors[name] = np.median([np.abs(np.sort(found[o.id].box.size) -
                                         np.sort(o.box.size)).max()
                                  for o in truth.objects if o.id in found])
    assert errors["on"] < 0.03 and errors["off"] > errors["on"] + 0.05, errors


def test_objects_beyond_the_workspace_are_not_objects():
    """The room world holds objects up to 5.5 m from its camera: with the tabletop default
    (2.5 m) those beyond are structure, counted in the report; 0 keeps them all; a box in the
    world frame keeps only what it holds."""
    from spatial_ros.perception.detect import in_workspace

    world = load_world(find_world("room"))
    renderer = Renderer(world, world.camera(None))
    frame = renderer.render(renderer.camera.optical_pose)
    cam = renderer.camera.optical_pose
    args = (frame.rgb, frame.depth, frame.intrinsics, cam, frame.mask)
    every, _ = detect_objects(*args, PerceptionConfig(workspace_range=0.0))
    near, report = detect_objects(*args, PerceptionConfig())
    far = [d for d in every if np.linalg.norm(d.centroid - cam.translation) > 2.5]
    assert far and report.beyond_workspace == len(far) == len(every) - len(near)
    assert all(np.linalg.norm(d.centroid - cam.translation) <= 2.5 for d in near)
    x = sorted(d.centroid[0] for d in every)
    box = (x[0] - 0.01, x[len(x) // 2] - 1e-6, -100.0, 100.0, -100.0, 100.0)
    boxed, _ = detect_objects(*args, PerceptionConfig(workspace_range=0.0, workspace_box=box))
    assert 0 < len(boxed) < len(every)
    assert all(in_workspace(d.centroid, cam, PerceptionConfig(workspace_range=0.0,
                                                              workspace_box=box)) for d in boxed)


@pytest.mark.parametrize("config, pattern", [
    (PerceptionConfig(workspace_box=(0.0, 1.0, 0.0, 1.0, 0.5, 0.5)), "workspace_box .* volume"),
    (PerceptionConfig(workspace_box=(0.0, 1.0)), "needs 6 numbers"),
    (PerceptionConfig(workspace_range=-1.0), "workspace_range -1.0: must be >= 0")])
def test_a_workspace_without_volume_is_refused_naming_the_parameter(config, pattern):
    with pytest.raises(ValueError, match=pattern):
        detect_objects(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32),
                       CameraIntrinsics(width=4, height=4, fx=4.0, fy=4.0, cx=2.0, cy=2.0),
                       Pose(rotation=np.eye(3), translation=np.zeros(3)), None, config)


def _table_against_a_wall(labelled_structure: bool, dist: float = 0.9):
    """A small table with legs, its back edge against a wall, on a floor; three objects, one
    touching the wall; a camera 0.9 m away looking down at it (the held-out mug table's
    failure class, built in the simulator). With ``labelled_structure`` the wall, table and
    floor carry labels 101-103, to tell what a detection lies on."""
    import math

    from spatial_ros.bench.generate import _camera, _slab, _visual
    from spatial_ros.sim.paths import look_at
    from spatial_ros.sim.sdf import SimModel, World

    top = 0.7
    table = [_slab("table", "top", [0.8, 0.6, 0.03], [0, 0, top - 0.015], [0.45, 0.3, 0.2])]
    table += [_slab("table", f"leg{i}", [0.04, 0.04, top - 0.03],
                    [sx * 0.36, sy * 0.26, (top - 0.03) / 2], [0.45, 0.3, 0.2])
              for i, (sx, sy) in enumerate([(-1, -1), (-1, 1), (1, -1), (1, 1)])]
    structure = {"wall": [_slab("wall", "back", [0.05, 5.0, 2.5], [0.425, 0, 1.25],
                                [0.85, 0.85, 0.82])],
                 "table": table,
                 "floor": [_slab("floor", "floor", [8, 8, 0.02], [0, 0, -0.01], [0.4, 0.35, 0.3])]}
    models = [SimModel(name=name, pose=Pose(), static=True, visuals=vs,
                       label=(100 + k) if labelled_structure else None)
              for k, (name, vs) in enumerate(structure.items(), start=1)]
    for label, (colour, shape, xy) in enumerate([("red", "box", (0.33, 0.1)),
                                                 ("blue", "cylinder", (0.0, -0.1)),
                                                 ("green", "box", (-0.15, 0.15))], start=1):
        size = np.array([0.08, 0.08, 0.12])
        pos = np.array([xy[0], xy[1], top + 0.06])
        models.append(SimModel(name=f"{colour}_{shape}", pose=Pose(translation=pos),
                               static=False, label=label,
                               visuals=[_visual(f"{colour}_{shape}", shape, size, pos, 0.0,
                                                colour)]))
    eye = np.array([-dist * math.cos(0.3), dist * math.sin(0.3), top + 0.45])
    pose = look_at(eye, np.array([0.05, 0.0, top]))
    world = World(name="wall_table", path=pathlib.Path("generated"), models=models,
                  cameras=[_camera(pose, 640, 480)])
    return world, pose


def _structure_and_objects(dist: float, old_rules: bool) -> list[int]:
    """What each class-agnostic detection of the wall-table scene lies on: 1-3 the objects,
    101 the wall, 102 the table (top, legs), 103 the floor."""
    import dataclasses

    from spatial_ros.sim.sensors import get_sensor

    world, pose = _table_against_a_wall(False, dist)
    frame = Renderer(world).render(pose)
    owner = Renderer(_table_against_a_wall(True, dist)[0]).render(pose).mask
    sensor = get_sensor("realsense_d435")
    depth = apply_sensor(frame.depth, frame.rgb, sensor, np.random.default_rng(0))
    # the rules' structure tests, apart from the learned segmenter's objectness
    config = PerceptionConfig(noise_quadratic=sensor.sigma_quadratic, segmentation="geometric")
    if old_rules:
        config = dataclasses.replace(config, structure_border_sides=0, support_part_span=0.0,
                                     support_min_fraction=1.0, flat_height=0.0)
    dets, _report = detect_objects(frame.rgb, depth, frame.intrinsics, pose, None, config)
    return sorted(int(np.bincount(owner.ravel()[d.pixels], minlength=256).argmax())
                  for d in dets)


def test_the_floor_and_the_tables_parts_are_structure():
    """The floor beyond the table holds 10 % of the readings: a level, large, connected plane
    is a support from 3 % (it was left as three flat 'objects'); legs and edges hanging under
    the table top are its parts (the two nearest legs' tops are hidden under the top, seen
    from above, and stay: a limit). Each object is found once."""
    old = _structure_and_objects(0.9, old_rules=True)
    assert old.count(103) == 3 and old.count(102) == 3, old  # the failure the rules fix
    new = _structure_and_objects(0.9, old_rules=False)
    assert [k for k in new if k < 100] == [1, 2, 3], new
    assert 101 not in new and 103 not in new, new
    assert new.count(102) < old.count(102), new


def test_coplanar_object_tops_are_no_support():
    """Close by, the three boxes' tops (all 12 cm tall) make a level plane that holds 3 % of
    the readings and spans 0.5 m: it is no support (its inliers are three patches, not one
    surface), so the boxes are not taken for its parts and all three are found."""
    new = _structure_and_objects(0.5, old_rules=False)
    assert [k for k in new if k < 100] == [1, 2, 3], new
    assert 101 not in new, new


def test_a_larger_frame_is_sampled_at_the_working_resolution():
    """A frame wider than working_width takes a stride scaled to its width: 640 and 848 wide
    at 3, 1280 x 720 at 4, 1920 at 6; 0 keeps the stride as set. A 1280 x 720 SpatialBench
    frame's detections then lie on the 4-pixel grid and its objects are found."""
    from spatial_ros.bench.relations import match_detections, scene_frames
    from spatial_ros.perception.detect import frame_stride

    cfg = PerceptionConfig()
    assert [frame_stride(w, cfg) for w in (320, 640, 848, 1280, 1920)] == [3, 3, 3, 4, 6]
    assert frame_stride(1920, PerceptionConfig(working_width=0)) == 3
    assert frame_stride(1280, PerceptionConfig(stride=2)) == 3
    sf = next(iter(scene_frames("household_val", 0, 1, "realsense_d435", frames=1,
                                width=1280, height=720, use_mask=False)))
    assert sf.result.detections
    for _track, det in sf.result.detections:
        rows, cols = np.divmod(det.pixels, 1280)
        assert not (rows % 4).any() and not (cols % 4).any()
    visible = [k for k in np.unique(sf.frame.mask) if k and (sf.frame.mask == k).sum() >= 800]
    assert len(match_detections(sf.result, sf.frame.mask)) >= len(visible) - 1 >= 3


def test_depth_registered_from_a_lower_resolution_still_gives_the_objects():
    """Depth of a lower resolution registered into the colour image reads in one pixel of
    each 2 x 2 (the `lowres_registered` preset): the strided grid met mostly holes and no
    object came out. Each grid cell takes a reading of its block where the block lies on one
    surface, so the objects are found; a hole at a depth edge stays a hole."""
    import dataclasses

    from spatial_ros.bench.relations import match_detections, scene_frames
    from spatial_ros.perception.detect import block_sample
    from spatial_ros.sim.sensors import PRESETS

    sf = next(iter(scene_frames("household_val", 0, 1, "lowres_registered", frames=1,
                                width=640, height=480, use_mask=False)))
    depth = sf.depth
    assert np.isfinite(depth).sum() < 0.3 * np.isfinite(sf.frame.depth).sum()
    found = match_detections(sf.result, sf.frame.mask)
    visible = [k for k in np.unique(sf.frame.mask) if k and (sf.frame.mask == k).sum() >= 200]
    assert len(found) >= len(visible) - 1 >= 3, (sorted(found), visible)
    # the plain grid: every third pixel, most of them holes
    plain = depth[::3, ::3]
    grid = block_sample(depth, 3, 0.03)
    assert np.isfinite(grid).mean() > 2 * np.isfinite(plain).mean()
    # an edge: a block with readings 1 m and 2 m away gets none
    edge = np.full((3, 3), np.nan, np.float32)
    edge[1, 1], edge[2, 2] = 1.0, 2.0
    assert np.isnan(block_sample(edge, 3, 0.03)[0, 0])
    edge[2, 2] = 1.01
    assert block_sample(edge, 3, 0.03)[0, 0] == 1.0  # one surface: a real reading of it
    assert dataclasses.replace(PRESETS["lowres_registered"], lattice=0).lattice == 0
