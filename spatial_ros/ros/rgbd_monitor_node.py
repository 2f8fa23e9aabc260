"""rgbd_monitor: checks a camera's RGB-D topics and reports their health on /diagnostics.

For bring-up: subscribes colour, depth and CameraInfo like the scene-graph node does, decodes
and synchronises them, and publishes frame rate, valid-depth fraction and dropped messages (by
reason) once a second. Bad messages are logged and counted; the node keeps running.
"""
from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node

from spatial_ros.ros.diagnostics import DiagnosticsPublisher, DropWindow
from spatial_ros.ros.params import declare_params
from spatial_ros.ros.rgbd_input import RgbdFrame, RgbdInput
from spatial_ros.ros.runner import run_node

__all__ = ["RgbdMonitorNode", "main"]


class RgbdMonitorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("rgbd_monitor", **kwargs)
        v = declare_params(self, "rgbd_monitor")
        color, depth, info = v["color_topic"], v["depth_topic"], v["camera_info_topic"]
        slop, period = v["sync_slop"], v["diagnostics_period"]
        self._window = DropWindow(v["diagnostics_window"])
        self.input = RgbdInput(self, color_topic=color, depth_topic=depth, info_topic=info,
                               slop=slop, callback=self._on_frame)
        self._diag = DiagnosticsPublisher(self)
        self._valid_fraction = float("nan")
        self._t0 = time.monotonic()
        self._frames_at_last = 0
        self.create_timer(period, self._report)

    def _on_frame(self, frame: RgbdFrame) -> None:
        self._valid_fraction = float(np.isfinite(frame.depth).mean())

    def _report(self) -> None:
        now = time.monotonic()
        rate = (self.input.frames - self._frames_at_last) / max(now - self._t0, 1e-9)
        self._t0, self._frames_at_last = now, self.input.frames
        dropped = sum(self.input.rejected.values())
        values = {"frames": self.input.frames, "rate_hz": f"{rate:.2f}",
                  "valid_depth_fraction": f"{self._valid_fraction:.3f}",
                  "dropped": dropped, "sync_dropped": self.input.sync_dropped,
                  "last_error": self.input.last_error}
        values.update({f"dropped_{k}": v for k, v in self.input.rejected.items()})
        recent = self._window.recent(dropped, now)
        values["dropped_recent"] = recent
        if self.input.frame_mismatch:
            values["frame_mismatch"] = self.input.frame_mismatch
        level = DiagnosticStatus.WARN if recent else DiagnosticStatus.OK
        self._diag.publish(values, message=f"{recent} dropped in the last "
                           f"{self._window.window:g} s" if recent else "ok", level=level)


def main(args: list[str] | None = None) -> None:
    run_node(RgbdMonitorNode, args)
