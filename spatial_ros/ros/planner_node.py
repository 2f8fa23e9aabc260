"""planner_node: answers spatial questions and turns relation goals into target poses.

Subscribes the SceneGraph and, when a reasoning node publishes them, the fused
SpatialRelationArray, paired with its graph by stamp (the reasoning node stamps its output as the
graph it reasoned over). A question is answered from the newest graph whose fused relations have
arrived, if that graph is at most ``fused_max_lag`` seconds older than the newest graph; else
from the newest graph's own geometric relations. Every reply says which (``relations_source``)
and which graph (``graph_stamp``). The camera pose is the one each graph carries (the pose it
was built with, whatever its source); a PoseStamped topic serves graphs that carry none. Serves
QuerySpatial (``spatial/query``) and PlaceRelative (``spatial/place``); a std_msgs/String on
``spatial/place_goal`` is the fire-and-forget form (all relative: a namespace moves them).
Goals are planned on the newest graph's geometry; accepted ones are published as PoseStamped on
spatial/target_pose for a manipulation or navigation stack. Every refusal carries its reason;
the node keeps serving.
"""
from __future__ import annotations

import copy
import threading
import time
import traceback
from collections import OrderedDict

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_msgs.msg import String

from spatial_ros.language import QuestionError, answer_question, support_word
from spatial_ros.msg import SceneGraph, SpatialRelationArray
from spatial_ros.placement import (
    MotionMonitor,
    PlacementError,
    parse_goal,
    place_on_support,
    place_relative,
)
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.params import declare_params
from spatial_ros.ros.runner import run_node
from spatial_ros.srv import PlaceRelative, QuerySpatial

__all__ = ["PlannerNode", "main"]

_KEEP = 30  #: graphs (and fused relation arrays) kept by stamp to pair them


