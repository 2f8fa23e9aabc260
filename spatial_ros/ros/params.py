"""Parameter helpers: every parameter is declared with a default and a description."""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

__all__ = ["declare", "depth_noise"]


def declare(node: Node, name: str, default: Any, description: str) -> Any:
    """Declare ``name`` with ``default`` and ``description``; return its current value."""
    node.declare_parameter(name, default, ParameterDescriptor(description=description))
    return node.get_parameter(name).value


def depth_noise(model: str) -> float:
    """sigma_quadratic of the depth preset a ``depth_noise_model`` parameter names."""
    from spatial_ros.sim.sensors import PRESETS

    if model not in PRESETS:
        raise ValueError(f"depth_noise_model {model!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[model].sigma_quadratic
