"""SpatialBench: generated scenes with exact ground truth and templated questions (ROS-free)."""
