"""Simulation (ROS-free): SDF worlds, a headless Open3D renderer, depth sensor models, ground
truth, and the SpatialBench scene generator."""
