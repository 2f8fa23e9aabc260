"""sensor_msgs/Image and CameraInfo conversions, and scene graph <-> message round trips."""
import array
import math

import numpy as np
import pytest
from sensor_msgs.msg import Image

from spatial_ros.errors import CameraInfoError, ImageConversionError
from spatial_ros.geometry import CameraIntrinsics, quat_to_matrix
from spatial_ros.ros import conversions as conv
from spatial_ros.scene import OrientedBox, Relation, SceneGraph, SceneObject
from spatial_ros.vocabulary import Frame, Source

RNG = np.random.default_rng(0)


def raw_image(pixels: np.ndarray, encoding: str, *, pad: int = 0, bigendian: bool = False):
    """An Image built by hand (not by the code under test), with `pad` bytes per row."""
    px = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<"))
    h, w = px.shape[:2]
    rows = px.reshape(h, -1).view(np.uint8).reshape(h, -1)
    padded = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return Image(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian),
                 step=padded.shape[1], data=array.array("B", padded.tobytes()))


COLOR = RNG.integers(0, 256, (6, 5, 4), dtype=np.uint8)


@pytest.mark.parametrize("encoding, pixels, expected_rgb", [
    ("rgb8", COLOR[..., :3], COLOR[..., :3]),
    ("bgr8", COLOR[..., :3], COLOR[..., 2::-1]),
    ("rgba8", COLOR, COLOR[..., :3]),
    ("bgra8", COLOR, COLOR[..., 2::-1]),
    ("mono8", COLOR[..., 0], np.repeat(COLOR[..., :1], 3, axis=2)),
])
@pytest.mark.parametrize("pad", [0, 3])
def test_colour_encodings_decode_with_row_padding(encoding, pixels, expected_rgb, pad):
    msg = raw_image(np.ascontiguousarray(pixels), encoding, pad=pad)
    np.testing.assert_array_equal(conv.image_to_rgb(msg), expected_rgb)
    np.testing.assert_array_equal(conv.image_to_numpy(msg), pixels)


def test_rgb8_decode_is_zero_copy():
    msg = conv.numpy_to_image(COLOR[..., :3].copy(), "rgb8")
    out = conv.image_to_rgb(msg)
    if conv.BACKEND == "numpy":
        assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 2])
def test_16uc1_is_millimetres_to_metres_with_zero_as_nan(bigendian, pad):
    mm = np.array([[0, 1000, 65535], [250, 1, 4000]], np.uint16)
    depth = conv.image_to_depth(raw_image(mm, "16UC1", pad=pad, bigendian=bigendian))
    assert depth.dtype == np.float32
    assert math.isnan(depth[0, 0])
    np.testing.assert_allclose(depth[0, 1:], [1.0, 65.535], rtol=1e-6)
    np.testing.assert_allclose(depth[1], [0.25, 0.001, 4.0], rtol=1e-6)


@pytest.mark.parametrize("bigendian", [False, True])
def test_32fc1_invalid_values_become_nan(bigendian):
    m = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, -2.0]], np.float32)
    depth = conv.image_to_depth(raw_image(m, "32FC1", pad=4, bigendian=bigendian))
    assert depth[0, 0] == pytest.approx(1.5)
    assert np.isnan(depth.ravel()[1:]).all()


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_depth_encode_decode_roundtrip(encoding):
    d = RNG.uniform(0.2, 8.0, (48, 64)).astype(np.float32)
    d[3, 4] = np.nan
    back = conv.image_to_depth(conv.depth_to_image(d, encoding))
    assert np.isnan(back[3, 4])
    ok = ~np.isnan(d)
    np.testing.assert_allclose(back[ok], d[ok], atol=0.0006 if encoding == "16UC1" else 0)


def test_numpy_to_image_roundtrip_640x480():
    rgb = RNG.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    msg = conv.numpy_to_image(rgb, "rgb8", frame_id="cam")
    assert (msg.step, msg.header.frame_id, len(msg.data)) == (1920, "cam", 480 * 1920)
    np.testing.assert_array_equal(conv.image_to_rgb(msg), rgb)


# --- bad input: one specific exception type, naming field and values ----------------------

