"""Gazebo (gz sim Harmonic) with a spatial_ros world, the camera bridge and the spatial_ros nodes.

    ros2 launch spatial_ros sim.launch.py world:=tabletop

For machines with Gazebo and ros_gz installed. Without Gazebo, `sim_camera_node` renders the
same SDF worlds headless and publishes the same topics (see config/sim_camera.yaml).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("spatial_ros")
    world = LaunchConfiguration("world")
    gz = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(
            get_package_share_directory("ros_gz_sim"), "launch", "gz_sim.launch.py")),
        launch_arguments={"gz_args": ["-r ", PathJoinSubstitution(
            [share, "sim", "worlds", [world, ".sdf"]])]}.items())
    bridge = Node(package="ros_gz_bridge", executable="parameter_bridge", name="camera_bridge",
                  parameters=[{"config_file": os.path.join(share, "config", "gz_bridge.yaml")}])
    monitor = Node(package="spatial_ros", executable="rgbd_monitor_node", name="rgbd_monitor",
                   parameters=[{"use_sim_time": True}])
    return LaunchDescription([
        DeclareLaunchArgument("world", default_value="tabletop",
                              description="world in sim/worlds: tabletop, shelf or room"),
        gz, bridge, monitor,
    ])
