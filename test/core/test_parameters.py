"""The one table of node parameters (spatial_ros.parameters): what it allows, and that the YAML
files in config/ and the README's tables are generated from it, not written beside it."""
import pathlib

import pytest

from spatial_ros.parameters import NODES, Param, check_value, markdown_table, yaml_text

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("node", sorted(NODES))
def test_config_yaml_is_generated_from_the_table(node):
    from spatial_ros.cli import CONFIG_FILES

    path = ROOT / "config" / CONFIG_FILES[node]
    assert path.read_text() == yaml_text([node]), \
        f"{path.name} differs from spatial_ros/parameters.py: run spatial-ros params --yaml config"


def test_readme_parameter_tables_are_generated_from_the_table():
    readme = (ROOT / "README.md").read_text()
    for node in ("scene_graph", "reasoning", "planner"):
        assert markdown_table(node) in readme, f"README's {node} table is not the generated one"


def test_every_default_is_allowed_and_every_topic_is_relative():
    for node, params in NODES.items():
        names = [p.name for p in params]
        assert len(names) == len(set(names)), f"{node}: a parameter twice"
        for p in params:
            assert check_value(p, p.default) is None, (node, p.name)
            assert p.description, (node, p.name)
            if p.name.endswith(("_topic", "_service")):
                assert not p.default.startswith("/"), f"{node}.{p.name} is absolute: " \
                    "namespace:= would not move it"


def test_bad_values_are_refused_with_the_parameter_named():
    stride = next(p for p in NODES["scene_graph"] if p.name == "stride")
    assert "stride 0: must lie in [1, 16]" in check_value(stride, 0)
    conf = next(p for p in NODES["scene_graph"] if p.name == "min_confidence")
    assert "[0, 1]" in check_value(conf, 5.0)
    frames = next(p for p in NODES["scene_graph"] if p.name == "frames")
    assert check_value(frames, "egocentric,gravity_aligned") is None
    assert "expected a comma-separated list of" in check_value(frames, "egocentric,sideways")
    assert "expected" in check_value(Param("g", "pose", "x", choices=("pose", "imu")), "gps")


def test_live_parameters_are_the_ones_nodes_apply():
    live = {n: {p.name for p in ps if p.live} for n, ps in NODES.items()}
    assert {"near_distance", "min_confidence", "plane_max_tilt", "track_gate",
            "diagnostics_window"} <= live["scene_graph"]
    assert "stride" not in live["scene_graph"] and "color_topic" not in live["scene_graph"]
    assert live["reasoning"] == {"min_confidence", "diagnostics_window"}
    assert live["sim_camera"] == set()
