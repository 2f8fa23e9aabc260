"""`spatial-ros bench relations`: runs, prints and saves its table; bad arguments exit 2."""
import subprocess
import sys

from spatial_ros.bench.relations import decision_keys, run_relations_bench


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "relations", *args],
                          capture_output=True, text=True, timeout=300)


def test_small_run_prints_and_saves(tmp_path):
    r = _cli("--n", "2", "--sensors", "ideal", "--frames", "2", "--segmentation", "mask",
             "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "relation accuracy" in r.stdout and "object recall" in r.stdout
    assert (tmp_path / "relations_test_mask.md").read_text().count("|") > 50
    assert (tmp_path / "relations_test_mask.png").stat().st_size > 10_000


def test_scores_are_measured_not_given():
    res = run_relations_bench(n=2, sensors=("ideal",), frames=1, width=320, height=240,
                              progress=False)["ideal"]
    pairs = sum(res.total.values()) / len(decision_keys())
    assert pairs >= 2 and 0.8 < res.accuracy <= 1.0 and res.visible >= 2
    assert res.recalled <= res.visible


def test_bad_arguments_exit_2():
    for args, text in [(("--split", "nope"), "unknown split 'nope'"),
                       (("--sensors", "lidar"), "unknown sensor preset 'lidar'"),
                       (("--sensors", "rgb_only"), "needs depth"),
                       (("--n", "0"), "must be positive")]:
        r = _cli(*args)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)
