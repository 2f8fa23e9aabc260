"""Every conversion between ROS messages and numpy / core types lives in this module.

Images: sensor_msgs/Image <-> numpy for rgb8, bgr8, rgba8, bgra8, mono8, 16UC1 and 32FC1,
honouring ``step`` (row padding) and ``is_bigendian``, zero-copy where the layout allows. Depth
comes out as float32 metres with NaN for "no reading" (0, NaN, inf or negative values).
The decoders are duck-typed on the message fields, so they also read messages deserialized by
``rosbags``. cv_bridge is used for the raw decode where it imports and works (robots with apt
ROS); otherwise this module's own codec, which ``test_conversions.py`` checks against cv_bridge
wherever cv_bridge imports.
"""
from __future__ import annotations

import array
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import (
    Point,
    Pose,
    PoseStamped,
    Quaternion,
    Transform,
    TransformStamped,
    Vector3,
)
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from spatial_ros import msg as srmsg
from spatial_ros.errors import CameraInfoError, ImageConversionError
from spatial_ros.geometry import CameraIntrinsics, matrix_to_quat, quat_to_matrix
from spatial_ros.geometry import Pose as CorePose
from spatial_ros.scene import OrientedBox, Relation, SceneGraph, SceneObject, Support
from spatial_ros.vocabulary import Frame, Source

__all__ = [
    "ENCODINGS",
    "BACKEND",
    "image_to_numpy",
    "image_to_rgb",
    "image_to_depth",
    "image_to_mask",
    "labels_map_to_image",
    "numpy_to_image",
    "pose_to_transform",
    "depth_to_image",
    "camera_info_to_intrinsics",
    "intrinsics_to_camera_info",
    "stamp_to_seconds",
    "seconds_to_stamp",
    "scene_graph_to_msg",
    "scene_graph_from_msg",
    "relation_to_msg",
    "relation_from_msg",
    "support_to_msg",
    "support_from_msg",
    "pose_to_msg",
    "pose_from_msg",
]


@dataclass(frozen=True)
class _Encoding:
    channels: int
    dtype: np.dtype

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.dtype.itemsize


#: Supported encodings (sensor_msgs/image_encodings names).
ENCODINGS: dict[str, _Encoding] = {
    "rgb8": _Encoding(3, np.dtype(np.uint8)),
    "bgr8": _Encoding(3, np.dtype(np.uint8)),
    "rgba8": _Encoding(4, np.dtype(np.uint8)),
    "bgra8": _Encoding(4, np.dtype(np.uint8)),
    "mono8": _Encoding(1, np.dtype(np.uint8)),
    "16UC1": _Encoding(1, np.dtype(np.uint16)),
    "32FC1": _Encoding(1, np.dtype(np.float32)),
}
_DEPTH_ENCODINGS = ("16UC1", "32FC1")


def _load_cv_bridge() -> Any:
    """A working CvBridge, or None where cv_bridge does not import or is broken (numpy 2)."""
    try:
        from cv_bridge import CvBridge  # apt ROS installs only

        bridge = CvBridge()
        probe = Image(height=1, width=2, encoding="mono8", step=2, data=array.array("B", [1, 2]))
        if bridge.imgmsg_to_cv2(probe, desired_encoding="passthrough").tolist() != [[1, 2]]:
            return None
        return bridge
    except Exception:  # noqa: BLE001 - any failure means: not usable here
        return None


_CV_BRIDGE = _load_cv_bridge()
#: Which raw decoder is in use: "cv_bridge" or "numpy".
BACKEND = "cv_bridge" if _CV_BRIDGE is not None else "numpy"


