"""rosbag2 recording and replay without the rosbag2 C++ stack (not installable here): rclpy moves
serialized messages, the `rosbags` library reads and writes the bag files.

Recording subscribes with ``raw=True`` and writes the CDR bytes as they arrive (MCAP by default,
sqlite3 on request), with a standard metadata.yaml that `ros2 bag play` accepts and the full
message definitions of every type, ours included, so Foxglove and rosbags read the bag without
this package. Replay publishes a bag's serialized messages with the original timing (rate
factor, start offset, loop), and /clock for sim time; it reads any rosbag2 (ros2 bag record's
too) whose message types are importable here.
"""
from __future__ import annotations

import importlib
import pathlib
import queue
import threading
import time
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock

from spatial_ros.errors import SpatialRosError

__all__ = ["BagError", "DEFAULT_TOPICS", "Recorder", "typestore", "msg_class", "replay"]

#: Topics `spatial-ros record` writes by default: camera, pose, ground truth and outputs.
DEFAULT_TOPICS = {
    "/camera/color/image_raw": "sensor_msgs/msg/Image",
    "/camera/depth/image_raw": "sensor_msgs/msg/Image",
    "/camera/color/camera_info": "sensor_msgs/msg/CameraInfo",
    "/camera/segmentation/labels": "sensor_msgs/msg/Image",
    "/camera/pose": "geometry_msgs/msg/PoseStamped",
    "/sim/ground_truth": "spatial_ros/msg/SceneGraph",
    "/spatial/scene_graph": "spatial_ros/msg/SceneGraph",
    "/spatial/relations": "spatial_ros/msg/SpatialRelationArray",
}
#: recorded and replayed with sensor-data QoS whatever their topic (a camera driver's messages)
_SENSOR_TYPES = {"sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/Imu"}


def _qos(msgtype: str):
    return qos_profile_sensor_data if msgtype in _SENSOR_TYPES else QoSProfile(depth=20)


class BagError(SpatialRosError):
    """A bag that cannot be written or replayed; the message names the bag, topic or type."""


def _msg_dir() -> pathlib.Path:
    import os

    here = pathlib.Path(__file__).resolve().parents[2] / "msg"
    candidates = [here] + [pathlib.Path(p) / "share" / "spatial_ros" / "msg"
                           for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for c in candidates:
        if (c / "SceneGraph.msg").is_file():
            return c
    raise BagError("cannot find spatial_ros/msg/*.msg to embed our message definitions")


def typestore():
    """The ROS 2 Jazzy types of rosbags plus spatial_ros's own, from the .msg files."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for path in sorted(_msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"spatial_ros/msg/{path.stem}"))
    store.register(types)
    return store


def msg_class(msgtype: str):
    """The rclpy message class of 'pkg/msg/Name' (BagError when it is not importable)."""
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError):
        raise BagError(f"unknown message type {msgtype!r}: not importable here") from None


class Recorder:
    """Record ``topics`` ({name: type}) of the live graph into a new bag at ``path``."""

    def __init__(self, node: Node, path: str | pathlib.Path, topics: dict[str, str] | None = None,
                 *, storage: str = "mcap", compress: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin

        plugins = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
        if storage not in plugins:
            raise BagError(f"storage {storage!r}: expected mcap or sqlite3")
        self.path = pathlib.Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists already; record into a new folder")
        self.topics = dict(topics or DEFAULT_TOPICS)
        classes = {t: msg_class(m) for t, m in self.topics.items()}
        self.counts: dict[str, int] = {t: 0 for t in self.topics}
        self._node = node
        # one thread owns the writer (sqlite3 connections may not cross threads); callbacks
        # hand it (topic, time, bytes) through a queue, so nothing blocks the executor
        self._queue: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._compress = compress
        self._thread = threading.Thread(target=self._write_loop, args=(plugins[storage],),
                                        name="bag_writer", daemon=True)
        self._thread.start()
        self._ready.wait(30.0)
        if self._error is not None:
            raise BagError(f"{self.path}: cannot write the bag: {self._error}")
        for topic, msgtype in self.topics.items():
            node.create_subscription(classes[topic], topic, self._callback(topic), _qos(msgtype),
                                     raw=True)
        self._closed = False
        self._received = 0

    def _write_loop(self, plugin) -> None:
        from rosbags.rosbag2 import Writer

        try:
            store = typestore()
            writer = Writer(self.path, version=9, storage_plugin=plugin)
            if self._compress:  # zstd over the file, as ros2 bag record --compression-mode file
                from rosbags.rosbag2.enums import CompressionFormat, CompressionMode

                writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
            writer.open()
            conns = {t: writer.add_connection(t, m, typestore=store)
                     for t, m in self.topics.items()}
        except Exception as exc:  # noqa: BLE001 - reported to the constructor
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            item = self._queue.get()
            if item is None:
                writer.close()
                return
            topic, t, data = item
            try:
                writer.write(conns[topic], t, data)
            except Exception as exc:  # noqa: BLE001 - reported by close()
                self._error = exc
                writer.close()
                return
            self.counts[topic] += 1

    def _callback(self, topic: str) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            if not self._closed:
                self._received += 1
                self._queue.put((topic, self._node.get_clock().now().nanoseconds, data))
        return write

    def pending(self) -> int:
        """Messages received so far (written or queued)."""
        return self._received

    def close(self) -> None:
        """Write what is queued, then close the bag (metadata.yaml is written here)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=60.0)
            if self._error is not None:
                raise BagError(f"{self.path}: writing failed: {self._error}")


