"""Replay a recorded bag through spatial_ros in sim time.

    ros2 launch spatial_ros replay.launch.py bag:=/path/to/bag rate:=1.0

Runs `ros2 bag play BAG --clock` and the scene-graph, reasoning and planner nodes with
use_sim_time. The
bag must hold the camera topics and /camera/pose (the simulator and `spatial-ros record` write
them); an instance mask on /camera/segmentation/labels is used when mask_topic names it.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("spatial_ros")
    bag, rate = LaunchConfiguration("bag"), LaunchConfiguration("rate")
    mask = LaunchConfiguration("mask_topic")
    play = ExecuteProcess(cmd=["ros2", "bag", "play", bag, "--clock", "--rate", rate],
                          output="screen")
    scene_graph = Node(
        package="spatial_ros", executable="scene_graph_node", name="scene_graph",
        parameters=[os.path.join(share, "config", "scene_graph.yaml"),
                    {"use_sim_time": True, "mask_topic": mask,
                     "camera_pose_topic": "/camera/pose"}])
    reasoning = Node(
        package="spatial_ros", executable="reasoning_node", name="reasoning",
        parameters=[os.path.join(share, "config", "reasoning.yaml"),
                    {"use_sim_time": True, "camera_pose_topic": "/camera/pose",
                     "device": LaunchConfiguration("device")}])
    planner = Node(
        package="spatial_ros", executable="planner_node", name="planner",
        parameters=[os.path.join(share, "config", "planner.yaml"),
                    {"use_sim_time": True, "relations_topic": "/spatial/fused_relations"}])
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="the rosbag2 folder to replay"),
        DeclareLaunchArgument("rate", default_value="1.0", description="playback rate factor"),
        DeclareLaunchArgument("mask_topic", default_value="/camera/segmentation/labels",
                              description="instance mask topic in the bag ('' = none)"),
        DeclareLaunchArgument("device", default_value="auto",
                              description="reasoning model device: auto, cpu, cuda"),
        play, scene_graph, reasoning, planner,
    ])
