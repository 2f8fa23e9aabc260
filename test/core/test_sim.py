"""SDF loading (good and bad input), rendering, sensor models and ground truth."""
import math

import numpy as np
import pytest

from spatial_ros.errors import SdfError
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.sim.paths import CameraPath, find_world
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sdf import load_world
from spatial_ros.sim.sensors import PRESETS, apply_sensor, get_sensor

from ..conftest import ROOT

WORLDS = ROOT / "sim" / "worlds"

CAMERA = """<model name="camera"><static>true</static><pose>-1 0 0.5 0 0 0</pose><link name="l">
  <sensor name="cam" type="rgbd_camera"><camera><horizontal_fov>{hfov}</horizontal_fov>
  <image><width>{w}</width><height>{h}</height></image></camera></sensor></link></model>"""


def write_world(tmp_path, body: str, *, camera: str | None = None, name="w.sdf"):
    cam = camera if camera is not None else CAMERA.format(hfov=1.0, w=64, h=48)
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?><sdf version="1.9"><world name="t">{body}{cam}'
                    "</world></sdf>")
    return path


BOX = """<model name="{name}"><pose {attrs}>{pose}</pose><link name="link"><visual name="v">
  <geometry>{geo}</geometry><material><diffuse>1 0 0 1</diffuse></material>
  <plugin filename="gz-sim-label-system" name="gz::sim::systems::Label"><label>{label}</label>
  </plugin></visual></link></model>"""


def box(name="b", pose="0 0 0.5 0 0 0", geo="<box><size>0.2 0.2 0.2</size></box>", label=1,
        attrs=""):
    return BOX.format(name=name, pose=pose, geo=geo, label=label, attrs=attrs)


@pytest.mark.parametrize("name", ["tabletop", "shelf", "room"])
def test_shipped_worlds_load_and_render(name):
    world = load_world(WORLDS / f"{name}.sdf")
    assert 5 <= len(world.objects) <= 8
    frame = Renderer(world).render()
    assert frame.rgb.shape == (480, 640, 3) and frame.depth.dtype == np.float32
    visible = set(np.unique(frame.mask)) - {0}
    assert visible == {m.label for m in world.objects}
    assert np.isfinite(frame.depth).mean() > 0.5


def test_depth_is_along_the_optical_axis(tmp_path):
    # A wall 2 m in front of the camera: every pixel reads 2 m (z-depth, not ray length).
    wall = box(pose="1 0 0.5 0 0 0", geo="<box><size>0.01 20 20</size></box>")
    world = load_world(write_world(tmp_path, wall))
    frame = Renderer(world).render()
    np.testing.assert_allclose(frame.depth, 1.995, atol=1e-4)
    assert (frame.mask == 1).all()


def test_relative_to_and_degrees(tmp_path):
    body = (box(name="a", pose="1 0 0 0 0 0")
            + box(name="b", pose="0 0 0.5 0 0 90", attrs='relative_to="a" degrees="true"'))
    world = load_world(write_world(tmp_path, body))
    b = next(m for m in world.models if m.name == "b")
    np.testing.assert_allclose(b.pose.translation, [1, 0, 0.5])
    np.testing.assert_allclose(b.pose.rotation[:, 0], [0, 1, 0], atol=1e-12)


def test_include_model_uri(tmp_path):
    model_dir = tmp_path / "models" / "crate"
    model_dir.mkdir(parents=True)
    (model_dir / "model.sdf").write_text(f'<sdf version="1.9">{box(name="crate", label=3)}</sdf>')
    body = "<include><uri>model://crate</uri><name>crate1</name><pose>1 0 0 0 0 0</pose></include>"
    world = load_world(write_world(tmp_path, body))
    assert [m.name for m in world.objects] == ["crate1"]
    # The include's pose replaces the model's own pose (SDF semantics).
    np.testing.assert_allclose(world.objects[0].visuals[0].pose.translation, [1, 0, 0])
    body = "<include><uri>model://crate</uri></include>"
    world = load_world(write_world(tmp_path, body, name="w2.sdf"))
    np.testing.assert_allclose(world.objects[0].visuals[0].pose.translation, [0, 0, 0.5])