def _check_layout(msg: Any) -> _Encoding:
    """Validate an Image's layout fields; raise ImageConversionError naming field and values."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(
            f"image has zero size: height={height} width={width} (both must be positive)"
        )
    enc = ENCODINGS.get(msg.encoding)
    if enc is None:
        raise ImageConversionError(
            f"unsupported encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}"
        )
    row = width * enc.bytes_per_pixel
    if step < row:
        raise ImageConversionError(
            f"step={step} is smaller than width*bytes_per_pixel={width}*{enc.bytes_per_pixel}"
            f"={row} for encoding {msg.encoding!r}"
        )
    n = len(msg.data)
    if n != height * step:
        raise ImageConversionError(
            f"data length {n} does not match height*step={height}*{step}={height * step}"
        )
    return enc


def _decode_numpy(msg: Any, enc: _Encoding) -> np.ndarray:
    """The project's own raw decoder: a strided view over the message buffer where possible."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    dtype = enc.dtype
    big = bool(msg.is_bigendian) and dtype.itemsize > 1
    if big:
        dtype = dtype.newbyteorder(">")
    shape = (height, width, enc.channels)
    strides = (step, enc.bytes_per_pixel, dtype.itemsize)
    view = np.ndarray(shape=shape, dtype=dtype, buffer=buf, strides=strides)
    if big:
        view = view.astype(enc.dtype.newbyteorder("="))  # swap once, into native order
    return view[..., 0] if enc.channels == 1 else view


