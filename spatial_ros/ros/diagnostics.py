"""Helpers to publish node health on /diagnostics."""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

__all__ = ["DiagnosticsPublisher"]


class DiagnosticsPublisher:
    """Publishes one DiagnosticStatus named after the node on /diagnostics."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.name = f"{node.get_namespace().rstrip('/')}/{node.get_name()}"

    def publish(self, values: dict[str, object], *, message: str = "ok",
                level: bytes = DiagnosticStatus.OK) -> None:
        status = DiagnosticStatus(level=level, name=self.name, message=message,
                                  hardware_id=self._node.get_name(),
                                  values=[KeyValue(key=k, value=str(v))
                                          for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(msg)