def replay(node: Node, path: str | pathlib.Path, *, rate: float = 1.0, start: float = 0.0,
           loop: bool = False, clock: bool = True, topics: set[str] | None = None,
           stop: threading.Event | None = None,
           on_message: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Publish a bag's messages with their original timing; return messages sent per topic.

    Args:
        rate: playback speed factor (2 = twice as fast).
        start: skip this many seconds from the bag's start.
        loop: start again at the end until ``stop`` is set.
        clock: publish /clock with the bag's time (for use_sim_time).
        topics: replay only these (None = all).
    """
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import ReaderError as Rosbag2ReaderError

    path = pathlib.Path(path)
    if rate <= 0:
        raise BagError(f"rate {rate} must be positive")
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        raise BagError(f"{path}: no metadata.yaml, not a rosbag2 folder")
    try:
        reader = AnyReader([path])
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises several types for broken bags
        raise BagError(f"{path}: cannot open the bag: {exc}") from None
    sent: dict[str, int] = {}
    try:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        if not conns:
            have = ", ".join(sorted({c.topic for c in reader.connections})) or "none"
            raise BagError(f"{path}: no topic to replay (bag topics: {have})")
        pubs = {}
        skipped: list[str] = []
        for c in conns:
            try:
                cls = msg_class(c.msgtype)
            except BagError as exc:
                node.get_logger().warning(f"{path}: skipping topic {c.topic}: {exc}")
                skipped.append(f"{c.topic} ({c.msgtype})")
                continue
            pubs[c.topic] = node.create_publisher(cls, c.topic, _qos(c.msgtype))
        if not pubs:
            raise BagError(f"{path}: none of the bag's message types is importable: "
                           + ", ".join(skipped))
        clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        time.sleep(0.5)  # let subscribers match
        unheard = sorted(t for t, p in pubs.items() if p.get_subscription_count() == 0)
        if unheard:
            node.get_logger().warning(
                f"{path}: no node listens to {', '.join(unheard)}"
                + (" (none of the bag's topics has a subscriber)"
                   if len(unheard) == len(pubs) else ""))
        t0 = reader.start_time + int(start * 1e9)
        stop = stop or threading.Event()
        while True:
            wall0 = time.monotonic()
            try:
                for conn, t, raw in reader.messages(connections=[c for c in conns
                                                                 if c.topic in pubs],
                                                    start=t0):
                    if stop.is_set():
                        return sent
                    delay = (t - t0) / 1e9 / rate - (time.monotonic() - wall0)
                    if delay > 0:
                        stop.wait(delay)
                    if clock_pub is not None:
                        clock_pub.publish(Clock(clock=_stamp(t)))
                    pubs[conn.topic].publish(bytes(raw))
                    sent[conn.topic] = sent.get(conn.topic, 0) + 1
                    if on_message:
                        on_message(conn.topic, t)
            except (Rosbag2ReaderError, Exception) as exc:  # noqa: BLE001 - truncated data
                if isinstance(exc, BagError):
                    raise
                if not sent:
                    raise BagError(f"{path}: cannot read messages: {exc}") from None
                node.get_logger().warning(f"{path}: stopped at a damaged record: {exc}")
                return sent
            if not loop or stop.is_set():
                return sent
    finally:
        reader.close()


def _stamp(t_ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)