def good(**over):
    msg = raw_image(np.zeros((4, 5, 3), np.uint8), "rgb8")
    for k, v in over.items():
        setattr(msg, k, v)
    return msg


@pytest.mark.parametrize("msg, pattern", [
    (good(step=10), r"step=10 is smaller than width\*bytes_per_pixel=5\*3=15"),
    (good(data=array.array("B", bytes(59))),
     r"data length 59 does not match height\*step=4\*15=60"),
    (good(encoding="yuv422"), r"unsupported encoding 'yuv422'; supported: rgb8"),
    (good(encoding="8UC3"), r"unsupported encoding '8UC3'"),
    (good(width=0, step=0, data=array.array("B")), r"zero size: height=4 width=0"),
    (good(height=0, data=array.array("B")), r"zero size: height=0 width=5"),
])
def test_bad_layouts_raise_image_conversion_error(msg, pattern):
    with pytest.raises(ImageConversionError, match=pattern):
        conv.image_to_rgb(msg)


def test_depth_decoder_rejects_colour_and_colour_decoder_rejects_depth():
    with pytest.raises(ImageConversionError, match="'rgb8' is not a depth encoding"):
        conv.image_to_depth(good())
    with pytest.raises(ImageConversionError, match="'16UC1' is a depth encoding"):
        conv.image_to_rgb(raw_image(np.zeros((2, 2), np.uint16), "16UC1"))


def test_encoder_rejects_pixels_that_do_not_fit():
    with pytest.raises(ImageConversionError, match=r"shape \(4, 4\) and dtype uint8 do not fit"):
        conv.numpy_to_image(np.zeros((4, 4), np.uint8), "rgb8")
    with pytest.raises(ImageConversionError, match="unsupported encoding 'jpeg'"):
        conv.numpy_to_image(np.zeros((4, 4), np.uint8), "jpeg")


def test_image_conversion_error_is_a_value_error():
    assert issubclass(ImageConversionError, ValueError)


# --- cv_bridge agreement ------------------------------------------------------------------

def test_own_codec_agrees_with_cv_bridge():
    cv_bridge = pytest.importorskip(
        "cv_bridge", reason="cv_bridge comes with apt ROS installs only (not pip-installable)")
    bridge = cv_bridge.CvBridge()
    samples = [("rgb8", COLOR[..., :3]), ("bgra8", COLOR), ("mono8", COLOR[..., 0]),
               ("16UC1", RNG.integers(0, 60000, (6, 5), dtype=np.uint16)),
               ("32FC1", RNG.uniform(0, 5, (6, 5)).astype(np.float32))]
    for encoding, px in samples:
        msg = raw_image(np.ascontiguousarray(px), encoding, pad=4)
        enc = conv.ENCODINGS[encoding]
        np.testing.assert_array_equal(
            conv._decode_numpy(msg, enc), bridge.imgmsg_to_cv2(msg, "passthrough"))


# --- CameraInfo -----------------------------------------------------------------------------

def test_camera_info_roundtrip():
    intr = CameraIntrinsics(width=640, height=480, fx=525.0, fy=524.0, cx=319.5, cy=239.5,
                            distortion_model="plumb_bob", distortion=(0.1, -0.2, 0, 0, 0.01))
    msg = conv.intrinsics_to_camera_info(intr, frame_id="camera_color_optical_frame")
    assert list(msg.k) == [525.0, 0.0, 319.5, 0.0, 524.0, 239.5, 0.0, 0.0, 1.0]
    assert conv.camera_info_to_intrinsics(msg) == intr


def test_uncalibrated_camera_info_is_rejected():
    from sensor_msgs.msg import CameraInfo

    with pytest.raises(CameraInfoError, match="all zero"):
        conv.camera_info_to_intrinsics(CameraInfo(width=640, height=480))
    with pytest.raises(CameraInfoError, match="width=0"):
        conv.camera_info_to_intrinsics(CameraInfo(k=[1.0, 0, 1, 0, 1, 1, 0, 0, 1]))


# --- Scene graph ---------------------------------------------------------------------------