@pytest.mark.parametrize("body, camera, pattern", [
    (box(geo="<capsule><radius>1</radius><length>1</length></capsule>"), None,
     r"<capsule>: unsupported geometry in visual 'v'; supported: box, cylinder, sphere, plane"),
    (box(geo="<mesh><uri>meshes/missing.dae</uri></mesh>"), None,
     r"<uri>: mesh file 'meshes/missing.dae' not found"),
    (box(geo="<box><size>0.2 0.2</size></box>"), None,
     r"<size>: box size: expected 3 numbers, got '0.2 0.2'"),
    (box(geo="<sphere><radius>-1</radius></sphere>"), None, r"<sphere>: sizes must be positive"),
    ("<include><uri>model://nowhere</uri></include>", None,
     r"model 'model://nowhere' not found in the model search path"),
    ("<heightmap/>", None, r"<heightmap>: unsupported element inside <world name='t'>"),
    (box(), CAMERA.format(hfov=1.0, w=0, h=48),
     r"<image>: camera 'cam': width and height must be positive integers, got width=0"),
    (box(), CAMERA.format(hfov=1.0, w=64, h=-5), r"height=-5"),
    (box(), CAMERA.format(hfov=0.0, w=64, h=48),
     r"<horizontal_fov>: camera 'cam': horizontal_fov must lie in \(0, pi\) rad, got 0"),
    (box(), CAMERA.format(hfov=-1, w=64, h=48), r"horizontal_fov must lie in"),
    (box(pose="0 0 0 0 0 0", attrs='relative_to="ghost"'), None,
     r"relative_to='ghost' of 'b' names no frame"),
])
def test_bad_sdf_raises_naming_file_and_element(tmp_path, body, camera, pattern):
    path = write_world(tmp_path, body, camera=camera)
    with pytest.raises(SdfError, match=pattern) as err:
        load_world(path)
    assert str(path) in str(err.value)


def test_malformed_xml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.sdf"
    bad.write_text("<sdf><world name='x'><model></world></sdf>")
    with pytest.raises(SdfError, match=r"bad.sdf: malformed XML: mismatched tag"):
        load_world(bad)
    with pytest.raises(SdfError, match=r"nope.sdf: SDF file not found"):
        load_world(tmp_path / "nope.sdf")
    with pytest.raises(SdfError, match=r"world 'atlantis' not found"):
        find_world("atlantis")


def test_world_without_camera_names_it(tmp_path):
    world = load_world(write_world(tmp_path, box(), camera=""))
    with pytest.raises(SdfError, match="no camera sensor named None"):
        world.camera()


def test_sensor_presets_are_deterministic_and_shaped():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.2, 6.0, (48, 64)).astype(np.float32)
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ideal = apply_sensor(depth, rgb, "ideal", np.random.default_rng(1))
    np.testing.assert_array_equal(ideal, depth)
    assert np.isnan(apply_sensor(depth, rgb, "rgb_only", np.random.default_rng(1))).all()
    for name in ("realsense_d435", "realsense_d435_raw", "kinect"):
        a = apply_sensor(depth, rgb, name, np.random.default_rng(7))
        b = apply_sensor(depth, rgb, name, np.random.default_rng(7))
        np.testing.assert_array_equal(a, b)
        assert not (a[np.isfinite(a)] < PRESETS[name].min_range).any()  # no reading too near
        if not PRESETS[name].flying_pixels:  # (a flying pixel may lie between two surfaces)
            assert np.isnan(a[depth < PRESETS[name].min_range * 0.9]).all()
    with pytest.raises(Exception, match="unknown sensor preset 'lidar'"):
        get_sensor("lidar")


