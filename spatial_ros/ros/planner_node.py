"""planner_node: answers spatial questions and turns relation goals into target poses.

Subscribes the SceneGraph (and, when a reasoning node publishes fused relations, the
SpatialRelationArray, whose relations then replace the graph's). The camera pose is the one
each graph carries (the pose it was built with, whatever its source); a PoseStamped topic
serves graphs that carry none. Serves
QuerySpatial (``~/query``, default /spatial/query) and PlaceRelative (/spatial/place); a
std_msgs/String on /spatial/place_goal is the fire-and-forget form. Accepted goals are published
as PoseStamped on /spatial/target_pose for a manipulation or navigation stack. Every refusal
carries its reason; the node keeps serving.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_msgs.msg import String

from spatial_ros.language import QuestionError, answer_question
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.placement import MotionMonitor, PlacementError, parse_goal, place_relative
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.params import declare
from spatial_ros.ros.runner import run_node
from spatial_ros.srv import PlaceRelative, QuerySpatial

__all__ = ["PlannerNode", "main"]


class PlannerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("planner", **kwargs)
        d = lambda *a: declare(self, *a)  # noqa: E731
        graph_topic = d("scene_graph_topic", "/spatial/scene_graph", "SceneGraph input")
        rel_topic = d("relations_topic", "", "fused SpatialRelationArray input ('' = use the "
                      "graph's own relations)")
        pose_topic = d("camera_pose_topic", "/camera/pose", "camera PoseStamped, for graphs "
                       "that do not carry the pose they were built with ('' = none)")
        self.min_confidence = d("min_confidence", 0.5, "a relation holds above this")
        self.margin = d("place_margin", 0.02, "placements satisfy the relation by this (m)")
        self.clearance = d("place_clearance", 0.01, "free space kept around placed objects (m)")
        self.radius = d("place_radius", 0.4, "search radius around the reference (m)")
        self.release = d("place_release", 0.01, "on_top_of targets hold the object this far "
                         "above where it rests on the reference's sensed top (m)")
        self.max_age = d("max_object_age", 2.0, "refuse goals on objects unseen this long (s)")
        self.max_speed = d("max_object_speed", 0.05, "refuse goals on objects moving faster "
                           "(m/s, from their centroids over the last second of graphs)")
        self.stale_after = d("stale_graph_warning", 2.0, "warn when answering from a graph this "
                             "old (s); answers carry graph_age")
        query_srv = d("query_service", "/spatial/query", "QuerySpatial service")
        place_srv = d("place_service", "/spatial/place", "PlaceRelative service")
        goal_topic = d("goal_topic", "/spatial/place_goal", "fire-and-forget goals (String)")
        target_topic = d("target_topic", "/spatial/target_pose", "accepted goals (PoseStamped)")
        self._lock = threading.Lock()
        self.graph = None
        self.graph_received = 0.0
        self.motion = MotionMonitor()
        self.camera = None
        self.create_subscription(SceneGraph, graph_topic, self._on_graph, 5)
        if rel_topic:
            self.create_subscription(SpatialRelationArray, rel_topic, self._on_relations, 5)
        if pose_topic:
            self.create_subscription(PoseStamped, pose_topic, self._on_pose, 5)
        self.create_service(QuerySpatial, query_srv, self._on_query)
        self.create_service(PlaceRelative, place_srv, self._on_place)
        self.create_subscription(String, goal_topic, self._on_goal, 5)
        self.target_pub = self.create_publisher(PoseStamped, target_topic, 5)
        self.get_logger().info(f"planner: graph {graph_topic}, services {query_srv}, "
                               f"{place_srv}, goals {goal_topic} -> {target_topic}")

    def _on_graph(self, msg) -> None:
        graph = conv.scene_graph_from_msg(msg)
        with self._lock:
            self.graph = graph
            self.graph_received = time.monotonic()
            self.motion.update(graph)

    @property
    def graph_age(self) -> float:
        """Seconds since the latest graph arrived (-1 when none has)."""
        with self._lock:
            return -1.0 if self.graph is None else time.monotonic() - self.graph_received

    def _on_relations(self, msg) -> None:
        rels = [conv.relation_from_msg(r) for r in msg.relations]
        with self._lock:
            if self.graph is not None:
                self.graph.relations = rels

    def _on_pose(self, msg) -> None:
        with self._lock:
            self.camera = conv.pose_from_msg(msg)

    def _snapshot(self):
        """The latest graph and the camera pose it was built with: the graph's own where it
        carries one (any pose source: parameter, topic, tf, IMU, plane), else the latest
        camera_pose_topic message."""
        with self._lock:
            graph = self.graph
            camera = graph.camera_pose if graph is not None and graph.camera_pose is not None \
                else self.camera
            return graph, camera

    def _on_query(self, request, response):
        graph, camera = self._snapshot()
        response.graph_age = float(self.graph_age)
        try:
            ans = answer_question(graph, request.question, min_confidence=self.min_confidence,
                                  camera_pose=camera)
        except QuestionError as exc:
            response.success, response.error_message = False, str(exc)
            self.get_logger().info(f"question refused: {exc}")
            return response
        response.success = True
        response.answer = ans.text
        if response.graph_age > self.stale_after:
            self.get_logger().warning(f"answering from a scene graph {response.graph_age:.1f} s "
                                      "old (no new graph since)", throttle_duration_sec=5.0)
        response.is_yes_no, response.yes = ans.is_yes_no, ans.yes
        response.confidence = float(ans.confidence)
        response.object_ids = [int(i) for i in ans.object_ids]
        return response

    def _place(self, goal: str):
        """Plan ``goal`` on the latest graph, publish the target; (placement, PoseStamped)."""
        graph, camera = self._snapshot()
        if graph is None:
            raise PlacementError("no scene graph has arrived yet")
        if camera is None:
            raise PlacementError("the camera pose is not known yet")
        obj, pred, ref, frame = parse_goal(goal)
        p = place_relative(graph, obj, pred, ref, camera_pose=camera, frame=frame,
                           margin=self.margin, clearance=self.clearance, radius=self.radius,
                           release=self.release,
                           max_age=self.max_age, motion=self.motion, max_speed=self.max_speed)
        msg = conv.pose_to_msg(p.pose, stamp=conv.seconds_to_stamp(graph.stamp),
                               frame_id=graph.frame_id or "world")
        self.target_pub.publish(msg)
        return p, msg

    def _on_place(self, request, response):
        try:
            p, msg = self._place(request.goal)
        except PlacementError as exc:
            response.success, response.error_message = False, str(exc)
            self.get_logger().info(f"goal refused: {exc}")
            return response
        response.success = True
        response.object_id, response.reference_id = p.object_id, p.reference_id
        response.predicate, response.margin, response.pose = p.predicate, float(p.margin), msg
        return response

    def _on_goal(self, msg: String) -> None:
        try:
            p, _target = self._place(msg.data)
        except PlacementError as exc:
            self.get_logger().warning(f"goal {msg.data!r} refused: {exc}")
            return
        self.get_logger().info(f"goal {msg.data!r}: target at "
                               f"{np.round(p.pose.translation, 3).tolist()}")


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)
