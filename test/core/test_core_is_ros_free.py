"""Every core module must import without rclpy or the generated interfaces."""
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[2] / "spatial_ros"


def core_modules() -> list[str]:
    mods = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        if rel.parts[1:2] in (("ros",), ("msg",), ("srv",)):
            continue
        mods.append(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    return mods


def test_core_imports_no_ros():
    mods = core_modules()
    assert "spatial_ros.vocabulary" in mods and "spatial_ros.cli" in mods
    code = (
        "import sys\n"
        f"for m in {mods!r}: __import__(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'rosidl_runtime_py') "
        "or m.split('.')[:2] in (['spatial_ros', 'msg'], ['spatial_ros', 'srv'], "
        "['spatial_ros', 'ros'])]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PKG.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"core imported ROS modules: {out.stdout}"
