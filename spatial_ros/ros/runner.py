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


def call_service(client: Any, request: Any, timeout: float = 10.0,
                 resend_after: float = 2.0) -> Any:
    """Call a service and wait for the reply while another thread spins the client's node.

    A request not answered in ``resend_after`` seconds is sent again (said on stderr), until
    ``timeout``: DDS matches the four endpoints of a service one by one, so a client can see
    the server (``wait_for_service``) before the server sees the client's reply reader, and
    that reply is dropped (a known ROS 2 race, more likely on a loaded machine). The services
    here (questions, placements) give the same answer when asked twice."""
    if not client.wait_for_service(timeout_sec=timeout):
        raise RuntimeError(f"service {client.srv_name} is not available")
    start = time.monotonic()
    sends = 1
    future = client.call_async(request)
    while not future.done():
        now = time.monotonic()
        if now - start > timeout:
            client.remove_pending_request(future)
            raise RuntimeError(f"service {client.srv_name} did not answer in {timeout:g} s "
                               f"({sends} request(s) sent)")
        if now - start > sends * resend_after:
            client.remove_pending_request(future)
            sends += 1
            print(f"[WARN] no reply from {client.srv_name} in {resend_after:g} s: asking "
                  f"again ({sends})", file=sys.stderr, flush=True)
            future = client.call_async(request)
        time.sleep(0.01)
    return future.result()
