"""Write requirements.lock from a resolved venv.

    "$SPATIAL_ROS_VENV/bin/python" scripts/lock.py > requirements.lock


Lists every distribution with a .dist-info folder. The ROS wheels also ship .egg-info folders for
their generated Python packages (action_msgs, rclpy, ...), which are not installable names on
PyPI: those are left out.
"""
import importlib.metadata as md

rows = set()
for dist in md.distributions():
    if not str(dist._path).endswith(".dist-info"):
        continue
    name = dist.metadata["Name"]
    if name.lower() == "pip":
        continue
    rows.add(f"{name}=={dist.version.split('+')[0]}")
print("# Pinned, resolved environment of spatial_ros. Regenerate with scripts/lock.py.")
print("# torch 2.13.0 resolves to the CPU wheel on these machines' disk.")
print("\n".join(sorted(rows, key=str.lower)))