def image_to_numpy(msg: Any) -> np.ndarray:
    """Raw pixels of an Image: (H, W) for one channel, (H, W, C) otherwise, in its own dtype.

    Zero-copy (a read-only view over the message buffer) for native byte order.

    Raises:
        ImageConversionError: zero size, unsupported encoding, ``step`` too small or a data
            length that does not match ``height * step``.
    """
    enc = _check_layout(msg)
    if _CV_BRIDGE is not None and not isinstance(msg.data, np.ndarray):
        return np.asarray(_CV_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"))
    return _decode_numpy(msg, enc)


def image_to_rgb(msg: Any) -> np.ndarray:
    """An 8-bit colour or mono Image as (H, W, 3) uint8 RGB."""
    if msg.encoding in _DEPTH_ENCODINGS:
        raise ImageConversionError(
            f"encoding {msg.encoding!r} is a depth encoding; expected rgb8, bgr8, rgba8, bgra8 "
            "or mono8 for a colour image"
        )
    px = image_to_numpy(msg)
    enc = msg.encoding
    if enc == "rgb8":
        return px
    if enc == "bgr8":
        return px[..., ::-1]
    if enc == "rgba8":
        return px[..., :3]
    if enc == "bgra8":
        return px[..., 2::-1]
    return np.repeat(px[..., None], 3, axis=2)  # mono8


#: Mask encodings read as instance ids, and Gazebo's labels_map.
MASK_ENCODINGS = ("mono8", "16UC1", "rgb8", "bgr8")


def image_to_mask(msg: Any) -> np.ndarray:
    """An instance mask as (H, W) int32 ids, 0 = background.

    mono8 and 16UC1 hold the ids themselves (an upstream segmenter, a project bag). rgb8 is the
    ``labels_map`` of Gazebo's segmentation camera with ``segmentation_type`` instance, as
    ros_gz_bridge passes it on: the label (the model's label plugin) in the third byte of each
    pixel and a 16-bit instance count in the first two (low byte first); bgr8 the same bytes
    in the other order. Each (label, count) is one instance, id ``label << 16 | count``, so
    ``id >> 16`` is the label that a label map names (spatial_ros.labels.mask_label). Pixels of
    label 0 with count 0 and of ``GZ_BACKGROUND_LABEL`` are background.
    """
    if msg.encoding not in MASK_ENCODINGS:
        raise ImageConversionError(
            f"encoding {msg.encoding!r} cannot be an instance mask; expected mono8 or 16UC1 ids, "
            "or rgb8 / bgr8 (Gazebo's segmentation labels_map)")
    px = image_to_numpy(msg)
    if msg.encoding in ("mono8", "16UC1"):
        return px.astype(np.int32)
    if msg.encoding == "bgr8":
        px = px[..., ::-1]
    label = px[..., 2].astype(np.int32)
    ids = (label << 16) | (px[..., 1].astype(np.int32) << 8) | px[..., 0].astype(np.int32)
    ids[label == GZ_BACKGROUND_LABEL] = 0
    return ids


#: The label Gazebo's segmentation camera gives pixels of no labelled model.
GZ_BACKGROUND_LABEL = 255


def labels_map_to_image(mask: np.ndarray, *, stamp: Time | None = None,
                        frame_id: str = "") -> Image:
    """Instance ids (H, W), 0 = background, as Gazebo's rgb8 labels_map: each id < 255 is a
    label with instance count 1 (the labels of sim/worlds are their objects' instance ids)."""
    ids = np.asarray(mask)
    if ids.min(initial=0) < 0 or ids.max(initial=0) >= GZ_BACKGROUND_LABEL:
        raise ImageConversionError(f"instance ids must lie in 0..{GZ_BACKGROUND_LABEL - 1} for "
                                   f"a labels_map, got {ids.min()}..{ids.max()}")
    px = np.zeros(ids.shape + (3,), np.uint8)
    px[..., 2] = np.where(ids > 0, ids, GZ_BACKGROUND_LABEL)
    px[..., 0] = ids > 0  # count 1 (low byte), 0 for the background
    return numpy_to_image(px, "rgb8", stamp=stamp, frame_id=frame_id)


def image_to_depth(msg: Any) -> np.ndarray:
    """A depth Image as (H, W) float32 metres; no reading (0, NaN, inf, negative) is NaN.

    16UC1 is millimetres (RealSense, Kinect), 32FC1 is metres (Gazebo, depth_image_proc).
    """
    if msg.encoding not in _DEPTH_ENCODINGS:
        raise ImageConversionError(
            f"encoding {msg.encoding!r} is not a depth encoding; expected 16UC1 (mm) or 32FC1 (m)"
        )
    px = image_to_numpy(msg)
    if msg.encoding == "16UC1":
        readings = px[px > 0]
        if readings.size >= 100 and np.percentile(readings, 90) <= 20:
            raise ImageConversionError(
                f"16UC1 depth holds only values up to {int(readings.max())}: 16UC1 is "
                "millimetres, and these only make sense as metres (the driver wrote metres "
                "into an integer image); publish millimetres, or 32FC1 metres")
        depth = px.astype(np.float32) * np.float32(0.001)
        depth[px == 0] = np.nan
        return depth
    depth = np.array(px, dtype=np.float32, copy=True)
    with np.errstate(invalid="ignore"):
        depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def numpy_to_image(
    pixels: np.ndarray, encoding: str, *, stamp: Time | None = None, frame_id: str = ""
) -> Image:
    """Build an Image from (H, W) or (H, W, C) pixels in the dtype of ``encoding``."""
    enc = ENCODINGS.get(encoding)
    if enc is None:
        raise ImageConversionError(
            f"unsupported encoding {encoding!r}; supported: {', '.join(ENCODINGS)}"
        )
    px = np.asarray(pixels)
    expect = px.shape[:2] + ((enc.channels,) if enc.channels > 1 else ())
    if px.ndim not in (2, 3) or px.shape != expect or px.dtype != enc.dtype:
        raise ImageConversionError(
            f"pixels of shape {px.shape} and dtype {px.dtype} do not fit encoding {encoding!r} "
            f"({enc.channels} channel(s) of {enc.dtype})"
        )
    px = np.ascontiguousarray(px)
    data = array.array("B")
    data.frombytes(memoryview(px).cast("B"))
    header = Header(frame_id=frame_id)
    if stamp is not None:
        header.stamp = stamp
    return Image(header=header, height=px.shape[0], width=px.shape[1], encoding=encoding,
                 is_bigendian=int(np.little_endian is False),
                 step=px.shape[1] * enc.bytes_per_pixel, data=data)


def depth_to_image(
    depth_m: np.ndarray, encoding: str = "32FC1", *, stamp: Time | None = None,
    frame_id: str = ""
) -> Image:
    """Encode float metres as 32FC1 (NaN kept) or 16UC1 millimetres (NaN becomes 0)."""
    d = np.asarray(depth_m, dtype=np.float32)
    if encoding == "32FC1":
        return numpy_to_image(d, encoding, stamp=stamp, frame_id=frame_id)
    if encoding == "16UC1":
        mm = np.nan_to_num(d * 1000.0, nan=0.0, posinf=0.0, neginf=0.0)
        mm = np.clip(np.rint(mm), 0, 65535).astype(np.uint16)
        return numpy_to_image(mm, encoding, stamp=stamp, frame_id=frame_id)
    raise ImageConversionError(f"depth encoding must be 32FC1 or 16UC1, got {encoding!r}")


def camera_info_to_intrinsics(msg: Any) -> CameraIntrinsics:
    """CameraInfo -> CameraIntrinsics (from K, the image size and the distortion model)."""
    k = list(msg.k)
    if len(k) != 9:
        raise CameraInfoError(f"CameraInfo.k has {len(k)} values, expected 9")
    if all(v == 0.0 for v in k):
        raise CameraInfoError("CameraInfo.k is all zero: the camera is not calibrated")
    return CameraIntrinsics(
        width=int(msg.width), height=int(msg.height), fx=float(k[0]), fy=float(k[4]),
        cx=float(k[2]), cy=float(k[5]), distortion_model=str(msg.distortion_model),
        distortion=tuple(float(v) for v in msg.d),
    )


def intrinsics_to_camera_info(
    intr: CameraIntrinsics, *, stamp: Time | None = None, frame_id: str = ""
) -> CameraInfo:
    """CameraIntrinsics -> CameraInfo with K, R = I, P = [K | 0]."""
    msg = CameraInfo()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.width, msg.height = intr.width, intr.height
    msg.distortion_model = intr.distortion_model
    msg.d = [float(v) for v in intr.distortion]
    msg.k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def stamp_to_seconds(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def seconds_to_stamp(seconds: float) -> Time:
    sec = math.floor(seconds)
    return Time(sec=int(sec), nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


def _point(v: np.ndarray) -> Point:
    return Point(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def relation_to_msg(rel: Relation) -> srmsg.SpatialRelation:
    return srmsg.SpatialRelation(
        subject_id=int(rel.subject), predicate=rel.predicate, object_id=int(rel.object),
        confidence=float(rel.confidence), distance=float(rel.distance), frame=int(rel.frame),
        source=int(rel.source),
    )


def relation_from_msg(m: Any) -> Relation:
    return Relation(subject=int(m.subject_id), predicate=m.predicate, object=int(m.object_id),
                    confidence=float(m.confidence), distance=float(m.distance),
                    frame=Frame(m.frame), source=Source(m.source))


def _pose_msg(rotation: np.ndarray, translation: np.ndarray) -> Pose:
    """A geometry_msgs/Pose of a rotation matrix and a translation."""
    q = matrix_to_quat(rotation)
    return Pose(position=_point(translation),
                orientation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3]))


def _box_msg(box: OrientedBox) -> tuple[Pose, Vector3]:
    """An oriented box as its centre pose and its size."""
    return _pose_msg(box.rotation, box.center), Vector3(
        x=float(box.size[0]), y=float(box.size[1]), z=float(box.size[2]))


def _box_from(pose: Any, size: Any) -> OrientedBox:
    """An oriented box from a geometry_msgs/Pose centre and a Vector3 size."""
    p = _pose_from(pose)
    return OrientedBox(center=p.translation, size=[size.x, size.y, size.z], rotation=p.rotation)


def object_to_msg(obj: SceneObject) -> srmsg.SceneObject:
    u0, v0, u1, v1 = (int(v) for v in obj.bbox2d)
    centre, size = _box_msg(obj.box)
    return srmsg.SceneObject(
        id=int(obj.id), label=obj.label, color=obj.color, confidence=float(obj.confidence),
        centroid=_point(obj.centroid), bbox_center=centre, bbox_size=size,
        bbox2d_u_min=u0, bbox2d_v_min=v0, bbox2d_u_max=u1, bbox2d_v_max=v1,
        point_count=int(obj.point_count), last_seen=seconds_to_stamp(obj.last_seen),
        support_id=int(obj.support_id),
    )


def object_from_msg(m: Any) -> SceneObject:
    return SceneObject(
        id=int(m.id), label=m.label, color=m.color, confidence=float(m.confidence),
        centroid=[m.centroid.x, m.centroid.y, m.centroid.z],
        box=_box_from(m.bbox_center, m.bbox_size),
        bbox2d=(m.bbox2d_u_min, m.bbox2d_v_min, m.bbox2d_u_max, m.bbox2d_v_max),
        point_count=int(m.point_count), last_seen=stamp_to_seconds(m.last_seen),
        support_id=int(getattr(m, "support_id", 0)),  # older bags' objects have none
    )


def support_to_msg(sup: Support) -> srmsg.Support:
    centre, size = _box_msg(sup.box)
    size.z = 0.0  # a surface: its extent on the plane
    return srmsg.Support(id=int(sup.id), kind=sup.kind, height=float(sup.height), center=centre,
                         size=size, point_count=int(sup.point_count), large=bool(sup.large))


def support_from_msg(m: Any) -> Support:
    return Support(id=int(m.id), height=float(m.height), box=_box_from(m.center, m.size),
                   kind=m.kind, point_count=int(m.point_count), large=bool(m.large))


def scene_graph_to_msg(graph: SceneGraph) -> srmsg.SceneGraph:
    header = Header(stamp=seconds_to_stamp(graph.stamp), frame_id=graph.frame_id)
    msg = srmsg.SceneGraph(header=header, objects=[object_to_msg(o) for o in graph.objects],
                           relations=[relation_to_msg(r) for r in graph.relations],
                           gravity_source=graph.gravity_source,
                           support_heights=[float(h) for h in graph.support_heights],
                           supports=[support_to_msg(x) for x in graph.supports])
    if graph.camera_pose is not None:
        msg.has_camera_pose = True
        msg.camera_pose = pose_to_msg(graph.camera_pose).pose
    return msg


def scene_graph_from_msg(m: Any) -> SceneGraph:
    return SceneGraph(objects=[object_from_msg(o) for o in m.objects],
                      relations=[relation_from_msg(r) for r in m.relations],
                      stamp=stamp_to_seconds(m.header.stamp), frame_id=m.header.frame_id,
                      # graphs recorded before the field existed (older bags) have none
                      gravity_source=getattr(m, "gravity_source", ""),
                      camera_pose=(_pose_from(m.camera_pose)
                                   if getattr(m, "has_camera_pose", False) else None),
                      support_heights=[float(h) for h in getattr(m, "support_heights", [])],
                      supports=[support_from_msg(x) for x in getattr(m, "supports", [])])


def pose_to_msg(pose: CorePose, *, stamp: Time | None = None,
                frame_id: str = "world") -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.pose = _pose_msg(pose.rotation, pose.translation)
    return msg


def pose_to_transform(pose: CorePose, *, stamp: Time, parent: str, child: str
                      ) -> TransformStamped:
    """A TransformStamped (for /tf) placing frame ``child`` at ``pose`` in frame ``parent``."""
    q = matrix_to_quat(pose.rotation)
    x, y, z = (float(v) for v in pose.translation)
    return TransformStamped(
        header=Header(stamp=stamp, frame_id=parent), child_frame_id=child,
        transform=Transform(translation=Vector3(x=x, y=y, z=z),
                            rotation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]),
                                                w=float(q[3]))))


def pose_from_msg(msg: Any) -> CorePose:
    """A PoseStamped's pose."""
    return _pose_from(msg.pose)


def _pose_from(pose: Any) -> CorePose:
    """A geometry_msgs/Pose as the core's Pose."""
    p, q = pose.position, pose.orientation
    return CorePose(rotation=quat_to_matrix((q.x, q.y, q.z, q.w)),
                    translation=np.array([p.x, p.y, p.z]))