def test_realsense_noise_grows_with_square_of_depth():
    flat = np.ones((200, 200), np.float32)
    rgb = np.full((200, 200, 3), 200, np.uint8)
    errs = []
    for z in (1.0, 3.0):
        out = apply_sensor(flat * z, rgb, "realsense_d435", np.random.default_rng(0))
        errs.append(np.nanstd(out - z))
    assert 6.0 < errs[1] / errs[0] < 12.0  # about 9x for 3x the depth


def test_raw_realsense_artefacts_are_where_a_stereo_camera_has_them():
    """A box 0.6 m away in front of a wall at 1.2 m, 160 px wide, fx = 130 px: the left band is
    fx * B / z = 5.4 px at the wall, the shadow left of the box is fx * B * (1/0.6 - 1/1.2) =
    5.4 px; flying pixels lie between the two surfaces; bright grey surfaces lose depth in
    blobs; dark ones less often than the D435 preset assumes."""
    h, w = 120, 160
    depth = np.full((h, w), 1.2, np.float32)
    depth[40:80, 80:120] = 0.6
    rgb = np.full((h, w, 3), 120, np.uint8)
    raw = apply_sensor(depth, rgb, "realsense_d435_raw", np.random.default_rng(3), fx=130.0)
    missing = np.isnan(raw)
    assert missing[:, :4].mean() > 0.95 and missing[:, 8:70].mean() < 0.05  # left band only
    assert missing[45:75, 75:79].mean() > 0.9  # the stereo shadow left of the box
    assert missing[45:75, 121:160].mean() < 0.05  # none right of it
    between = (raw > 0.65) & (raw < 1.15)
    assert 0 < between.sum() and between[:, 70:130].sum() == between.sum()  # at the box's edge
    assert np.isnan(apply_sensor(depth, rgb, "realsense_d435", np.random.default_rng(3))
                    [45:75, 75:79]).mean() < 0.5  # the D435 preset has no shadow
    shiny = rgb.copy()
    shiny[:, :] = 245
    holes = np.isnan(apply_sensor(depth, shiny, "realsense_d435_raw", np.random.default_rng(3),
                                  fx=130.0))[10:110, 20:150]
    assert 0.4 < holes.mean() < 0.8
    # in blobs: a hole's neighbour is a hole far more often than chance
    assert (holes[:, 1:] & holes[:, :-1]).mean() / holes.mean() > 0.85
    dark = np.full_like(rgb, 20)
    lost = [np.isnan(apply_sensor(depth, dark, p, np.random.default_rng(3), fx=130.0))
            [10:110, 20:70].mean() for p in ("realsense_d435", "realsense_d435_raw")]
    assert lost[1] < lost[0] * 0.5


def test_the_stereo_window_ramps_depth_edges_as_the_real_d435_frames_do():
    """realsense_d435_window, the raw D435 with the stereo matcher's window (a box 0.6 m away in
    front of a wall at 1.2 m, as above): the stereo shadow left of the box is a hole in about a
    third of its pixels instead of all of them, and across the box's left edge the depth ramps
    from the wall to the box over the window's 7 px (the real frames' left edges: 20-36 %
    holes, a ramp over about 7 px); the right edge stays sharp in the median, a fifth of the
    pixels beside it reading between the surfaces; its noise is long waves, not independent
    per pixel (the real frames' tables: neighbours' residuals correlate 0.98)."""
    h, w = 120, 160
    depth = np.full((h, w), 1.2, np.float32)
    depth[40:80, 80:120] = 0.6
    rgb = np.full((h, w, 3), 120, np.uint8)
    raw = apply_sensor(depth, rgb, "realsense_d435_raw", np.random.default_rng(3), fx=130.0)
    win = apply_sensor(depth, rgb, "realsense_d435_window", np.random.default_rng(3), fx=130.0)
    assert np.isnan(raw[45:75, 75:80]).mean() > 0.9
    assert 0.15 < np.isnan(win[45:75, 75:80]).mean() < 0.5
    assert np.isnan(win[:, :4]).mean() > 0.95  # the left band as the raw preset's
    ramp = np.nanmedian(win[45:75, 76:84], axis=0)  # wall -> box across the left edge
    assert (np.diff(ramp) < 0).all() and ramp[0] > 1.1 and ramp[-1] < 0.7
    assert ((ramp > 0.65) & (ramp < 1.15)).sum() >= 5  # between the surfaces over 5+ px
    edge = np.nanmedian(win[45:75, 117:122], axis=0)  # the right edge: sharp in the median
    assert edge[0] == pytest.approx(0.6, abs=0.01) and edge[-1] == pytest.approx(1.2, abs=0.01)
    assert ((edge > 0.65) & (edge < 1.15)).sum() <= 2
    between = (win[45:75, 114:126] > 0.65) & (win[45:75, 114:126] < 1.15)
    assert 0.05 < between.mean() < 0.3
    # away from the edges the noise is the raw preset's in size but long waves, as on the real
    # frames' tables: neighbours' errors correlate, the raw preset's do not
    def neighbours(d):
        a, b = d[10:110, 20:69] - 1.2, d[10:110, 21:70] - 1.2
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert neighbours(raw) < 0.2 and neighbours(win) > 0.8
    assert np.nanstd(win[10:110, 20:70]) == pytest.approx(np.nanstd(raw[10:110, 20:70]), rel=0.5)


