"""`spatial-ros demo`: the main job, run headless over real ROS 2 topics in one process.

Smoke stage (foundation): a publisher node sends a scene graph over Fast DDS and a listener node
prints the objects and relations it receives. Later stages replace the publisher with the
simulated camera, the scene-graph, reasoning and planner nodes.
"""
from __future__ import annotations

import math
import threading
import time

import rclpy
from rclpy.executors import MultiThreadedExecutor

from spatial_ros.geometry import quat_to_matrix
from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv
from spatial_ros.scene import OrientedBox, Relation, SceneObject
from spatial_ros.scene import SceneGraph as CoreGraph

__all__ = ["run"]


def _graph() -> CoreGraph:
    rot = quat_to_matrix((0.0, 0.0, math.sin(0.2), math.cos(0.2)))
    objs = [SceneObject(id=1, label="box", color="red", centroid=[-0.2, 0.0, 1.0],
                        box=OrientedBox([-0.2, 0.0, 1.0], [0.1, 0.1, 0.1], rot)),
            SceneObject(id=2, label="box", color="blue", centroid=[0.2, 0.0, 1.2],
                        box=OrientedBox([0.2, 0.0, 1.2], [0.2, 0.2, 0.2]))]
    rels = [Relation(1, "left_of", 2, 0.97, 0.45), Relation(1, "in_front_of", 2, 0.81, 0.45)]
    return CoreGraph(objects=objs, relations=rels, stamp=time.time(), frame_id="camera")


def run(*, timeout: float = 10.0) -> int:
    rclpy.init()
    talker = rclpy.create_node("demo_graph_publisher")
    listener = rclpy.create_node("demo_listener")
    got = threading.Event()

    def on_graph(msg) -> None:
        graph = conv.scene_graph_from_msg(msg)
        names = {o.id: o.description for o in graph.objects}
        for rel in graph.relations:
            print(f"{names[rel.subject]} {rel.predicate} {names[rel.object]} "
                  f"(confidence {rel.confidence:.2f})")
        got.set()

    listener.create_subscription(SceneGraph, "/spatial/scene_graph", on_graph, 10)
    pub = talker.create_publisher(SceneGraph, "/spatial/scene_graph", 10)
    executor = MultiThreadedExecutor()
    for node in (talker, listener):
        executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        deadline = time.monotonic() + timeout
        while not got.is_set() and time.monotonic() < deadline:
            if pub.get_subscription_count():
                pub.publish(conv.scene_graph_to_msg(_graph()))
            got.wait(0.2)
        if not got.is_set():
            print(f"demo: no scene graph arrived over DDS within {timeout} s")
            return 1
        return 0
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()
        rclpy.try_shutdown()
