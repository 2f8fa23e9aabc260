"""`spatial-ros record` and `spatial-ros replay`."""
from __future__ import annotations

import sys
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from spatial_ros.ros.bagio import Recorder, replay

__all__ = ["run_record", "run_replay"]


def run_record(*, out: str, storage: str = "mcap", duration: float = 10.0,
               sim: str = "", sensor: str = "realsense_d435", compress: bool = False,
               topics: dict[str, str] | None = None) -> int:
    """Record the standard topics for ``duration`` s; with ``sim``, also run the sim camera and
    scene graph node in this process (a self-contained recording of a world)."""
    rclpy.init()
    nodes = [rclpy.create_node("spatial_ros_recorder")]
    recorder = None
    try:
        recorder = Recorder(nodes[0], out, topics, storage=storage, compress=compress)
        if sim:
            from spatial_ros.ros.scene_graph_node import SceneGraphNode
            from spatial_ros.ros.sim_camera_node import SimCameraNode

            nodes.append(SimCameraNode(parameter_overrides=[
                Parameter("world", value=sim), Parameter("sensor", value=sensor),
                Parameter("rate", value=5.0), Parameter("depth_encoding", value="16UC1")]))
            nodes.append(SceneGraphNode(parameter_overrides=[
                Parameter("mask_topic", value="/camera/segmentation/labels")]))
        executor = SingleThreadedExecutor()
        for n in nodes:
            executor.add_node(n)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        # the clock starts with the first message (a simulator needs a moment to start)
        deadline = time.monotonic() + 30.0
        while recorder.pending() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        t0 = time.monotonic()
        last = -1
        while time.monotonic() - t0 < duration:
            time.sleep(0.2)
            second = int(time.monotonic() - t0)
            if second != last:
                last = second
                total = recorder.pending()
                print(f"\rrecording {out}: {second:3d}/{duration:g} s, {total} messages",
                      end="", flush=True)
        executor.shutdown()
    finally:
        if recorder is not None:
            recorder.close()
        for n in nodes:
            n.destroy_node()
        rclpy.try_shutdown()
    print()
    for topic, n in recorder.counts.items():
        print(f"  {topic}: {n} messages")
    if not any(recorder.counts.values()):
        print(f"spatial-ros record: no message arrived on {', '.join(recorder.topics)}",
              file=sys.stderr)
        return 1
    return 0


def run_replay(*, bag: str, rate: float = 1.0, start: float = 0.0, loop: bool = False,
               clock: bool = True) -> int:
    rclpy.init()
    node = rclpy.create_node("spatial_ros_replay")
    try:
        sent = replay(node, bag, rate=rate, start=start, loop=loop, clock=clock)
    except KeyboardInterrupt:
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    for topic, n in sorted(sent.items()):
        print(f"  {topic}: {n} messages")
    return 0 if sent else 1
