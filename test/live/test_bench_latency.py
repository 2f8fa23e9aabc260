"""`spatial-ros bench latency --live`: scene_graph_node in the bench's process, the camera
player in another, over real DDS for a few seconds (it crashed on a renamed attribute)."""
import math
import os
import re
import subprocess
import sys


def test_live_latency_bench_runs_and_reports(ros_domain_id):
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id + 2))  # its own DDS domain
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "latency",
                        "--frames", "25", "--live", "3"], capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    m = re.search(r"output ([\d.]+) Hz; (\d+) frames synchronised, (\d+) processed "
                  r"\(node work p50 ([\d.na]+) ms\)", r.stdout)
    assert m, r.stdout
    rate, received, processed, work = (float(m[1]), int(m[2]), int(m[3]), float(m[4]))
    assert processed > 0 and received >= processed
    assert rate > 0 and math.isfinite(work) and work > 0
    assert "resident memory" in r.stdout
