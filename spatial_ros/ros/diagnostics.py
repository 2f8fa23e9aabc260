"""Helpers to publish node health on /diagnostics."""
from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

__all__ = ["DiagnosticsPublisher", "DropWindow", "FrameHealth"]


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


class DropWindow:
    """How many drops happened in the last ``window`` seconds, from running totals: the
    status is WARN while drops are recent and OK again once a window passes without any (the
    totals are still reported)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._totals: deque[tuple[float, int]] = deque()

    def recent(self, total: int, now: float) -> int:
        """Drops among ``total`` (a running count) made in the last ``window`` seconds."""
        start = now - self.window
        self._totals.append((now, total))
        # keep the last entry at or before the window's start: the count to subtract
        while len(self._totals) > 1 and self._totals[1][0] <= start:
            self._totals.popleft()
        t0, base = self._totals[0]
        return total - base if t0 <= start else total  # younger than a window: all are recent


class FrameHealth:
    """What a frame-processing node did: frames done, frames dropped by reason, latency, and
    its RGB-D input's rejections, reported on /diagnostics every ``period`` seconds; WARN while
    a drop happened in the last ``window`` seconds, OK again after a window without one.

    ``extra`` returns the node's own values for the report (output age, objects, device...).
    """

    def __init__(self, node: Node, rgbd_input, period: float, window: float = 10.0,
                 extra: Callable[[], dict[str, object]] = dict) -> None:
        self._node, self.input, self._extra = node, rgbd_input, extra
        self._window = DropWindow(window)
        self.dropped: Counter[str] = Counter()
        self.processed = 0
        self.last_error = ""
        self.latency: deque[float] = deque(maxlen=200)
        self._diag = DiagnosticsPublisher(node)
        self._t_report, self._n_report = time.monotonic(), 0
        node.create_timer(period, self.report)

    def drop(self, reason: str, message: str, what: str = "frame dropped") -> None:
        self.dropped[reason] += 1
        self.last_error = message
        self._node.get_logger().warning(f"{what}: {message}", throttle_duration_sec=5.0)

    def stale(self) -> None:
        """A waiting item was replaced by a newer one (the worker's queue of one)."""
        self.dropped["stale"] += 1

    def done(self, ms: float) -> None:
        self.processed += 1
        self.latency.append(ms)

    def report(self) -> None:
        now = time.monotonic()
        rate = (self.processed - self._n_report) / max(now - self._t_report, 1e-9)
        self._t_report, self._n_report = now, self.processed
        dropped = sum(self.dropped.values()) + sum(self.input.rejected.values())
        lat = np.array(self.latency) if self.latency else np.array([np.nan])
        values: dict[str, object] = {
            "frames": self.processed, "rate_hz": f"{rate:.2f}",
            "latency_p50_ms": f"{np.median(lat):.1f}",
            "latency_p95_ms": f"{np.percentile(lat, 95):.1f}", **self._extra(),
            "dropped": dropped, "sync_dropped": self.input.sync_dropped,
            "last_error": self.last_error or self.input.last_error}
        values.update({f"dropped_{k}": v for k, v in self.dropped.items()})
        values.update({f"dropped_{k}": v for k, v in self.input.rejected.items()})
        recent = self._window.recent(dropped, now)
        values["dropped_recent"] = recent
        values["window_s"] = f"{self._window.window:g}"
        if self.input.frame_mismatch:
            values["frame_mismatch"] = self.input.frame_mismatch
        level = DiagnosticStatus.WARN if recent else DiagnosticStatus.OK
        self._diag.publish(values, message=f"{recent} dropped in the last "
                           f"{self._window.window:g} s" if recent else "ok", level=level)

    @property
    def window(self) -> float:
        return self._window.window

    @window.setter
    def window(self, seconds: float) -> None:
        self._window.window = seconds
