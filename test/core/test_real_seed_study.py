"""scripts/real_seed_study.py: the real-frame decisions of several checkpoints, seed by seed
(real frames, the real pipeline and the shipped weights)."""
import json
import subprocess
import sys

from spatial_ros.bench.real_model import FUSED, GEOMETRY, RGB, RGBD
from spatial_ros.model.infer import SHIPPED_WEIGHTS

from ..conftest import ROOT

SCRIPT = ROOT / "scripts" / "real_seed_study.py"


def test_seed_study_tables_each_checkpoint_and_the_mean(tmp_path):
    stated = json.loads(SHIPPED_WEIGHTS.with_suffix(".json").read_text())["real"]
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path),
                          f"shipped:0={SHIPPED_WEIGHTS}", f"shipped:1={SHIPPED_WEIGHTS}"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    table = (tmp_path / "real_model_seeds.md").read_text()
    assert (tmp_path / "real_model_seeds.png").stat().st_size > 1000
    rows = [r.split(" | ") for r in table.splitlines() if r.startswith("| shipped |")]
    assert [r[1] for r in rows] == ["0", "1"]
    want = [str(stated[k][0]) for k in (RGB, RGBD, GEOMETRY, FUSED)]
    assert all(r[2:6] == want for r in rows)  # the same weights give the stated figures twice
    mean = next(r for r in table.splitlines() if r.startswith("| **shipped** | mean"))
    assert f"**{stated[RGBD][0] - stated[RGB][0]:+.2f}**" in mean


def test_seed_study_names_a_bad_argument(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path),
                          f"shipped={SHIPPED_WEIGHTS}"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "is not VARIANT:SEED=CHECKPOINT" in run.stderr
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path),
                          f"shipped:0={tmp_path / 'none.pt'}"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "none.pt" in run.stderr
