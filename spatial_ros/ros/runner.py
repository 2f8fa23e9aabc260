"""The one `main()` shape every node executable uses."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.node import Node

__all__ = ["run_node", "call_service"]


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


def call_service(client: Any, request: Any, timeout: float = 10.0) -> Any:
    """Call a service and wait for the reply while another thread spins the client's node."""
    if not client.wait_for_service(timeout_sec=timeout):
        raise RuntimeError(f"service {client.srv_name} is not available")
    future = client.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"service {client.srv_name} did not answer in {timeout:g} s")
        time.sleep(0.01)
    return future.result()
