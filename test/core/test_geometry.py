import math

import numpy as np
import pytest

from spatial_ros.errors import CameraInfoError
from spatial_ros.geometry import (
    CameraIntrinsics,
    Pose,
    matrix_to_quat,
    percentile,
    quat_to_matrix,
    take_rows,
)


def test_from_hfov_matches_gazebo_formula():
    intr = CameraIntrinsics.from_hfov(width=640, height=480, hfov=1.047)
    assert intr.fx == pytest.approx(640 / (2 * math.tan(1.047 / 2)))
    assert intr.fy == intr.fx
    assert (intr.cx, intr.cy) == (320.0, 240.0)


@pytest.mark.parametrize("kwargs, field", [
    ({"width": 0, "height": 480, "hfov": 1.0}, "width=0"),
    ({"width": 640, "height": -1, "hfov": 1.0}, "height=-1"),
    ({"width": 640, "height": 480, "hfov": 0.0}, "horizontal_fov=0.0"),
    ({"width": 640, "height": 480, "hfov": -0.5}, "horizontal_fov=-0.5"),
    ({"width": 640, "height": 480, "hfov": math.pi}, "horizontal_fov"),
])
def test_from_hfov_rejects_bad_cameras(kwargs, field):
    with pytest.raises(CameraInfoError, match=field):
        CameraIntrinsics.from_hfov(**kwargs)


def test_bad_focal_length_is_rejected():
    with pytest.raises(CameraInfoError, match="fx=0"):
        CameraIntrinsics(width=10, height=10, fx=0, fy=1, cx=5, cy=5)


def test_backproject_then_project_is_identity():
    intr = CameraIntrinsics.from_hfov(width=64, height=48, hfov=1.2)
    depth = np.full((48, 64), 2.0, np.float32)
    depth[0, 0] = np.nan
    pts = intr.backproject(depth)
    assert np.isnan(pts[0, 0]).all()
    uv = intr.project(pts[5:7, 10:12].reshape(-1, 3))
    np.testing.assert_allclose(uv, [[10, 5], [11, 5], [10, 6], [11, 6]], atol=1e-4)


def test_backproject_rejects_wrong_size():
    intr = CameraIntrinsics.from_hfov(width=64, height=48, hfov=1.2)
    with pytest.raises(CameraInfoError, match="depth image is 10x10 but the camera is 64x48"):
        intr.backproject(np.ones((10, 10), np.float32))


@pytest.mark.parametrize("seed", range(5))
def test_quaternion_roundtrip(seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    q = -q if q[3] < 0 else q
    r = quat_to_matrix(q)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(matrix_to_quat(r), q, atol=1e-9)


def test_pose_compose_and_inverse():
    a = Pose(rotation=quat_to_matrix((0, 0, math.sin(0.4), math.cos(0.4))),
             translation=np.array([1.0, 2.0, 3.0]))
    ident = a @ a.inverse()
    np.testing.assert_allclose(ident.matrix, np.eye(4), atol=1e-12)
    p = np.array([[0.5, -1.0, 2.0]])
    np.testing.assert_allclose(a.inverse().apply(a.apply(p)), p, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
def test_percentile_gives_what_numpy_gives_bit_for_bit(dtype):
    """The perception's fast percentile: numpy's values and dtype exactly (one quantile or
    several, 1-D or per column); numpy itself answers NaN and empty arrays."""
    rng = np.random.default_rng(3)
    seen = 0
    for n in (1, 2, 5, 64, 999):
        a = (rng.normal(size=n) * 40).astype(dtype) if dtype in (np.float32, np.float64) \
            else rng.integers(0, 250, n).astype(dtype)
        for q in (0, 2, 50, 75, 95, 100, [2, 98], [5, 50, 95]):
            want, got = np.percentile(a, q), percentile(a, q)
            assert np.asarray(got).dtype == np.asarray(want).dtype
            assert np.array_equal(np.asarray(got), np.asarray(want)), (n, q)
            seen += 1
        cols = np.stack([a, a[::-1]], axis=1)
        for q in (2, [2, 98]):
            want, got = np.percentile(cols, q, axis=0), percentile(cols, q, axis=0)
            assert got.shape == want.shape and got.dtype == want.dtype
            assert np.array_equal(got, want)
    assert seen == 40
    if dtype in (np.float32, np.float64):
        with_nan = np.array([1.0, np.nan, 3.0], dtype)
        for fn in (np.percentile, percentile):  # an empty array: numpy's own error
            with pytest.raises(IndexError):
                fn(np.array([], dtype), 50)
        assert np.isnan(percentile(with_nan, 50)) and np.isnan(percentile(with_nan, [5, 95])).all()


def test_take_rows_gives_what_indexing_gives():
    a = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    mask = a[:, 0] > 0
    index = np.array([4, 2, 2, 49])
    for which in (mask, index, np.flatnonzero(mask), np.zeros(50, bool)):
        got = take_rows(a, which)
        assert got.dtype == a.dtype and np.array_equal(got, a[which])
