"""The one `main()` shape every node executable uses."""
from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.node import Node

__all__ = ["run_node"]


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Init rclpy, spin the node until Ctrl-C, then clean up whatever happened."""
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
