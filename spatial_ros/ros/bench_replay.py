"""`spatial-ros bench replay`: a long replay through the live nodes, memory at start and end.

Loops a bag (default: the committed tabletop regression bag) into scene_graph_node and
planner_node over DDS until ``frames`` camera frames have been published, asks the planner a
question every second, and prints resident memory after warm-up and at the end, frames
published and processed, and stale frames dropped.
"""
from __future__ import annotations

import pathlib
import threading
import time

import psutil
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from spatial_ros.ros.bagio import replay
from spatial_ros.ros.planner_node import PlannerNode
from spatial_ros.ros.scene_graph_node import SceneGraphNode

__all__ = ["run", "DEFAULT_BAG"]

DEFAULT_BAG = pathlib.Path(__file__).resolve().parents[2] / "test" / "bags" / "data" / "tabletop"
CAMERA = {"/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info",
          "/camera/segmentation/labels", "/camera/pose"}


def run(*, bag: str = "", frames: int = 5000, rate: float = 10.0) -> int:
    from spatial_ros.language import answer_question

    rclpy.init()
    graph_node = SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels"),
        # the regression bags last about a second: each loop steps back under 1 s
        Parameter("time_jump_reset", value=0.3)])
    planner = PlannerNode()
    player = rclpy.create_node("replay_bench_player")
    executor = SingleThreadedExecutor()
    for n in (graph_node, planner, player):
        executor.add_node(n)
    threading.Thread(target=executor.spin, daemon=True).start()
    proc = psutil.Process()
    stop = threading.Event()
    count = {"frames": 0}
    rss = {}
    t0 = time.monotonic()

    def on_message(topic, _t):
        if topic == "/camera/color/image_raw":
            count["frames"] += 1
            if count["frames"] == 50:
                rss["start"] = proc.memory_info().rss / 1e6
            if count["frames"] % 500 == 0:
                print(f"\rreplayed {count['frames']}/{frames} frames, RSS "
                      f"{proc.memory_info().rss / 1e6:.0f} MB", end="", flush=True)
            if count["frames"] >= frames:
                stop.set()
    answers = []

    def ask():
        while not stop.wait(1.0):
            g = planner.graph
            if g is not None and g.objects:
                answers.append(answer_question(g, f"is object {g.objects[0].id} near object "
                                                  f"{g.objects[-1].id}?").text)
    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        replay(player, bag or DEFAULT_BAG, rate=rate, loop=True, stop=stop, topics=CAMERA,
               on_message=on_message)
    finally:
        stop.set()
        end = proc.memory_info().rss / 1e6
        executor.shutdown()
        for n in (graph_node, planner, player):
            n.destroy_node()
        rclpy.try_shutdown()
    print()
    print(f"replayed {count['frames']} frames in {time.monotonic() - t0:.0f} s: "
          f"{graph_node.processed} processed, {graph_node.dropped['stale']} stale dropped, "
          f"{len(answers)} questions answered")
    print(f"resident memory: {rss.get('start', end):.1f} MB at frame 50, {end:.1f} MB at frame "
          f"{count['frames']}")
    return 0 if graph_node.processed else 1
