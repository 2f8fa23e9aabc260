"""Parameter helpers: every parameter is declared with a default and a description."""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

__all__ = ["declare"]


def declare(node: Node, name: str, default: Any, description: str) -> Any:
    """Declare ``name`` with ``default`` and ``description``; return its current value."""
    node.declare_parameter(name, default, ParameterDescriptor(description=description))
    return node.get_parameter(name).value
