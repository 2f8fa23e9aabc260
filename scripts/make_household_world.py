"""Write the household meshes (spatial_ros.sim.household) and the world that uses them.

    scripts/with-env python scripts/make_household_world.py

Writes ``sim/models/household/meshes/<kind>.<format>`` (every format the SDF loader reads is
used once at least: OBJ, STL, PLY, DAE) and ``sim/worlds/household.sdf``: a table with the eight
household objects, labelled 1-8, and the tabletop world's camera. Deterministic: the same files
every run.
"""
import pathlib

import numpy as np

from spatial_ros.sim.household import HOUSEHOLD, household_mesh, write_mesh

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORMAT = {"mug": "obj", "bowl": "ply", "bottle": "obj", "can": "stl", "cereal box": "dae",
          "cup": "obj", "toy block": "stl", "marker": "ply"}
#: kind -> (x, y, yaw on the table top, diffuse colour)
LAYOUT = {"mug": (-0.05, 0.2, 2.2, (0.9, 0.9, 0.88)), "bowl": (-0.15, -0.12, 0.0, (0.1, 0.6, 0.6)),
          "bottle": (0.2, 0.25, 0.0, (0.9, 0.8, 0.1)), "can": (-0.2, 0.05, 0.0, (0.8, 0.1, 0.1)),
          "cereal box": (0.25, -0.05, 1.4, (0.85, 0.35, 0.1)),
          "cup": (0.05, -0.02, 0.0, (0.5, 0.2, 0.6)),
          "toy block": (0.0, -0.25, 0.3, (0.95, 0.85, 0.1)),
          "marker": (-0.25, -0.3, 0.9, (0.1, 0.2, 0.8))}
TABLE_TOP = 0.77


def main() -> None:
    meshes = ROOT / "sim" / "models" / "household" / "meshes"
    models = []
    for label, kind in enumerate(HOUSEHOLD, start=1):
        v, t = household_mesh(kind)
        name = kind.replace(" ", "_")
        path = write_mesh(meshes / f"{name}.{FORMAT[kind]}", np.round(v, 5), t)
        x, y, yaw, colour = LAYOUT[kind]
        c = " ".join(f"{k:g}" for k in colour)
        uri = f"model://household/meshes/{path.name}"
        tag = f"<label>{label}</label>"
        models.append(f"""    <model name="{name}">
      <static>true</static>
      <pose>{x:g} {y:g} {TABLE_TOP:g} 0 0 {yaw:g}</pose>
      <link name="link">
        <collision name="collision"><geometry><mesh><uri>{uri}</uri></mesh></geometry></collision>
        <visual name="visual">
          <geometry><mesh><uri>{uri}</uri></mesh></geometry>
          <material><ambient>{c} 1</ambient><diffuse>{c} 1</diffuse></material>
          <plugin filename="gz-sim-label-system" name="gz::sim::systems::Label">{tag}</plugin>
        </visual>
      </link>
    </model>""")
    template = (ROOT / "sim" / "worlds" / "tabletop.sdf").read_text()
    head = template[:template.index('    <model name="red_box">')]
    tail = template[template.index('    <model name="camera">'):]
    head = head.replace('<world name="tabletop">', '<world name="household">')
    head = head.replace(head[head.index("<!--"):head.index("-->") + 3], (
        "<!-- Household: eight household objects made in code (spatial_ros.sim.household:\n"
        "     mug, bowl, bottle, can, cereal box, cup, toy block, marker) as meshes of every\n"
        "     format the headless renderer reads, written by scripts/make_household_world.py.\n"
        "     Runs in Gazebo Harmonic (model:// URIs resolve through GZ_SIM_RESOURCE_PATH,\n"
        "     which sim.launch.py points at sim/models) and in spatial_ros's headless\n"
        "     renderer. -->"))
    (ROOT / "sim" / "worlds" / "household.sdf").write_text(head + "\n".join(models) + "\n"
                                                           + tail)
    print(f"wrote {len(models)} meshes in {meshes} and sim/worlds/household.sdf")


if __name__ == "__main__":
    main()
