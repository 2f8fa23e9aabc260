"""The depth-aware spatial reasoning model (torch, ROS-free). Work in progress (issue 5): the
network and its tests are in; training, the shipped weights, fusion and the node are not."""
