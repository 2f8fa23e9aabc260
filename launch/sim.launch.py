"""Gazebo (gz sim Harmonic) with a spatial_ros world, the camera bridge and the spatial_ros nodes.

    ros2 launch spatial_ros sim.launch.py world:=tabletop

For machines with Gazebo and ros_gz installed. Without Gazebo, `sim_camera_node` renders the
same SDF worlds headless and publishes the same topics (see config/sim_camera.yaml).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    OpaqueFunction,
    SetEnvironmentVariable,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

from launch import LaunchDescription


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
    # model:// URIs (the household world's meshes) resolve in the package's sim/models
    models = os.pathsep.join(p for p in (os.path.join(share, "sim", "models"),
                                         os.environ.get("GZ_SIM_RESOURCE_PATH", "")) if p)
    return LaunchDescription([
        SetEnvironmentVariable("GZ_SIM_RESOURCE_PATH", models),
        DeclareLaunchArgument("world", default_value="tabletop",
                              description="world in sim/worlds: tabletop, shelf, room or "
                                          "household"),
        DeclareLaunchArgument("device", default_value="auto",
                              description="reasoning model device: auto, cpu, cuda"),
        gz, bridge, monitor, OpaqueFunction(function=_nodes_for_world),
    ])


def _nodes_for_world(context):
    """The Gazebo camera does not move: its optical pose comes from the same SDF file."""
    from spatial_ros.geometry import matrix_to_quat
    from spatial_ros.sim.paths import find_world
    from spatial_ros.sim.sdf import load_world

    world = load_world(find_world(LaunchConfiguration("world").perform(context)))
    pose = world.camera().optical_pose
    q = matrix_to_quat(pose.rotation)
    fixed = [float(v) for v in (*pose.translation, *q)]
    share = get_package_share_directory("spatial_ros")
    scene_graph = Node(
        package="spatial_ros", executable="scene_graph_node", name="scene_graph",
        parameters=[os.path.join(share, "config", "scene_graph.yaml"), {
            "use_sim_time": True, "camera_pose": fixed, "depth_noise_model": "ideal",
            "mask_topic": "camera/segmentation/labels",
            # the room world is room scale: its objects stand up to 5.5 m from the camera
            "workspace_range": 0.0 if world.name == "room" else 2.5}])
    reasoning = Node(
        package="spatial_ros", executable="reasoning_node", name="reasoning",
        parameters=[os.path.join(share, "config", "reasoning.yaml"), {
            "use_sim_time": True, "camera_pose": fixed, "depth_noise_model": "ideal",
            "mask_topic": "camera/segmentation/labels",
            "device": LaunchConfiguration("device")}])
    planner = Node(package="spatial_ros", executable="planner_node", name="planner",
                   parameters=[os.path.join(share, "config", "planner.yaml"),
                               {"use_sim_time": True,
                                "relations_topic": "spatial/fused_relations"}])
    return [scene_graph, reasoning, planner]
