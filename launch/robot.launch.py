"""spatial_ros on a robot: an RGB-D camera driver's topics -> scene graph -> reasoning -> planner.

    ros2 launch spatial_ros robot.launch.py
    ros2 launch spatial_ros robot.launch.py namespace:=arm_cam world_frame:=map \\
        color_topic:=/kinect/rgb/image_raw depth_topic:=/kinect/depth/image_raw \\
        camera_info_topic:=/kinect/rgb/camera_info

Topic defaults are those of realsense2_camera 4.x with `align_depth.enable:=true`, relative, so
that namespace:=robot1 takes the camera and every spatial_ros topic into /robot1 (start the camera
driver in the same namespace); two robots on one host do not mix. The camera
pose comes from tf2 (world_frame <- the image's optical frame); set use_tf:=false and
camera_pose_topic:=... to take it from a PoseStamped topic instead. A hand-held camera without
tf: gravity_source:=plane (up from the table or floor) or gravity_source:=imu (the D435i/D455
accelerometer; start the driver with enable_accel:=true); the scene graph is then published in
a level frame under the camera (reasoning and planner still take a camera pose: see README).
Every other parameter is in config/scene_graph.yaml, config/reasoning.yaml and
config/planner.yaml (params_file overrides the scene graph's). reasoning:=false leaves the
model out; the planner then answers from the geometric relations alone. device:=cuda (or
auto) runs the model on a Jetson's or desktop's GPU in fp16.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

ARGS = {
    "namespace": ("", "namespace of the spatial_ros nodes"),
    "color_topic": ("camera/camera/color/image_raw", "colour image (RealSense default; "
                    "relative: in the namespace)"),
    "depth_topic": ("camera/camera/aligned_depth_to_color/image_raw",
                    "depth registered to colour (RealSense default)"),
    "camera_info_topic": ("camera/camera/color/camera_info", "colour CameraInfo"),
    "mask_topic": ("", "instance mask from an upstream detector ('' = class-agnostic)"),
    "label_map": ("", "class names of the mask's ids: '1: mug, 2: bowl', JSON or a YAML file"),
    "label_map_topic": ("", "std_msgs/String with the detector's label map ('' = none)"),
    "world_frame": ("odom", "fixed frame of the scene graph"),
    "use_tf": ("true", "camera pose from tf2"),
    "gravity_source": ("pose", "scene graph's up: pose (tf2 / topic), imu (a D435i/D455 "
                       "accelerometer on imu_topic) or plane (the table or floor, hand-held)"),
    "imu_topic": ("camera/camera/imu", "sensor_msgs/Imu for gravity_source imu"),
    "camera_pose_topic": ("", "PoseStamped of the optical frame when use_tf is false"),
    "depth_noise_model": ("realsense_d435", "expected depth noise: ideal, realsense_d435, kinect"),
    "params_file": ("", "a YAML with scene_graph parameters (default: the package's "
                    "config/scene_graph.yaml)"),
    "reasoning": ("true", "run the depth-aware model and fuse its relations"),
    "device": ("auto", "model device: auto (CUDA when available), cpu, cuda"),
}


def generate_launch_description():
    share = get_package_share_directory("spatial_ros")
    defaults = {k: v for k, (v, _d) in ARGS.items()}
    defaults["params_file"] = os.path.join(share, "config", "scene_graph.yaml")
    cfg = {k: LaunchConfiguration(k) for k in ARGS}
    scene_graph = Node(
        package="spatial_ros", executable="scene_graph_node", name="scene_graph",
        namespace=cfg["namespace"],
        parameters=[cfg["params_file"], {
            "color_topic": cfg["color_topic"], "depth_topic": cfg["depth_topic"],
            "camera_info_topic": cfg["camera_info_topic"], "mask_topic": cfg["mask_topic"],
            "label_map": cfg["label_map"], "label_map_topic": cfg["label_map_topic"],
            "world_frame": cfg["world_frame"], "use_tf": cfg["use_tf"],
            "camera_pose_topic": cfg["camera_pose_topic"],
            "depth_noise_model": cfg["depth_noise_model"],
            "gravity_source": cfg["gravity_source"], "imu_topic": cfg["imu_topic"]}])
    reasoning = Node(
        package="spatial_ros", executable="reasoning_node", name="reasoning",
        namespace=cfg["namespace"], condition=IfCondition(cfg["reasoning"]),
        parameters=[os.path.join(share, "config", "reasoning.yaml"), {
            "color_topic": cfg["color_topic"], "depth_topic": cfg["depth_topic"],
            "camera_info_topic": cfg["camera_info_topic"], "mask_topic": cfg["mask_topic"],
            "world_frame": cfg["world_frame"],
            "use_tf": cfg["use_tf"], "camera_pose_topic": cfg["camera_pose_topic"],
            "depth_noise_model": cfg["depth_noise_model"], "device": cfg["device"]}])
    planners = [Node(
        package="spatial_ros", executable="planner_node", name="planner",
        namespace=cfg["namespace"], condition=cond(cfg["reasoning"]),
        parameters=[os.path.join(share, "config", "planner.yaml"),
                    {"camera_pose_topic": cfg["camera_pose_topic"],
                     "relations_topic": topic}])
        for cond, topic in ((IfCondition, "spatial/fused_relations"), (UnlessCondition, ""))]
    monitor = Node(
        package="spatial_ros", executable="rgbd_monitor_node", name="rgbd_monitor",
        namespace=cfg["namespace"],
        parameters=[{"color_topic": cfg["color_topic"], "depth_topic": cfg["depth_topic"],
                     "camera_info_topic": cfg["camera_info_topic"]}])
    return LaunchDescription(
        [DeclareLaunchArgument(k, default_value=defaults[k], description=d)
         for k, (_v, d) in ARGS.items()]
        + [scene_graph, reasoning, *planners, monitor])
