"""Replay a recorded bag through spatial_ros in sim time.

    ros2 launch spatial_ros replay.launch.py bag:=/path/to/realsense_bag rate:=1.0

    ros2 launch spatial_ros replay.launch.py bag:=/path/to/sim_bag gravity_source:=pose \
        color_topic:=/camera/color/image_raw depth_topic:=/camera/depth/image_raw \
        camera_info_topic:=/camera/color/camera_info mask_topic:=/camera/segmentation/labels

Runs `ros2 bag play BAG --clock` and the scene-graph, reasoning and planner nodes with
use_sim_time. The defaults suit a realsense-ros 4.x bag of a hand-held camera (colour, aligned
depth, camera info; no /camera/pose, no tf), such as `spatial-ros real-bag` writes: up comes
from each frame's support plane. `gravity_source` picks it: plane, imu (the bag's imu_topic)
or pose (the bag's /camera/pose, as the simulator and `spatial-ros record` write it). The scene
graph carries the camera pose it was built with; the reasoning and planner nodes take it from
there. An instance mask is used when mask_topic names one in the bag, with class names from
label_map or label_map_topic (`spatial-ros real-bag --detector` writes /detector/instances and
/detector/label_map).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("spatial_ros")
    bag, rate = LaunchConfiguration("bag"), LaunchConfiguration("rate")
    mask = LaunchConfiguration("mask_topic")
    topics = {k: LaunchConfiguration(k) for k in (
        "color_topic", "depth_topic", "camera_info_topic", "gravity_source", "imu_topic",
        "label_map", "label_map_topic")}
    play = ExecuteProcess(cmd=["ros2", "bag", "play", bag, "--clock", "--rate", rate],
                          output="screen")
    scene_graph = Node(
        package="spatial_ros", executable="scene_graph_node", name="scene_graph",
        parameters=[os.path.join(share, "config", "scene_graph.yaml"),
                    {"use_sim_time": True, "mask_topic": mask,
                     "camera_pose_topic": "/camera/pose", **topics}])
    reasoning = Node(
        package="spatial_ros", executable="reasoning_node", name="reasoning",
        parameters=[os.path.join(share, "config", "reasoning.yaml"),
                    {"use_sim_time": True, "camera_pose_topic": "/camera/pose",
                     "color_topic": topics["color_topic"], "depth_topic": topics["depth_topic"],
                     "camera_info_topic": topics["camera_info_topic"], "mask_topic": mask,
                     "device": LaunchConfiguration("device")}])
    planner = Node(
        package="spatial_ros", executable="planner_node", name="planner",
        parameters=[os.path.join(share, "config", "planner.yaml"),
                    {"use_sim_time": True, "relations_topic": "spatial/fused_relations"}])
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="the rosbag2 folder to replay"),
        DeclareLaunchArgument("rate", default_value="1.0", description="playback rate factor"),
        DeclareLaunchArgument("mask_topic", default_value="",
                              description="instance mask topic in the bag ('' = none: "
                              "class-agnostic segmentation)"),
        DeclareLaunchArgument("label_map", default_value="",
                              description="class names of the mask's ids: '1: mug, 2: bowl'"),
        DeclareLaunchArgument("label_map_topic", default_value="",
                              description="std_msgs/String label map in the bag ('' = none)"),
        DeclareLaunchArgument("device", default_value="auto",
                              description="reasoning model device: auto, cpu, cuda"),
        DeclareLaunchArgument("gravity_source", default_value="plane",
                              description="where up comes from: plane (the support plane; "
                              "needs nothing in the bag), imu (imu_topic) or pose "
                              "(/camera/pose in the bag)"),
        DeclareLaunchArgument("imu_topic", default_value="/camera/camera/imu",
                              description="sensor_msgs/Imu for gravity_source imu"),
        DeclareLaunchArgument("color_topic", default_value="/camera/camera/color/image_raw",
                              description="colour image topic in the bag"),
        DeclareLaunchArgument("depth_topic",
                              default_value="/camera/camera/aligned_depth_to_color/image_raw",
                              description="depth image topic in the bag"),
        DeclareLaunchArgument("camera_info_topic",
                              default_value="/camera/camera/color/camera_info",
                              description="camera info topic in the bag"),
        play, scene_graph, reasoning, planner,
    ])
