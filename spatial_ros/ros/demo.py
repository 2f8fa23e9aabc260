"""`spatial-ros demo`: the main job, headless, over real ROS 2 topics in one process.

The sim camera renders the tabletop world with RealSense D435 depth noise and publishes the
topics a Gazebo bridge would; scene_graph_node turns them into tracked objects and graded
relations; reasoning_node runs the shipped depth-aware model (CPU here) over every object pair
and publishes relations fused with the geometry; a listener prints the sensed scene graph and how
well the geometric and the fused relations agree with the simulator's exact ground truth;
planner_node, fed the fused relations, then answers spatial questions through its QuerySpatial
service and turns a relation goal into a target pose through PlaceRelative, all over DDS.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from spatial_ros.bench.relations import graph_agreement
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.planner_node import PlannerNode
from spatial_ros.ros.reasoning_node import ReasoningNode
from spatial_ros.ros.runner import call_service
from spatial_ros.ros.scene_graph_node import SceneGraphNode
from spatial_ros.ros.sim_camera_node import SimCameraNode
from spatial_ros.scene import SceneGraph as CoreGraph
from spatial_ros.srv import PlaceRelative, QuerySpatial

__all__ = ["run"]

SHOWN = ("left_of", "on_top_of", "inside", "occludes")


QUESTIONS = ("is the green box on top of the blue box?", "what is left of the blue box?",
             "what is inside the grey box?", "which object is closest to the camera?",
             "how far is the red box from the blue box?", "where is the purple sphere?",
             "is the box left of the sphere?")
GOALS = ("place the red box left of the yellow cylinder", "place the red box on the blue box")


def annotate(rgb: np.ndarray, graph: CoreGraph, path: str) -> None:
    """Save ``rgb`` with each object's 2D box, name and id, and arrows for on_top_of, inside
    and (egocentric) left_of relations."""
    import cv2

    from spatial_ros.colors import PALETTE

    img = np.ascontiguousarray(rgb[..., ::-1])
    centre = {}
    for o in graph.objects:
        u0, v0, u1, v1 = o.bbox2d
        colour = tuple(int(255 * c) for c in PALETTE.get(o.color, (1, 1, 1))[::-1])
        cv2.rectangle(img, (u0, v0), (u1, v1), colour, 2)
        cv2.putText(img, o.description, (u0, max(v0 - 5, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, o.description, (u0, max(v0 - 5, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        centre[o.id] = ((u0 + u1) // 2, (v0 + v1) // 2)
    arrows = {"on_top_of": (40, 200, 40), "inside": (0, 140, 255), "left_of": (255, 120, 40)}
    shown = [r for r in graph.relations if r.predicate in arrows and r.confidence > 0.7
             and r.subject in centre and r.object in centre
             and (r.predicate != "left_of" or r.frame.name == "EGOCENTRIC")]
    # left_of: only each object's nearest left neighbour, or the picture is all arrows
    nearest: dict[int, object] = {}
    for r in shown:
        if r.predicate == "left_of":
            d = r.distance
            if r.object not in nearest or d < nearest[r.object].distance:
                nearest[r.object] = r
    for r in shown:
        if r.predicate != "left_of" or nearest.get(r.object) is r:
            cv2.arrowedLine(img, centre[r.subject], centre[r.object], arrows[r.predicate],
                            2, cv2.LINE_AA, tipLength=0.15)
    y = img.shape[0] - 50
    for name, colour in arrows.items():
        cv2.putText(img, f"-> {name}", (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 2,
                    cv2.LINE_AA)
        y += 18
    cv2.imwrite(path, img)


def run(*, world: str = "tabletop", timeout: float = 40.0, out: str = "demo_output") -> int:
    import pathlib
    import shutil

    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from spatial_ros.ros.bagio import Recorder

    out_dir = pathlib.Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / "bag").exists():
        shutil.rmtree(out_dir / "bag")
    rclpy.init()
    camera = SimCameraNode(parameter_overrides=[Parameter("world", value=world),
                                                Parameter("sensor", value="realsense_d435"),
                                                Parameter("rate", value=5.0)])
    graph_node = SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels")])
    reasoning = ReasoningNode(parameter_overrides=[  # the instance mask the graph node gets
        Parameter("device", value="cpu"),
        Parameter("mask_topic", value="/camera/segmentation/labels")])
    planner = PlannerNode(parameter_overrides=[
        Parameter("relations_topic", value="/spatial/fused_relations")])
    listener = rclpy.create_node("demo_listener")
    query = listener.create_client(QuerySpatial, "/spatial/query")
    place = listener.create_client(PlaceRelative, "/spatial/place")
    sensed: list = []
    truth: list = []
    listener.create_subscription(SceneGraph, "/spatial/scene_graph", sensed.append, 10)
    listener.create_subscription(SceneGraph, "/sim/ground_truth", truth.append, 10)
    fused: list = []
    listener.create_subscription(SpatialRelationArray, "/spatial/fused_relations", fused.append,
                                 10)
    images: list = []
    listener.create_subscription(Image, "/camera/color/image_raw", images.append,
                                 qos_profile_sensor_data)
    recorder = Recorder(listener, out_dir / "bag")
    executor = SingleThreadedExecutor()
    for node in (camera, graph_node, reasoning, planner, listener):
        executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    t0 = time.monotonic()
    try:
        while (len(sensed) < 5 or len(fused) < 4 or not truth or planner.camera is None) \
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
        match, agree, total, _wrong = graph_agreement(graph, gt)
        matched = len(match)
        print(f"against the simulator's ground truth: {matched}/{len(gt.objects)} objects "
              f"found, {agree}/{total} relation decisions agree "
              f"({100 * agree / max(total, 1):.1f}%)")
        if fused:
            arr = fused[-1]
            frame_graph = next((conv.scene_graph_from_msg(m) for m in reversed(sensed)
                                if m.header.stamp == arr.header.stamp), graph)
            fused_graph = CoreGraph(objects=frame_graph.objects, stamp=frame_graph.stamp,
                                    relations=[conv.relation_from_msg(r) for r in arr.relations])
            _m, f_agree, f_total, _w = graph_agreement(fused_graph, gt)
            print(f"fused with the model (reasoning_node, {reasoning.processed} frames, model "
                  f"p50 {np.median(list(reasoning._model_ms)):.1f} ms on "
                  f"{reasoning.reasoner.device}): {f_agree}/{f_total} decisions agree "
                  f"({100 * f_agree / max(f_total, 1):.1f}%)")
        stamp = sensed[-1].header.stamp
        frame = next((m for m in reversed(images) if m.header.stamp == stamp), images[-1])
        annotate(conv.image_to_rgb(frame), graph, str(out_dir / "scene.png"))
        print("questions (planner_node, /spatial/query):")
        for q in QUESTIONS:
            r = call_service(query, QuerySpatial.Request(question=q))
            source = "fused" if r.relations_source == r.RELATIONS_FUSED else "geometry"
            print(f"  {q} -> " + (f"{r.answer} (confidence {r.confidence:.2f}, {source} "
                                   f"relations)" if r.success else f"refused: {r.error_message}"))
        print("goals (planner_node, /spatial/place):")
        for g in GOALS:
            r = call_service(place, PlaceRelative.Request(goal=g))
            if r.success:
                p = r.pose.pose.position
                print(f"  {g} -> target ({p.x:+.3f}, {p.y:+.3f}, {p.z:+.3f}) m in "
                      f"{r.pose.header.frame_id}, margin {r.margin:.3f} m")
            else:
                print(f"  {g} -> refused: {r.error_message}")
        recorder.close()
        n = sum(recorder.counts.values())
        print(f"saved {out_dir / 'scene.png'} (annotated objects and relations) and "
              f"{out_dir / 'bag'} ({n} messages, MCAP) in {time.monotonic() - t0:.1f} s")
        return 0
    finally:
        recorder.close()
        executor.shutdown()
        spinner.join(timeout=10.0)  # a callback still running must not meet a destroyed node
        for node in (camera, graph_node, reasoning, planner, listener):
            node.destroy_node()
        rclpy.try_shutdown()
