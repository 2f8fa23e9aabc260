"""Parameters of a node, declared from spatial_ros.parameters (the one table of them).

Each parameter gets a typed descriptor with its description, its range (rclpy then refuses an
out-of-range value itself, at start-up and in ``set_parameters``), its allowed values, and
``read_only`` unless the node applies it while running. A set-parameters callback refuses bad
values with the reason; accepted live values reach the node's ``apply`` hook after they are set.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.node import Node

from spatial_ros.parameters import Param, check_value, node_params

__all__ = ["declare_params", "descriptor"]

_TYPES = {"bool": ParameterType.PARAMETER_BOOL, "integer": ParameterType.PARAMETER_INTEGER,
          "double": ParameterType.PARAMETER_DOUBLE, "string": ParameterType.PARAMETER_STRING,
          "double_array": ParameterType.PARAMETER_DOUBLE_ARRAY}


def descriptor(p: Param) -> ParameterDescriptor:
    """The ROS descriptor of ``p``: type, description, range, allowed values, read-only."""
    d = ParameterDescriptor(name=p.name, type=_TYPES[p.kind], description=p.description,
                            read_only=not p.live)
    if p.choices:
        d.additional_constraints = ("comma-separated, each one of: " if p.comma_list else
                                    "one of: ") + ", ".join(p.choices)
    if p.range is not None and p.kind == "integer":
        d.integer_range = [IntegerRange(from_value=int(p.range[0]), to_value=int(p.range[1]),
                                        step=1)]
    elif p.range is not None and p.kind == "double":
        d.floating_point_range = [FloatingPointRange(from_value=float(p.range[0]),
                                                     to_value=float(p.range[1]), step=0.0)]
    elif p.range is not None:
        d.additional_constraints = f"each element in [{p.range[0]:g}, {p.range[1]:g}]"
    return d


def declare_params(node: Node, name: str,
                   apply: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Declare every parameter of node ``name``; return their values at start-up.

    A value outside its range or choices raises ValueError naming the parameter (the node does
    not start). ``apply(changes)`` receives the live parameters set while the node runs, after
    they were checked; without it every parameter is read-only.
    """
    specs = {p.name: p for p in node_params(name)}
    for p in specs.values():
        node.declare_parameter(p.name, p.default, descriptor(p) if apply else
                               _read_only(descriptor(p)))
    values = {k: node.get_parameter(k).value for k in specs}
    for k, v in values.items():
        reason = check_value(specs[k], v)
        if reason:
            raise ValueError(f"parameter {reason}")

    def on_set(params) -> SetParametersResult:
        for prm in params:
            spec = specs.get(prm.name)
            if spec is None:
                continue  # rclpy's own (use_sim_time)
            reason = check_value(spec, prm.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    if apply is not None:
        def post_set(params) -> None:
            changes = {prm.name: prm.value for prm in params if prm.name in specs}
            if changes:
                apply(changes)
                node.get_logger().info("parameters applied: " + ", ".join(
                    f"{k}={v!r}" for k, v in changes.items()))

        node.add_post_set_parameters_callback(post_set)
    return values


def _read_only(d: ParameterDescriptor) -> ParameterDescriptor:
    d.read_only = True
    return d
