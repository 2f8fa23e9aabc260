"""visualization_msgs/MarkerArray of a scene graph for RViz: boxes, labels, relation arrows."""
from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from spatial_ros.colors import PALETTE
from spatial_ros.ros.conversions import object_to_msg, seconds_to_stamp, support_to_msg
from spatial_ros.scene import SceneGraph

__all__ = ["scene_graph_markers"]

_ARROW_COLOURS = {"on_top_of": (0.1, 0.9, 0.1), "inside": (0.9, 0.6, 0.1),
                  "left_of": (0.2, 0.5, 1.0), "in_front_of": (0.9, 0.2, 0.9),
                  "occludes": (0.5, 0.5, 0.5)}


def _pt(v) -> Point:
    return Point(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def scene_graph_markers(graph: SceneGraph, *, arrows: tuple[str, ...] = tuple(_ARROW_COLOURS),
                        lifetime: float = 1.0) -> MarkerArray:
    """One cube and one text per object, a thin slab per support, one arrow per shown
    relation (egocentric for directional predicates), after a DELETEALL that clears the
    previous frame's markers."""
    header = Header(stamp=seconds_to_stamp(graph.stamp), frame_id=graph.frame_id)
    life = Duration(sec=int(lifetime), nanosec=int((lifetime % 1) * 1e9))
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    centres = {}
    for obj in graph.objects:
        m = object_to_msg(obj)
        r, g, b = PALETTE.get(obj.color, (0.8, 0.8, 0.8))
        centres[obj.id] = obj.box.center
        markers.append(Marker(header=header, ns="objects", id=int(obj.id), type=Marker.CUBE,
                              action=Marker.ADD, pose=m.bbox_center, scale=m.bbox_size,
                              color=ColorRGBA(r=r, g=g, b=b, a=0.5), lifetime=life))
        top = obj.box.center.copy()
        top[2] += obj.box.size[2] / 2 + 0.04
        text = Marker(header=header, ns="labels", id=int(obj.id),
                      type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, text=obj.description,
                      scale=Vector3(z=0.03), color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
                      lifetime=life)
        text.pose.position = _pt(top)
        text.pose.orientation.w = 1.0
        markers.append(text)
    for sup in graph.supports:
        m = support_to_msg(sup)
        m.size.z = 0.005
        grey = 0.35 if sup.kind == sup.KIND_FLOOR else 0.6
        markers.append(Marker(header=header, ns="supports", id=int(sup.id), type=Marker.CUBE,
                              action=Marker.ADD, pose=m.center, scale=m.size,
                              color=ColorRGBA(r=grey, g=grey, b=grey, a=0.4), lifetime=life))
    k = 0
    for rel in graph.relations:
        if rel.predicate not in arrows or rel.frame.name not in ("EGOCENTRIC", "ALLOCENTRIC"):
            continue
        if rel.predicate in ("left_of", "in_front_of") and rel.frame.name != "EGOCENTRIC":
            continue
        if rel.subject not in centres or rel.object not in centres:
            continue
        r, g, b = _ARROW_COLOURS[rel.predicate]
        markers.append(Marker(header=header, ns=f"relations/{rel.predicate}", id=k,
                              type=Marker.ARROW, action=Marker.ADD,
                              points=[_pt(centres[rel.subject]), _pt(centres[rel.object])],
                              scale=Vector3(x=0.006, y=0.012, z=0.02),
                              color=ColorRGBA(r=r, g=g, b=b, a=float(rel.confidence)),
                              lifetime=life))
        k += 1
    return MarkerArray(markers=markers)
