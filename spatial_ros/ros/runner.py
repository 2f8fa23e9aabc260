"""The one `main()` shape every node executable uses."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

__all__ = ["run_node", "call_service"]


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Init rclpy, spin the node until SIGINT or SIGTERM, then clean up whatever happened.

    rclpy's signal handlers shut the context down on either signal. The executor is made
    before the node, so a signal at any point of start-up or spinning ends in a normal exit
    (status 0, no traceback): spinning stops, or a call on the shut-down context raises, which
    is taken as the end the signal asked for. A node that cannot start (a bad parameter, a
    missing weights file) prints why on one line and exits with status 2; an error while
    spinning is raised.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.ALL)
    executor = SingleThreadedExecutor()
    node = None
    try:
        try:
            node = factory()
        except Exception as exc:  # noqa: BLE001 - reported in one line, then exit 2
            if not rclpy.ok():
                return
            print(f"[ERROR] cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise  # a real error, not the shutdown a signal asked for
    finally:
        executor.shutdown(timeout_sec=1.0)
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
