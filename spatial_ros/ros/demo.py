"""`spatial-ros demo`: the main job, headless, over real ROS 2 topics in one process.

Current stage (simulation): the sim camera renders the tabletop world and publishes the camera
topics a Gazebo bridge would, the rgbd_monitor node decodes and synchronises them, and a
listener prints the scene's ground-truth objects and relations as they arrive over DDS. Later
stages put the scene-graph, reasoning and planner nodes between the camera and the listener.
"""
from __future__ import annotations

import threading
import time

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter

from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.rgbd_monitor_node import RgbdMonitorNode
from spatial_ros.ros.sim_camera_node import SimCameraNode

__all__ = ["run"]

SHOWN = ("left_of", "in_front_of", "on_top_of", "inside", "occludes", "larger_than")


def run(*, world: str = "tabletop", timeout: float = 30.0) -> int:
    rclpy.init()
    camera = SimCameraNode(parameter_overrides=[Parameter("world", value=world),
                                                Parameter("sensor", value="realsense_d435")])
    monitor = RgbdMonitorNode()
    listener = rclpy.create_node("demo_listener")
    got: list = []
    listener.create_subscription(SceneGraph, "/sim/ground_truth", got.append, 10)
    executor = MultiThreadedExecutor()
    for node in (camera, monitor, listener):
        executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while (not got or monitor.input.frames < 3) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not got or not monitor.input.frames:
            print(f"demo: no frames arrived over DDS within {timeout:g} s")
            return 1
        graph = conv.scene_graph_from_msg(got[-1])
        names = {o.id: o.description for o in graph.objects}
        print(f"{world}: {monitor.input.frames} RGB-D frames received and synchronised over DDS")
        print(f"objects ({len(graph.objects)}): " + ", ".join(names.values()))
        print("relations (ground truth, egocentric where directional):")
        for rel in graph.relations:
            directional = rel.predicate in ("left_of", "in_front_of")
            if rel.predicate in SHOWN and (rel.frame.name == "EGOCENTRIC" or not directional) \
                    and (rel.predicate != "larger_than" or rel.confidence > 0.99):
                print(f"  {names[rel.subject]} {rel.predicate} {names[rel.object]} "
                      f"({rel.confidence:.2f}, {rel.frame.name.lower()})")
        return 0
    finally:
        executor.shutdown()
        for node in (camera, monitor, listener):
            node.destroy_node()
        rclpy.try_shutdown()
