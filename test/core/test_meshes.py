"""Mesh geometry in the simulator: household meshes made in code, read back in every format,
rendered from SDF worlds with exact ground truth, and bad mesh files refused by name."""
import numpy as np
import pytest

from spatial_ros.errors import SdfError, SpatialRosError
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.sim.household import HOUSEHOLD, household_mesh, write_mesh
from spatial_ros.sim.meshes import load_mesh
from spatial_ros.sim.paths import find_world
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sdf import load_world


def _edge_uses(triangles):
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    return np.unique(edges, axis=0, return_counts=True)[1]


@pytest.mark.parametrize("kind", list(HOUSEHOLD))
def test_household_meshes_are_closed_surfaces_of_their_size(kind):
    v, t = household_mesh(kind)
    assert set(_edge_uses(t).tolist()) == {2}  # closed, manifold: every edge has two triangles
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-9)  # stands on z = 0
    w, d, h = HOUSEHOLD[kind][1]
    extent = v.max(axis=0) - v.min(axis=0)
    if kind == "mug":  # the handle sticks out beside it
        assert extent[0] > w * 1.3 and extent[1] == pytest.approx(d, rel=0.01)
    else:
        assert np.allclose(extent, [w, d, h], rtol=0.02), extent
    v2, _ = household_mesh(kind, scale=1.5, rng=np.random.default_rng(3))
    ratio = (v2.max(axis=0) - v2.min(axis=0)) / extent
    assert np.all((ratio > 1.5 * 0.85 - 1e-9) & (ratio < 1.5 * 1.15 + 1e-9))
    assert not np.allclose(ratio, ratio[0])  # proportions vary, not only the size


def test_unknown_household_objects_and_scales_are_refused():
    with pytest.raises(SpatialRosError, match="unknown household object 'teapot'"):
        household_mesh("teapot")
    with pytest.raises(SpatialRosError, match="scale must lie in"):
        household_mesh("mug", scale=100)


@pytest.mark.parametrize("suffix", [".obj", ".stl", ".ply", ".dae"])
def test_every_format_reads_back_what_was_written(tmp_path, suffix):
    v, t = household_mesh("bottle")
    path = write_mesh(tmp_path / f"bottle{suffix}", v, t)
    m = load_mesh(path, scale=(2.0, 2.0, 1.0))
    assert np.allclose(m.extent, (v.max(0) - v.min(0)) * [2, 2, 1], atol=1e-5)
    assert len(m.triangles) == len(t) and m.path == path
    if suffix == ".dae":  # the same mesh, the same bytes (no dates, no random ids)
        again = write_mesh(tmp_path / "again.dae", v, t)
        assert again.read_bytes() == path.read_bytes()


def _world(tmp_path, uri, scale="1 1 1", pose="0.1 0.2 0.75 0 0 1.2"):
    (tmp_path / "world.sdf").write_text(f"""<?xml version="1.0"?>
<sdf version="1.9"><world name="w">
  <model name="floor"><static>true</static><link name="l"><visual name="v">
    <geometry><plane><normal>0 0 1</normal><size>5 5</size></plane></geometry></visual>
  </link></model>
  <model name="mug_3"><pose>{pose}</pose><link name="l"><visual name="v">
    <geometry><mesh><uri>{uri}</uri><scale>{scale}</scale></mesh></geometry>
    <material><diffuse>0.9 0.1 0.1 1</diffuse></material>
    <plugin filename="gz-sim-label-system" name="gz::sim::systems::Label"><label>3</label></plugin>
  </visual></link></model>
  <model name="cam"><static>true</static><pose>-0.6 0.2 1.2 0 0.6 0</pose><link name="l">
    <sensor name="c" type="rgbd_camera"><camera><horizontal_fov>1.0</horizontal_fov>
      <image><width>160</width><height>120</height></image></camera></sensor>
  </link></model>
</world></sdf>""")
    return tmp_path / "world.sdf"


