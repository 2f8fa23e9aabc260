"""`spatial-ros bench latency` (offline part): prints every stage and the memory figures."""
import subprocess
import sys


def test_latency_bench_prints_stages_and_rss():
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "latency",
                        "--frames", "30"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for stage in ("decode", "perception", "tracking", "relations", "encode", "end_to_end"):
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(stage))
        p50, p95 = (float(x) for x in line.split()[1:3])
        assert 0 < p50 <= p95
    assert "8 objects" in r.stdout and "resident memory" in r.stdout


def test_too_few_frames_is_refused():
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "latency",
                        "--frames", "5"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "warm-up" in r.stderr
