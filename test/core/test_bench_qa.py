"""`spatial-ros bench qa`: questions and goals scored against ground truth."""
import subprocess
import sys

from spatial_ros.bench.qa import _is_right, _names, format_qa_table, run_qa_bench


def test_small_run_scores_every_level():
    res = run_qa_bench(n=3, sensors=("ideal",), frames=1, width=320, height=240,
                       progress=False)["ideal"]
    assert set(res.total) >= {1, 2, 3, 5} and sum(res.total.values()) >= 20
    assert 0.3 < res.accuracy() <= 1.0
    assert res.goals == 3 and res.place_ok <= res.placed <= res.goals
    table = format_qa_table({"ideal": res})
    assert "L4 multi-hop" in table and "placement success" in table


def test_answer_comparison():
    assert _names("red box (id 3), blue sphere (id 1)") == {"red box", "blue sphere"}
    assert _names("nothing") == set()
    assert _is_right({"kind": "metric", "answer": "0.27"}, "0.30 m", 0.05)
    assert not _is_right({"kind": "metric", "answer": "0.27"}, "0.40 m", 0.05)
    assert _is_right({"kind": "which", "answer": "blue sphere, red box"},
                     "red box (id 3), blue sphere (id 1)", 0.05)
    assert not _is_right({"kind": "yes_no", "answer": "yes"}, "no", 0.05)
    # an object too little in view for the questions may be named, and only such an object
    q = {"kind": "which", "answer": "red box"}
    assert _is_right(q, "red box (id 3), grey cylinder (id 9)", 0.05, {"grey cylinder"})
    assert not _is_right(q, "red box (id 3), grey cylinder (id 9)", 0.05, {"blue box"})
    assert not _is_right(q, "grey cylinder (id 9)", 0.05, {"grey cylinder"})


def test_bad_split_exits_2():
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "qa", "--split", "x"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown split 'x'" in r.stderr