def test_a_mesh_world_renders_with_exact_ground_truth(tmp_path):
    v, t = household_mesh("mug")
    write_mesh(tmp_path / "meshes" / "mug.obj", v + [0.3, 0.0, 0.0], t)  # origin off its centre
    world = load_world(_world(tmp_path, "meshes/mug.obj", scale="0.5 0.5 0.5"))
    (model,) = world.objects
    assert model.visuals[0].geometry == "mesh"
    fr = Renderer(world).render()
    assert (fr.mask == 3).sum() > 50 and np.isfinite(fr.depth[fr.mask == 3]).all()
    (obj,) = ground_truth(world, Renderer(world)).objects
    assert obj.label == "mug" and obj.color == "red"
    extent = (v.max(0) - v.min(0)) * 0.5
    assert np.allclose(obj.box.size, extent)
    # the box centre: the mesh's own centre (0.15 m along the model's x, at yaw 1.2) and pose
    local = (v.min(0) + v.max(0)) / 2 * 0.5 + [0.15, 0.0, 0.0]
    c, s = np.cos(1.2), np.sin(1.2)
    expect = np.array([0.1, 0.2, 0.75]) + [c * local[0] - s * local[1],
                                          s * local[0] + c * local[1], local[2]]
    assert np.allclose(obj.box.center, expect, atol=1e-9)
    # the rendered depth agrees with the ground-truth box: the nearest surface lies in it
    pts = fr.intrinsics.ray_directions().reshape(120, 160, 3)[fr.mask == 3] \
        * fr.depth[fr.mask == 3][:, None]
    world_pts = pts @ fr.camera_pose.rotation.T + fr.camera_pose.translation
    lo, hi = obj.box.aabb()
    assert np.all((world_pts > lo - 1e-3) & (world_pts < hi + 1e-3))


def test_bad_mesh_files_are_errors_naming_the_file(tmp_path):
    v, t = household_mesh("can")
    write_mesh(tmp_path / "can.stl", v, t)
    (tmp_path / "empty.obj").write_text("")
    (tmp_path / "blank.obj").write_text("# nothing\n")
    (tmp_path / "can.fbx").write_text("x")
    # three triangles on one edge: not a surface
    (tmp_path / "fin.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\n"
                                      "f 1 2 3\nf 1 2 4\nf 1 2 5\n")
    cases = [("missing.obj", "1 1 1", "mesh file 'missing.obj' not found"),
             ("empty.obj", "1 1 1", "empty.obj: mesh file is empty"),
             ("blank.obj", "1 1 1", "blank.obj: mesh has no triangles"),
             ("can.fbx", "1 1 1", "can.fbx: unsupported mesh format '.fbx'"),
             ("fin.obj", "1 1 1", "fin.obj: mesh is not manifold: 1 edges"),
             ("can.stl", "1000 1000 1000", "can.stl: mesh of visual 'v' in model 'mug_3' is "
                                           "100 m across, larger than the world \\(5 m\\)"),
             ("can.stl", "1 -1 1", "can.stl: mesh scale must be three positive numbers")]
    for name, scale, message in cases:
        with pytest.raises(SdfError, match=message):
            load_world(_world(tmp_path, name, scale=scale))


def test_the_household_world_has_every_object_and_format():
    world = load_world(find_world("household"))
    kinds = {" ".join(m.name.split("_")) for m in world.objects}
    assert kinds == set(HOUSEHOLD)
    formats = {m.visuals[0].mesh.path.suffix for m in world.objects}
    assert formats == {".obj", ".stl", ".ply", ".dae"}
    renderer = Renderer(world)
    fr = renderer.render()
    assert set(np.unique(fr.mask)) == {0, *range(1, 9)}
    truth = ground_truth(world, renderer)
    assert {o.label for o in truth.objects} == set(HOUSEHOLD)
    tops = {o.label: o.box.aabb()[0][2] for o in truth.objects}
    assert all(abs(z - 0.77) < 1e-6 for z in tops.values()), tops  # all stand on the table
