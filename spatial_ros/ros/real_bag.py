"""A realsense-ros 4.x style rosbag2 from the annotated real frames (`spatial-ros real-bag`).

The bag holds what `ros2 launch realsense2_camera rs_launch.py align_depth.enable:=true`
publishes, and nothing a hand-held camera would not have (no /camera/pose, no tf):

    /camera/camera/color/image_raw                    sensor_msgs/Image rgb8
    /camera/camera/aligned_depth_to_color/image_raw   sensor_msgs/Image 16UC1 (mm)
    /camera/camera/color/camera_info                  sensor_msgs/CameraInfo

With ``detector=True`` it also holds what an upstream instance segmenter would add: the hand
annotations' instance mask (``/detector/instances``, mono8 ids) and, once at the start, its label
map as a std_msgs/String (``/detector/label_map``: '1: mustard bottle, 2: drill, ...').
Each frame is repeated ``repeats`` times at ``rate`` Hz (a still camera), so tracking settles.
Replay it with `spatial-ros replay` or, on a robot, ``ros2 launch spatial_ros replay.launch.py
bag:=... gravity_source:=plane``.
"""
from __future__ import annotations

import pathlib

from rclpy.serialization import serialize_message
from std_msgs.msg import String

from spatial_ros.bench.real import RealFrame
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.bagio import BagError, typestore

__all__ = ["REALSENSE_TOPICS", "DETECTOR_TOPICS", "label_map_text", "write_real_bag"]

REALSENSE_TOPICS = {
    "color": "/camera/camera/color/image_raw",
    "depth": "/camera/camera/aligned_depth_to_color/image_raw",
    "info": "/camera/camera/color/camera_info",
}
DETECTOR_TOPICS = {"mask": "/detector/instances", "labels": "/detector/label_map"}
OPTICAL_FRAME = "camera_color_optical_frame"  # realsense-ros's colour optical frame
START = 1_700_000_000  # bag time of the first frame (s): any wall-clock-like time


def label_map_text(frame: RealFrame) -> str:
    """The annotations' names as a label map: '1: mustard bottle, 2: drill, ...'."""
    return ", ".join(f"{k}: {o['name'].removeprefix('the ')}"
                     for k, o in sorted(frame.objects.items()))


def write_real_bag(out: str | pathlib.Path, frames: list[RealFrame], *, repeats: int = 5,
                   rate: float = 5.0, detector: bool = False, compress: bool = False,
                   progress: bool = False) -> dict[str, int]:
    """Write ``frames`` (spatial_ros.bench.real.load_real_frames) into a new MCAP bag at
    ``out``; return the messages written per topic."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    out = pathlib.Path(out)
    if out.exists():
        raise BagError(f"{out} exists already; write the bag into a new folder")
    if repeats < 1 or rate <= 0:
        raise BagError(f"repeats {repeats} must be >= 1 and rate {rate} positive")
    if not frames:
        raise BagError("no frames to write")
    types = {"color": "sensor_msgs/msg/Image", "depth": "sensor_msgs/msg/Image",
             "info": "sensor_msgs/msg/CameraInfo"}
    topics = dict(REALSENSE_TOPICS)
    if detector:
        types |= {"mask": "sensor_msgs/msg/Image", "labels": "std_msgs/msg/String"}
        topics |= DETECTOR_TOPICS
    store = typestore()
    writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
    if compress:
        from rosbags.rosbag2.enums import CompressionFormat, CompressionMode

        writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
    counts = {topics[k]: 0 for k in types}
    writer.open()
    try:
        conns = {k: writer.add_connection(topics[k], types[k], typestore=store) for k in types}

        def put(key: str, t: float, msg) -> None:
            writer.write(conns[key], int(round(t * 1e9)), serialize_message(msg))
            counts[topics[key]] += 1

        n = 0
        for frame in frames:
            if detector:  # a new scene: the detector's classes, before its first mask
                put("labels", START + n / rate - 0.01, String(data=label_map_text(frame)))
            for _ in range(repeats):
                t = START + n / rate
                stamp = conv.seconds_to_stamp(t)
                kw = {"stamp": stamp, "frame_id": OPTICAL_FRAME}
                put("info", t, conv.intrinsics_to_camera_info(frame.intrinsics, **kw))
                put("color", t, conv.numpy_to_image(frame.rgb, "rgb8", **kw))
                put("depth", t, conv.depth_to_image(frame.depth, "16UC1", **kw))
                if detector:
                    put("mask", t, conv.numpy_to_image(frame.mask.astype("uint8"), "mono8", **kw))
                n += 1
                if progress:
                    print(f"\rwriting {out}: frame {n}/{len(frames) * repeats}", end="",
                          flush=True)
    finally:
        writer.close()
    if progress:
        print()
    return counts
