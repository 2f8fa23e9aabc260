"""`spatial-ros demo`: the main job, headless, over real ROS 2 topics in one process.

The sim camera renders the tabletop world with RealSense D435 depth noise and publishes the
topics a Gazebo bridge would; scene_graph_node turns them into tracked objects and graded
relations; a listener prints the sensed scene graph, how well it agrees with the simulator's
exact ground truth; planner_node then answers spatial questions through its QuerySpatial
service and turns a relation goal into a target pose through PlaceRelative, all over DDS.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from spatial_ros.bench.relations import decision_keys
from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.planner_node import PlannerNode
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.ros.sim_camera_node import SimCameraNode
from spatial_ros.scene import SceneGraph as CoreGraph
from spatial_ros.srv import PlaceRelative, QuerySpatial

__all__ = ["run"]

SHOWN = ("left_of", "on_top_of", "inside", "occludes")


def _agreement(graph: CoreGraph, truth: CoreGraph) -> tuple[int, int, int]:
    match = {}
    for g in truth.objects:
        best = min(graph.objects, key=lambda o: np.linalg.norm(o.box.center - g.box.center),
                   default=None)
        if best is not None and np.linalg.norm(best.box.center - g.box.center) < 0.05:
            match[g.id] = best.id
    holds = {(r.subject, r.predicate, r.object, r.frame) for r in truth.relations}
    said = {(r.subject, r.predicate, r.object, r.frame) for r in graph.relations}
    agree = total = 0
    for ga, ta in match.items():
        for gb, tb in match.items():
            if ga != gb:
                for p, f in decision_keys():
                    total += 1
                    agree += ((ga, p, gb, f) in holds) == ((ta, p, tb, f) in said)
    return len(match), agree, total


QUESTIONS = ("is the green box on top of the blue box?", "what is left of the blue box?",
             "what is inside the grey box?", "which object is closest to the camera?",
             "how far is the red box from the blue box?", "is the box left of the sphere?")
GOALS = ("place the red box left of the yellow cylinder", "place the red box on the blue box")


def _call(client, request, timeout: float = 10.0):
    if not client.wait_for_service(timeout_sec=timeout):
        raise RuntimeError(f"service {client.srv_name} is not available")
    future = client.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"service {client.srv_name} did not answer in {timeout:g} s")
        time.sleep(0.01)
    return future.result()


def run(*, world: str = "tabletop", timeout: float = 40.0) -> int:
    rclpy.init()
    camera = SimCameraNode(parameter_overrides=[Parameter("world", value=world),
                                                Parameter("sensor", value="realsense_d435"),
                                                Parameter("rate", value=5.0)])
    graph_node = SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels")])
    planner = PlannerNode()
    listener = rclpy.create_node("demo_listener")
    query = listener.create_client(QuerySpatial, "/spatial/query")
    place = listener.create_client(PlaceRelative, "/spatial/place")
    sensed: list = []
    truth: list = []
    listener.create_subscription(SceneGraph, "/spatial/scene_graph", sensed.append, 10)
    listener.create_subscription(SceneGraph, "/sim/ground_truth", truth.append, 10)
    executor = SingleThreadedExecutor()
    for node in (camera, graph_node, planner, listener):
        executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    t0 = time.monotonic()
    try:
        while (len(sensed) < 5 or not truth or planner.camera is None) \
                and time.monotonic() - t0 < timeout:
            time.sleep(0.1)
        if not sensed or not truth:
            print(f"demo: no scene graph arrived over DDS within {timeout:g} s")
            return 1
        graph = conv.scene_graph_from_msg(sensed[-1])
        gt = conv.scene_graph_from_msg(truth[-1])
        names = {o.id: o.description for o in graph.objects}
        print(f"{world}: {graph_node.processed} RGB-D frames turned into scene graphs over DDS "
              f"in {time.monotonic() - t0:.1f} s (RealSense D435 noise)")
        print(f"objects ({len(graph.objects)}):")
        for o in graph.objects:
            c, s = o.box.center, o.box.size
            print(f"  {o.description:<26} at ({c[0]:+.2f}, {c[1]:+.2f}, {c[2]:+.2f}) m, "
                  f"size {s[0]:.2f} x {s[1]:.2f} x {s[2]:.2f} m, {o.point_count} points")
        print("relations (sensed; egocentric where directional):")
        for rel in graph.relations:
            directional = rel.predicate in ("left_of", "in_front_of")
            if rel.predicate in SHOWN and (rel.frame.name == "EGOCENTRIC" or not directional) \
                    and (rel.predicate != "larger_than" or rel.confidence > 0.99):
                print(f"  {names[rel.subject]} {rel.predicate} {names[rel.object]} "
                      f"({rel.confidence:.2f}, {rel.frame.name.lower()})")
        matched, agree, total = _agreement(graph, gt)
        print(f"against the simulator's ground truth: {matched}/{len(gt.objects)} objects "
              f"found, {agree}/{total} relation decisions agree "
              f"({100 * agree / max(total, 1):.1f}%)")
        print("questions (planner_node, /spatial/query):")
        for q in QUESTIONS:
            r = _call(query, QuerySpatial.Request(question=q))
            print(f"  {q} -> " + (f"{r.answer} (confidence {r.confidence:.2f})" if r.success
                                   else f"refused: {r.error_message}"))
        print("goals (planner_node, /spatial/place):")
        for g in GOALS:
            r = _call(place, PlaceRelative.Request(goal=g))
            if r.success:
                p = r.pose.pose.position
                print(f"  {g} -> target ({p.x:+.3f}, {p.y:+.3f}, {p.z:+.3f}) m in "
                      f"{r.pose.header.frame_id}, margin {r.margin:.3f} m")
            else:
                print(f"  {g} -> refused: {r.error_message}")
        return 0
    finally:
        executor.shutdown()
        for node in (camera, graph_node, planner, listener):
            node.destroy_node()
        rclpy.try_shutdown()
