"""sim_camera: renders an SDF world headless and publishes what Gazebo's bridge would.

Topics (the same names and types as config/gz_bridge.yaml): colour (rgb8), depth (32FC1 m or
16UC1 mm), CameraInfo, the instance labels_map (rgb8, as Gazebo's segmentation camera: label and
16-bit instance count), plus the camera's world pose (PoseStamped) and
the exact ground truth (SceneGraph) for tests and benchmarks; optionally /clock for sim time.
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image

from spatial_ros.msg import SceneGraph
from spatial_ros.relations import RelationConfig
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.params import declare_params
from spatial_ros.ros.runner import run_node
from spatial_ros.sim.groundtruth import ground_truth
from spatial_ros.sim.paths import CameraPath, find_world
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sdf import load_world
from spatial_ros.sim.sensors import apply_sensor, get_sensor

__all__ = ["SimCameraNode", "main"]


class SimCameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_camera", **kwargs)
        v = declare_params(self, "sim_camera")
        world, camera, sensor = v["world"], v["camera"], v["sensor"]
        self.rate, self.seed = v["rate"], v["seed"]
        mode, period, script = v["camera_path"], v["path_period"], v["waypoints"]
        self.depth_encoding, self.use_clock = v["depth_encoding"], v["publish_clock"]
        self.frame_id = v["frame_id"]
        topics = {k: v[f"{k}_topic"] for k in ("color", "depth", "camera_info", "labels", "pose",
                                               "ground_truth")}
        self.world = load_world(find_world(world))
        self.renderer = Renderer(self.world, self.world.camera(camera or None))
        self.sensor = get_sensor(sensor)
        waypoints = [script[i:i + 6] for i in range(0, len(script), 6)] if len(script) > 1 else []
        self.path = CameraPath(self.renderer.camera.optical_pose, mode=mode, period=period,
                               waypoints=waypoints)
        qos = qos_profile_sensor_data
        self.pubs = {k: self.create_publisher(Image, topics[k], qos)
                     for k in ("color", "depth", "labels")}
        self.info_pub = self.create_publisher(CameraInfo, topics["camera_info"], qos)
        self.pose_pub = self.create_publisher(PoseStamped, topics["pose"], 10)
        self.gt_pub = self.create_publisher(SceneGraph, topics["ground_truth"], 10)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if self.use_clock else None
        self.frame = 0
        self._gt_cache: tuple[bytes, SceneGraph] | None = None
        self.relation_config = RelationConfig()
        self.create_timer(1.0 / self.rate, self._tick)
        self.get_logger().info(
            f"rendering {self.world.path.name} camera {self.renderer.camera.name!r} "
            f"{self.renderer.intrinsics.width}x{self.renderer.intrinsics.height} at "
            f"{self.rate:g} Hz, sensor {self.sensor.name}, path {mode}")

    def _tick(self) -> None:
        t_sim = self.frame / self.rate
        stamp = conv.seconds_to_stamp(t_sim) if self.use_clock else \
            self.get_clock().now().to_msg()
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=stamp))
        pose = self.path.pose(t_sim)
        frame = self.renderer.render(pose)
        rng = np.random.default_rng([self.seed, self.frame])
        depth = apply_sensor(frame.depth, frame.rgb, self.sensor, rng)
        fid = self.frame_id
        self.pubs["color"].publish(conv.numpy_to_image(frame.rgb, "rgb8", stamp=stamp,
                                                       frame_id=fid))
        self.pubs["depth"].publish(conv.depth_to_image(depth, self.depth_encoding, stamp=stamp,
                                                       frame_id=fid))
        self.pubs["labels"].publish(conv.labels_map_to_image(frame.mask, stamp=stamp,
                                                             frame_id=fid))
        self.info_pub.publish(conv.intrinsics_to_camera_info(frame.intrinsics, stamp=stamp,
                                                             frame_id=fid))
        self.pose_pub.publish(conv.pose_to_msg(pose, stamp=stamp))
        key = pose.matrix.tobytes()
        if self._gt_cache is None or self._gt_cache[0] != key:
            self._gt_cache = (key, ground_truth(self.world, self.renderer, pose,
                                                config=self.relation_config))
        graph = self._gt_cache[1]
        graph.stamp = conv.stamp_to_seconds(stamp)
        self.gt_pub.publish(conv.scene_graph_to_msg(graph))
        self.frame += 1


    def destroy_node(self) -> None:
        # Open3D checks its tensor memory at interpreter exit and reports (and intermittently
        # exits 1 on) tensors still alive then: release the renderer's with the node
        self.renderer = None
        self._gt_cache = None
        import gc

        gc.collect()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(SimCameraNode, args)