def sample_graph() -> SceneGraph:
    rot = quat_to_matrix((0, 0, math.sin(0.3), math.cos(0.3)))
    objs = [
        SceneObject(id=i, centroid=[0.1 * i, 0.2, 1.0 + i], label=lab, color=col,
                    box=OrientedBox(center=[0.1 * i, 0.2, 1.0 + i], size=[0.1, 0.2, 0.3],
                                    rotation=rot), confidence=0.9, bbox2d=(i, 2, 30 + i, 40),
                    point_count=100 * i, last_seen=12.5 + i)
        for i, (lab, col) in enumerate([("box", "red"), ("sphere", "blue"), ("cylinder", "green")])
    ]
    rels = [Relation(0, "left_of", 1, 0.93, 0.4, Frame.EGOCENTRIC, Source.GEOMETRY),
            Relation(2, "on_top_of", 0, 0.71, 0.2, Frame.ALLOCENTRIC, Source.FUSED),
            Relation(1, "near", 2, 0.5, 1.2, Frame.GRAVITY_ALIGNED, Source.MODEL)]
    return SceneGraph(objects=objs, relations=rels, stamp=1700000000.25, frame_id="world")


def assert_graphs_equal(a: SceneGraph, b: SceneGraph) -> None:
    assert (a.frame_id, a.stamp) == (b.frame_id, pytest.approx(b.stamp))
    assert len(a.objects) == len(b.objects)
    for x, y in zip(a.objects, b.objects):
        assert (x.id, x.label, x.color, x.bbox2d, x.point_count) == \
            (y.id, y.label, y.color, y.bbox2d, y.point_count)
        np.testing.assert_allclose(x.centroid, y.centroid)
        np.testing.assert_allclose(x.box.center, y.box.center)
        np.testing.assert_allclose(x.box.size, y.box.size)
        np.testing.assert_allclose(x.box.rotation, y.box.rotation, atol=1e-9)
        assert x.confidence == pytest.approx(y.confidence)
        assert x.last_seen == pytest.approx(y.last_seen)
    for r, s in zip(a.relations, b.relations):
        assert (r.subject, r.predicate, r.object, r.frame, r.source) == \
            (s.subject, s.predicate, s.object, s.frame, s.source)
        assert r.confidence == pytest.approx(s.confidence)
        assert r.distance == pytest.approx(s.distance)


def test_scene_graph_message_roundtrip():
    graph = sample_graph()
    back = conv.scene_graph_from_msg(conv.scene_graph_to_msg(graph))
    assert_graphs_equal(back, graph)
    assert back.camera_pose is None and back.support_heights == []


def test_scene_graph_carries_its_camera_pose_and_supports():
    from spatial_ros.geometry import Pose

    graph = sample_graph()
    graph.camera_pose = Pose(rotation=quat_to_matrix((0.1, -0.7, 0.2, 0.68)),
                             translation=np.array([0.3, -0.2, 0.9]))
    graph.support_heights = [0.0, 0.74]
    msg = conv.scene_graph_to_msg(graph)
    assert msg.has_camera_pose and list(msg.support_heights) == [0.0, 0.74]
    back = conv.scene_graph_from_msg(msg)
    np.testing.assert_allclose(back.camera_pose.translation, [0.3, -0.2, 0.9])
    np.testing.assert_allclose(back.camera_pose.rotation, graph.camera_pose.rotation, atol=1e-9)
    assert back.support_heights == [0.0, 0.74]


def test_supports_and_what_each_object_rests_on_travel_in_the_graph():
    from spatial_ros.msg import Support as SupportMsg
    from spatial_ros.scene import Support

    graph = sample_graph()
    turn = quat_to_matrix((0, 0, math.sin(0.2), math.cos(0.2)))
    graph.supports = [
        Support(id=1, height=0.0, kind=Support.KIND_FLOOR, point_count=5000, large=True,
                box=OrientedBox(center=[1.0, 0.5, 0.0], size=[4.0, 3.0, 0.0])),
        Support(id=2**31, height=0.74, point_count=0, large=False,
                box=OrientedBox(center=[0.2, 0.1, 0.74], size=[0.9, 0.6, 0.0], rotation=turn))]
    graph.objects[0].support_id = 2**31
    msg = conv.scene_graph_to_msg(graph)
    assert [s.kind for s in msg.supports] == [SupportMsg.KIND_FLOOR, SupportMsg.KIND_SURFACE]
    assert [o.support_id for o in msg.objects] == [2**31, 0, 0]
    back = conv.scene_graph_from_msg(msg)
    assert [o.support_id for o in back.objects] == [2**31, 0, 0]
    for a, b in zip(back.supports, graph.supports):
        assert (a.id, a.kind, a.point_count, a.large) == (b.id, b.kind, b.point_count, b.large)
        assert a.height == pytest.approx(b.height)
        np.testing.assert_allclose(a.box.center, b.box.center)
        np.testing.assert_allclose(a.box.size, b.box.size)
        np.testing.assert_allclose(a.box.rotation, b.box.rotation, atol=1e-9)
    assert back.support(2**31).holds([0.2, 0.1])