def test_ground_truth_relations_of_tabletop():
    world = load_world(WORLDS / "tabletop.sdf")
    graph = ground_truth(world, Renderer(world))
    names = {o.id: f"{o.color} {o.label}" for o in graph.objects}
    facts = {(names[r.subject], r.predicate, names[r.object]) for r in graph.relations}
    assert ("green box", "on_top_of", "blue box") in facts
    assert ("orange sphere", "inside", "grey bin") in facts
    assert ("blue box", "occludes", "purple sphere") in facts
    assert ("purple sphere", "occludes", "blue box") not in facts
    assert all(0.5 <= r.confidence <= 1.0 for r in graph.relations)


def test_orbit_path_keeps_height_and_target():
    world = load_world(WORLDS / "tabletop.sdf")
    base = world.camera().optical_pose
    path = CameraPath(base, mode="orbit", period=8.0)
    p0, p2 = path.pose(0.0), path.pose(2.0)
    np.testing.assert_allclose(p0.translation, base.translation, atol=1e-9)
    assert p2.translation[2] == pytest.approx(base.translation[2])
    to_target = path.target - p2.translation
    np.testing.assert_allclose(p2.rotation[:, 2], to_target / np.linalg.norm(to_target))
    assert not math.isclose(p2.translation[1], p0.translation[1])


def test_light_and_ambient_round_trip_through_sdf(tmp_path):
    from spatial_ros.sim.sdf_writer import world_to_sdf

    world = load_world(find_world("tabletop"))  # <direction>-0.3 -0.2 -0.9</direction>
    np.testing.assert_allclose(world.light, np.array([0.3, 0.2, 0.9]) / math.sqrt(0.94),
                               atol=1e-9)
    world.light, world.ambient = (0.6, 0.0, 0.8), 0.3
    (tmp_path / "w.sdf").write_text(world_to_sdf(world))
    again = load_world(tmp_path / "w.sdf")
    np.testing.assert_allclose(again.light, (0.6, 0.0, 0.8), atol=1e-6)
    assert again.ambient == pytest.approx(0.3)
    text = (tmp_path / "w.sdf").read_text()
    for bad, pattern in (("<ambient>0.3000 0.3000 0.3000 1</ambient>",
                          "scene ambient: expected 3 or 4 numbers in 0..1"),
                         ("<direction>-0.600000 -0.000000 -0.800000</direction>",
                          "light direction must not be zero")):
        fixed = text.replace(bad, "<ambient>2 2 2 1</ambient>" if "ambient" in bad
                             else "<direction>0 0 0</direction>")
        (tmp_path / "bad.sdf").write_text(fixed)
        with pytest.raises(SdfError, match=pattern):
            load_world(tmp_path / "bad.sdf")
