"""What a ROS 2 maintainer checks before a release, read from the files themselves: launch
arguments, package.xml against what the code imports, colcon test, installed assets, the
layering of the core (no benchmark or simulator on the node path, no import cycle in model/)."""
import ast
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCH = sorted((ROOT / "launch").glob("*.launch.py"))


def _launch_arguments(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(declared, used) launch argument names of a launch file.

    Declared: DeclareLaunchArgument("x") and the keys of a module-level ARGS dict that a
    comprehension declares. Used: LaunchConfiguration("x"), a subscript ["x"] of a dict of
    LaunchConfigurations, or a name listed in a literal tuple that a comprehension turns into
    LaunchConfigurations (iterating ARGS itself uses nothing)."""
    declared, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "ARGS"
                                                for t in node.targets):
            declared |= {k.value for k in node.value.keys}
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", "")
            first = node.args[0] if node.args else None
            if name == "DeclareLaunchArgument" and isinstance(first, ast.Constant):
                declared.add(first.value)
            if name == "LaunchConfiguration" and isinstance(first, ast.Constant):
                used.add(first.value)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):
            used.add(node.slice.value)
        if isinstance(node, ast.DictComp) and "LaunchConfiguration" in ast.unparse(node.value):
            for gen in node.generators:
                if isinstance(gen.iter, (ast.Tuple, ast.List)):
                    used |= {e.value for e in gen.iter.elts if isinstance(e, ast.Constant)}
    return declared, used


@pytest.mark.parametrize("path", LAUNCH, ids=lambda p: p.name)
def test_every_declared_launch_argument_is_used(path):
    declared, used = _launch_arguments(ast.parse(path.read_text()))
    assert declared, f"{path.name} declares no argument"
    assert not declared - used, f"{path.name}: declared but never used: {declared - used}"


def test_the_argument_check_sees_an_unused_argument():
    src = ("ARGS = {'a': ('', ''), 'b': ('', '')}\n"
           "cfg = {k: LaunchConfiguration(k) for k in ARGS}\nNode(parameters=[cfg['a']])\n")
    declared, used = _launch_arguments(ast.parse(src))
    assert declared - used == {"b"}


def _package_keys() -> set[str]:
    root = ET.parse(ROOT / "package.xml").getroot()
    return {e.text.strip() for e in root if e.tag.endswith("depend")}


#: Python modules -> the rosdep key that provides them
_ROS_MODULES = {
    "rclpy": "rclpy", "rcl_interfaces": "rcl_interfaces", "std_msgs": "std_msgs",
    "std_srvs": "std_srvs", "sensor_msgs": "sensor_msgs", "geometry_msgs": "geometry_msgs",
    "visualization_msgs": "visualization_msgs", "diagnostic_msgs": "diagnostic_msgs",
    "rosgraph_msgs": "rosgraph_msgs", "builtin_interfaces": "builtin_interfaces",
    "tf2_msgs": "tf2_msgs", "tf2_ros": "tf2_ros", "ament_index_python": "ament_index_python",
    "launch": "launch", "launch_ros": "launch_ros", "yaml": "python3-yaml",
    "numpy": "python3-numpy", "cv2": "python3-opencv"}


def test_package_xml_declares_everything_the_code_and_launch_files_use():
    keys = _package_keys()
    needed = set()
    files = list((ROOT / "spatial_ros").rglob("*.py")) + LAUNCH
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for n in names:
                top = n.split(".")[0]
                if top in _ROS_MODULES:
                    needed.add(_ROS_MODULES[top])
    for f in LAUNCH:  # packages a launch file starts or includes
        needed |= set(re.findall(r'package="([a-z_]+)"', f.read_text())) - {"spatial_ros"}
        needed |= set(re.findall(r'get_package_share_directory\("([a-z_]+)"\)',
                                 f.read_text())) - {"spatial_ros"}
    assert needed >= {"rclpy", "launch_ros", "ros_gz_bridge", "ros_gz_sim", "python3-yaml"}
    assert not needed - keys, f"package.xml lacks {sorted(needed - keys)}"


def test_colcon_test_runs_every_test_tier():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    block = re.search(r"if\(BUILD_TESTING\)(.*?)endif\(\)", cmake, re.S)
    assert block, "CMakeLists.txt has no BUILD_TESTING block: colcon test runs nothing"
    tiers = sorted(p.name for p in (ROOT / "test").iterdir()
                   if p.is_dir() and (p / "__init__.py").is_file() and p.name != "data")
    assert tiers == ["bags", "core", "live", "messages"]
    for tier in tiers:
        assert f"test/{tier}" in block.group(1), f"colcon test does not run test/{tier}"
    assert "ament_cmake_pytest" in (ROOT / "package.xml").read_text()


def test_setup_py_installs_every_sim_asset():
    """pip's install carries the Gazebo worlds and the models their meshes come from."""
    out = subprocess.run([sys.executable, "-c", (
        "import runpy, setuptools\n"
        "got = {}\n"
        "setuptools.setup = lambda **kw: got.update(kw)\n"
        "runpy.run_path('setup.py')\n"
        "print(repr([f for _d, fs in got['data_files'] for f in fs]))")],
        cwd=ROOT, capture_output=True, text=True, check=True)
    installed = set(ast.literal_eval(out.stdout.strip().splitlines()[-1]))
    assets = {str(p.relative_to(ROOT)) for p in (ROOT / "sim").rglob("*") if p.is_file()}
    assert assets, "no sim assets"
    assert not assets - installed, f"setup.py does not install {sorted(assets - installed)}"


def _imports_of(path: pathlib.Path) -> set[str]:
    """spatial_ros modules ``path`` imports anywhere (module level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("spatial_ros"):
            out.add(node.module)
    return out


def test_model_package_has_no_import_cycle():
    model = ROOT / "spatial_ros" / "model"
    graph = {f"spatial_ros.model.{p.stem}": {m for m in _imports_of(p)
                                             if m.startswith("spatial_ros.model.")}
             for p in model.glob("*.py") if p.stem != "__init__"}
    state: dict[str, int] = {}

    def visit(n, path):
        state[n] = 1
        for m in graph.get(n, ()):
            assert state.get(m) != 1, "import cycle: " + " -> ".join(path + [m])
            if m not in state:
                visit(m, path + [m])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [n])


@pytest.mark.parametrize("node", ["scene_graph_node", "reasoning_node", "planner_node"])
def test_the_node_path_imports_no_benchmark_and_no_simulator(node):
    code = (f"import sys, spatial_ros.ros.{node}\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('spatial_ros.bench', "
            "'spatial_ros.sim')))\n"
            "print(bad)\nsys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, f"{node} imports {r.stdout.strip()} {r.stderr[-500:]}"


def test_tf_lookups_wait_a_bounded_time():
    """tf2's lookup_transform without a timeout returns at once, or (with a timeout of its
    own default elsewhere) blocks: every lookup names the node's tf_timeout."""
    calls = [n for f in (ROOT / "spatial_ros").rglob("*.py")
             for n in ast.walk(ast.parse(f.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "lookup_transform"]
    assert calls, "no tf2 lookup found"
    for call in calls:
        assert "timeout" in {k.arg for k in call.keywords}, ast.unparse(call)