def _stamp_key(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class PlannerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("planner", **kwargs)
        v = declare_params(self, "planner", apply=self._apply_parameters)
        self._apply_parameters(v)
        rel_topic = v["relations_topic"]
        self._lock = threading.Lock()
        self.graph = None
        self.graph_received = 0.0
        #: recent graphs by stamp (ns), oldest first, and the fused relations that arrived
        #: for them; fused relations of a stamp whose graph has not arrived wait here too
        self._graphs: OrderedDict[int, object] = OrderedDict()
        self._fused: OrderedDict[int, list] = OrderedDict()
        self.motion = MotionMonitor()
        self.camera = None
        self.create_subscription(SceneGraph, v["scene_graph_topic"], self._on_graph, 5)
        if rel_topic:
            self.create_subscription(SpatialRelationArray, rel_topic, self._on_relations, 5)
        if v["camera_pose_topic"]:
            self.create_subscription(PoseStamped, v["camera_pose_topic"], self._on_pose, 5)
        self.create_service(QuerySpatial, v["query_service"], self._on_query)
        self.create_service(PlaceRelative, v["place_service"], self._on_place)
        self.create_subscription(String, v["goal_topic"], self._on_goal, 5)
        self.target_pub = self.create_publisher(PoseStamped, v["target_topic"], 5)
        relations = self.resolve_topic_name(rel_topic) if rel_topic else "the graph's own"
        self.get_logger().info(
            f"planner: graph {self.resolve_topic_name(v['scene_graph_topic'])}, relations "
            f"{relations}, services "
            f"{self.resolve_service_name(v['query_service'])}, "
            f"{self.resolve_service_name(v['place_service'])}")

    def _apply_parameters(self, values: dict) -> None:
        """The parameters read per request (all live)."""
        for attr, name in (("min_confidence", "min_confidence"), ("margin", "place_margin"),
                           ("clearance", "place_clearance"), ("radius", "place_radius"),
                           ("release", "place_release"), ("max_age", "max_object_age"),
                           ("max_speed", "max_object_speed"),
                           ("stale_after", "stale_graph_warning"),
                           ("fused_max_lag", "fused_max_lag")):
            if name in values:
                setattr(self, attr, values[name])

    def _unexpected(self, what: str, exc: Exception) -> str:
        """Log an error no rule refuses (a defect to report) and say it in one line: a
        callback that raised would end the node's spin, and every later request with it."""
        text = f"{what} failed: {type(exc).__name__}: {exc}"
        self.get_logger().error(f"{text}\n{traceback.format_exc()}")
        return text

    def _on_graph(self, msg) -> None:
        try:
            graph = conv.scene_graph_from_msg(msg)
        except Exception as exc:  # noqa: BLE001 - a bad message must never stop the node
            self.get_logger().warning(f"scene graph dropped, it cannot be read: {exc}",
                                      throttle_duration_sec=5.0)
            return
        key = _stamp_key(msg.header.stamp)
        with self._lock:
            self.graph = graph
            self.graph_received = time.monotonic()
            self.motion.update(graph)
            self._graphs[key] = graph
            while len(self._graphs) > _KEEP:
                self._graphs.popitem(last=False)

    @property
    def graph_age(self) -> float:
        """Seconds since the latest graph arrived (-1 when none has)."""
        with self._lock:
            return -1.0 if self.graph is None else time.monotonic() - self.graph_received

    def _on_relations(self, msg) -> None:
        try:
            rels = [conv.relation_from_msg(r) for r in msg.relations]
        except Exception as exc:  # noqa: BLE001 - a bad message must never stop the node
            self.get_logger().warning(f"relations dropped, they cannot be read: {exc}",
                                      throttle_duration_sec=5.0)
            return
        with self._lock:
            self._fused[_stamp_key(msg.header.stamp)] = rels
            while len(self._fused) > _KEEP:
                self._fused.popitem(last=False)

    def _on_pose(self, msg) -> None:
        with self._lock:
            self.camera = conv.pose_from_msg(msg)

    def _snapshot(self, fused: bool = True):
        """The graph to answer from, the camera pose it was built with, and which relations it
        holds (QuerySpatial.RELATIONS_*).

        With ``fused``, the newest graph whose fused relations arrived, with those relations,
        if it is at most ``fused_max_lag`` seconds older than the newest graph; else (and
        without ``fused``: goals, planned on the newest geometry) the newest graph with its
        own geometric relations. The camera pose is the graph's own where it carries one (any
        pose source: parameter, topic, tf, IMU, plane), else the latest camera_pose_topic
        message."""
        with self._lock:
            graph, source = self.graph, QuerySpatial.Response.RELATIONS_GEOMETRY
            if graph is not None and fused:
                for key in reversed(self._graphs):
                    if key in self._fused:
                        if graph.stamp - key * 1e-9 <= self.fused_max_lag:
                            graph = copy.copy(self._graphs[key])
                            graph.relations = self._fused[key]
                            source = QuerySpatial.Response.RELATIONS_FUSED
                        break
            camera = graph.camera_pose if graph is not None and graph.camera_pose is not None \
                else self.camera
            return graph, camera, source

    def _on_query(self, request, response):
        try:
            return self._answer(request, response)
        except Exception as exc:  # noqa: BLE001 - answered as a failure, the node keeps serving
            response.success = False
            response.error_message = self._unexpected(f"question {request.question!r}", exc)
            return response

    def _answer(self, request, response):
        graph, camera, source = self._snapshot()
        response.graph_age = float(self.graph_age)
        response.relations_source = source
        if graph is not None:
            response.graph_stamp = conv.seconds_to_stamp(graph.stamp)
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
        if ans.pose is not None:
            response.has_pose = True
            response.pose = conv.pose_to_msg(ans.pose, stamp=response.graph_stamp,
                                             frame_id=graph.frame_id or "world")
        return response

    def _place(self, goal: str):
        """Plan ``goal`` on the latest graph, publish the target; (placement, PoseStamped)."""
        graph, camera, _source = self._snapshot(fused=False)
        if graph is None:
            raise PlacementError("no scene graph has arrived yet")
        if camera is None:
            raise PlacementError("the camera pose is not known yet")
        obj, pred, ref, frame = parse_goal(goal)
        word = support_word(ref)
        if word is not None and pred == "on_top_of":  # "put the mug on the table"
            p = place_on_support(graph, obj, word, camera_pose=camera, frame=frame,
                                 clearance=self.clearance, release=self.release,
                                 max_age=self.max_age, motion=self.motion,
                                 max_speed=self.max_speed)
        else:
            p = place_relative(graph, obj, pred, ref, camera_pose=camera, frame=frame,
                               margin=self.margin, clearance=self.clearance,
                               radius=self.radius, release=self.release, max_age=self.max_age,
                               motion=self.motion, max_speed=self.max_speed)
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
        except Exception as exc:  # noqa: BLE001 - answered as a failure, the node keeps serving
            response.success = False
            response.error_message = self._unexpected(f"goal {request.goal!r}", exc)
            return response
        response.success = True
        response.object_id, response.reference_id = p.object_id, p.reference_id
        response.support_id = p.support_id
        response.predicate, response.margin, response.pose = p.predicate, float(p.margin), msg
        return response

    def _on_goal(self, msg: String) -> None:
        try:
            p, _target = self._place(msg.data)
        except PlacementError as exc:
            self.get_logger().warning(f"goal {msg.data!r} refused: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a bad goal must never stop the node
            self._unexpected(f"goal {msg.data!r}", exc)
            return
        self.get_logger().info(f"goal {msg.data!r}: target at "
                               f"{np.round(p.pose.translation, 3).tolist()}")


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)
