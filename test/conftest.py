"""Shared fixtures. Tiers by folder: core (ROS-free), messages (no spinning), live (real nodes
over real DDS), bags (rosbag2). The ROS fixtures import rclpy lazily so that the core tier runs
with `pip install .` alone."""
from __future__ import annotations

import os
import pathlib
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_TIERS = ("core", "messages", "live", "bags")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = pathlib.Path(str(item.fspath)).parts
        for tier in _TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def ros_domain_id() -> int:
    """A DDS domain of this test session's own, so parallel sessions on one host do not mix."""
    explicit = os.environ.get("SPATIAL_ROS_TEST_DOMAIN")
    return int(explicit) if explicit else 101 + os.getpid() % 120


class Inbox:
    """Collects the messages of one subscription and waits on them."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: list[Any] = []
        self._cv = threading.Condition()

    def __call__(self, msg: Any) -> None:
        with self._cv:
            self.messages.append(msg)
            self._cv.notify_all()

    def wait(self, predicate: Callable[[Any], bool] = lambda m: True, *, count: int = 1,
             timeout: float = 15.0) -> list[Any]:
        """Wait until ``count`` messages satisfy ``predicate``; return them."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                hits = [m for m in self.messages if predicate(m)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout:.0f} s waiting for {count} matching "
                        f"message(s) on {self.topic}; received {len(self.messages)}, "
                        f"{len(hits)} matching")
                self._cv.wait(left)


class RosHarness:
    """A real rclpy context on its own domain with an executor spinning in the background."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        # one spinning thread, as `ros2 run` has: it sleeps in rcl_wait when idle, where
        # rclpy's MultiThreadedExecutor busy-loops and starves the nodes' worker threads
        self.executor = SingleThreadedExecutor(context=self.context)
        self.node = rclpy.create_node("test_harness", context=self.context)
        self.nodes = [self.node]
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._removals: queue.Queue[tuple[Any, threading.Event]] = queue.Queue()
        self.errors: list[str] = []  # what a spin raised; close() fails the test on any
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        """Spin until close(). Nodes are removed and destroyed here, between two spins, never
        from the test's thread while a spin holds their entities (destroying a node mid-wait
        raised in the spin thread, which then stopped: every later reply was lost, seen on CI
        as a service that "did not answer"). An exception in a spin is kept in ``errors`` and
        spinning goes on."""
        from rclpy.exceptions import InvalidHandle
        from rclpy.executors import ExternalShutdownException

        while self.context.ok() and not self._stop.is_set():
            while not self._removals.empty():
                node, done = self._removals.get()
                self.executor.remove_node(node)
                node.destroy_node()
                done.set()
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except ExternalShutdownException:
                return
            except InvalidHandle:
                continue  # work of a node destroyed since the wait began: nothing to run
            except Exception:  # noqa: BLE001 - kept and reported by close()
                self.errors.append(traceback.format_exc())

    @property
    def node_kwargs(self) -> dict[str, Any]:
        return {"context": self.context}

    def add(self, node: Any) -> Any:
        """Spin ``node`` on the harness executor; it is destroyed at teardown."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def remove(self, node: Any, timeout: float = 30.0) -> None:
        """Stop spinning ``node`` and destroy it (on the spin thread, see ``_spin``)."""
        self.nodes.remove(node)
        done = threading.Event()
        self._removals.put((node, done))
        self.executor.wake()
        if not done.wait(timeout):
            raise AssertionError(f"the spin thread did not remove {node.get_name()} in "
                                 f"{timeout:g} s (alive: {self._thread.is_alive()})")

    def inbox(self, msg_type: Any, topic: str, qos: Any = 10) -> Inbox:
        box = Inbox(topic)
        self.node.create_subscription(msg_type, topic, box, qos)
        return box

    def publisher(self, msg_type: Any, topic: str, qos: Any = 10) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def call(self, client: Any, request: Any, timeout: float = 20.0) -> Any:
        """Call a service through ``client`` (created on ``self.node``) and wait for the reply."""
        from spatial_ros.ros.runner import call_service

        try:
            return call_service(client, request, timeout)
        except RuntimeError as exc:
            raise AssertionError(f"{exc} (spin thread alive: {self._thread.is_alive()}; "
                                 f"errors in spins: {self.errors or 'none'})") from exc

    def wait_for_subscribers(self, pub: Any, count: int = 1, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while pub.get_subscription_count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no subscriber matched {pub.topic_name} in {timeout} s")
            time.sleep(0.02)

    def close(self) -> None:
        import rclpy

        self._stop.set()
        self._thread.join(timeout=5)
        errors, self.errors = self.errors, []
        while not self._removals.empty():  # asked for after the spin thread ended
            self.nodes.append(self._removals.get()[0])
        for node in reversed(self.nodes):
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown(timeout_sec=1)
        rclpy.shutdown(context=self.context)
        if errors:
            raise AssertionError("the harness's spin raised:\n" + "\n".join(errors))


@pytest.fixture
def ros(ros_domain_id: int):
    harness = RosHarness(ros_domain_id)
    try:
        yield harness
    finally:
        harness.close()