def test_16uc1_depth_holding_metres_is_refused():
    import numpy as np
    import pytest

    from spatial_ros.errors import ImageConversionError
    from spatial_ros.ros import conversions as conv

    metres = np.full((48, 64), 1, np.uint16)  # 1 "mm" everywhere: metres in an integer image
    metres[10:20, 10:20] = 2
    with pytest.raises(ImageConversionError, match="only make sense as metres"):
        conv.image_to_depth(conv.numpy_to_image(metres, "16UC1"))
    mm = np.full((48, 64), 900, np.uint16)
    assert float(np.nanmedian(conv.image_to_depth(conv.numpy_to_image(mm, "16UC1")))) \
        == pytest.approx(0.9)


def _gazebo_labels_map(labels: np.ndarray, counts: np.ndarray) -> Image:
    """A labels_map as gz-sensors' segmentation camera writes it (instance type) and
    ros_gz_bridge passes it on: per pixel [count low byte, count high byte, label]."""
    px = np.stack([counts & 0xFF, counts >> 8, labels], axis=-1).astype(np.uint8)
    return Image(height=px.shape[0], width=px.shape[1], encoding="rgb8", step=px.shape[1] * 3,
                 data=px.tobytes())


def test_gazebo_labels_map_decodes_to_one_id_per_label_and_instance():
    from spatial_ros.labels import mask_label

    labels = np.array([[255, 7, 7], [7, 9, 0]])
    counts = np.array([[0, 1, 300], [1, 1, 0]])  # two instances of label 7, one > 255
    ids = conv.image_to_mask(_gazebo_labels_map(labels, counts))
    assert ids.dtype == np.int32
    assert ids.tolist() == [[0, 7 << 16 | 1, 7 << 16 | 300], [7 << 16 | 1, 9 << 16 | 1, 0]]
    assert mask_label({7: "mug", 9: "bowl"}, 7 << 16 | 300) == "mug"
    assert mask_label({7: "mug"}, 9 << 16 | 1) == ""
    bgr = _gazebo_labels_map(labels, counts)
    bgr.encoding = "bgr8"
    bgr.data = np.frombuffer(bytes(bgr.data), np.uint8).reshape(2, 3, 3)[..., ::-1].tobytes()
    assert conv.image_to_mask(bgr).tolist() == ids.tolist()


def test_the_headless_labels_map_is_gazebos_format_and_id_masks_still_read():
    mask = np.array([[0, 1, 1], [4, 4, 0]], np.uint8)
    msg = conv.labels_map_to_image(mask)
    assert msg.encoding == "rgb8"
    assert conv.image_to_mask(msg).tolist() == [[0, 1 << 16 | 1, 1 << 16 | 1],
                                                [4 << 16 | 1, 4 << 16 | 1, 0]]
    for enc in ("mono8", "16UC1"):
        ids = conv.image_to_mask(conv.numpy_to_image(mask.astype(conv.ENCODINGS[enc].dtype), enc))
        assert ids.tolist() == mask.tolist()


@pytest.mark.parametrize("encoding", ["32FC1", "rgba8", "bgra8"])
def test_a_mask_in_another_encoding_is_a_clear_error(encoding):
    px = np.zeros((2, 2, 4) if "a8" in encoding else (2, 2), conv.ENCODINGS[encoding].dtype)
    with pytest.raises(ImageConversionError,
                       match=f"encoding '{encoding}' cannot be an instance mask"):
        conv.image_to_mask(conv.numpy_to_image(px, encoding))
