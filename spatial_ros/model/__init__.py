"""The depth-aware spatial reasoning model (torch, ROS-free): the network, its training data and
training, checkpoints, inference, calibrated fusion with the geometry, and ONNX export."""
