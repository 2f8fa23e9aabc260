"""spatial_ros: spatial understanding for robots.

The package has two layers:

* the ROS-free core (this package's top-level modules and subpackages other than ``ros``):
  scene graph, relations, model, planning, simulation and benchmark; it imports neither rclpy
  nor the generated interfaces and installs with ``pip install .``;
* the ROS layer, ``spatial_ros.ros``: nodes and message conversions, the only place that imports
  rclpy and the generated ``spatial_ros.msg`` / ``spatial_ros.srv`` interfaces.
"""
from pkgutil import extend_path

# colcon installs the generated interfaces (spatial_ros.msg, spatial_ros.srv and their type
# support libraries) into the install tree's copy of this package. When the source tree comes
# first on sys.path (python -c, python -m pytest from the repository root), this lets the
# generated subpackages still be found there.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
__all__ = ["__version__"]
