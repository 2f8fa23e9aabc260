"""pip installation of the spatial_ros Python package (the ROS-free core and the ROS layer).

On a ROS machine, colcon builds the package through CMakeLists.txt (ament_cmake), which also
generates the interfaces (spatial_ros.msg, spatial_ros.srv). pip installs the same sources for
machines without ROS: training, benchmarks, data generation. The ROS layer (spatial_ros.ros) is
installed too but only imports where rclpy and the generated interfaces are present.
"""
import glob
import os

from setuptools import find_packages, setup

setup(
    name="spatial_ros",
    version="0.1.0",
    description="Spatial understanding for robots: 3D scene graphs, spatial relations, planning.",
    python_requires=">=3.10",
    packages=find_packages(include=["spatial_ros", "spatial_ros.*"]),
    package_data={"spatial_ros": ["data/*", "data/**/*", "model/configs/*.yaml", "model/configs/hard/*.yaml",
                                  "model/weights/*"]},
    # every sim asset, where find_world and model:// URIs look: <prefix>/share/spatial_ros/sim
    data_files=[(f"share/spatial_ros/{d}", sorted(f for f in glob.glob(f"{d}/*")
                                                  if os.path.isfile(f)))
                for d in sorted({os.path.dirname(f) for f in
                                 glob.glob("sim/**/*", recursive=True) if os.path.isfile(f)})],
    install_requires=[
        "numpy>=1.24",
        "open3d-cpu>=0.18; platform_machine=='x86_64'",
        "opencv-python-headless>=4.8",
        "rosbags>=0.10",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "torch>=2.1",
        "trimesh>=4.0",  # DAE (COLLADA) meshes in SDF worlds, with pycollada
        "pycollada>=0.8",
    ],
    entry_points={"console_scripts": ["spatial-ros = spatial_ros.cli:main"]},
)
