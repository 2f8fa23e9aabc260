"""`bench model`: the ablation tables over real renders, the real pipeline and real (small,
untrained) networks; every row's weights are looked up, missing ones named."""
import pytest

from spatial_ros.bench.model import (
    DEPTH_KEYS,
    FULL,
    FUSED,
    GEOMETRIC,
    HARD_ROWS,
    SceneRecord,
    cue_share,
    format_key_table,
    format_model_table,
    run_model_bench,
    score,
)
from spatial_ros.errors import BenchError
from spatial_ros.model.checkpoint import save_checkpoint
from spatial_ros.model.data import DECISION_KEYS
from spatial_ros.model.network import ModelConfig, SpatialNet

TINY = dict(image_height=32, image_width=48, patch=8, dim=32, layers=1, heads=2)


def _runs(root, folders):
    for k, folder in enumerate(folders):
        cfg = ModelConfig(**TINY, geometry_tokens=not folder.endswith("_nogeo"),
                          depth_head="full" in folder or "both" in folder)
        save_checkpoint(root / folder / "model.pt", SpatialNet(cfg), stage="finetune",
                        train_seconds=10.0 + k, pretrain_seconds=5.0 * ("video" in folder))


def test_hard_ablation_has_twelve_rows_and_depth_order_decisions(tmp_path):
    assert {DECISION_KEYS[j][0] for j in DEPTH_KEYS} == {"in_front_of", "behind"}
    assert len(HARD_ROWS) == 12 and len(set(HARD_ROWS.values())) == 12
    _runs(tmp_path / "runs", HARD_ROWS.values())
    res = run_model_bench(runs=tmp_path / "runs", splits=("hard",), sensors=("realsense_d435",),
                          n=3, n_val=2, frames=1, progress=False, out=tmp_path / "out",
                          ablation="hard")
    assert (tmp_path / "out" / "fusion_hard.json").is_file()
    rows, meta, scenes = res["tables"][("hard", "realsense_d435")]
    assert list(rows) == [*HARD_ROWS, GEOMETRIC, FUSED] and scenes >= 1
    for name, s in rows.items():
        assert 0.0 <= s.decisions <= 1.0 and 0.0 <= s.depth_decisions <= 1.0, name
    # pre-training counts in the training cost: (10 + 4 + 5) / 10 for the video row
    assert meta["+video pre-training (baseline)"]["cost"] == pytest.approx(1.9)
    cue, facts = res["cues"][("hard", "realsense_d435")]
    assert facts > 0 and 0.0 <= cue <= 1.0
    table = format_model_table(rows, meta, (cue, facts))
    assert "depth-order decisions" in table and table.count("\n") == len(rows) + 4
    assert f"in {100 * cue:.1f} % of the {facts} camera-frame in-front-of facts" in table
    keys = format_key_table(rows)
    assert keys.count("\n") == len(rows) + 1 and "in_front_of/egoc" in keys
    # all questions: every level's questions together (the research's "spatial accuracy")
    g = rows[GEOMETRIC].levels.values()
    line = next(x for x in table.splitlines() if x.startswith(f"| {GEOMETRIC} |"))
    right, asked = sum(c for c, _ in g), sum(n for _, n in g)
    assert asked > 0 and line.split(" | ")[6] == f"{100 * right / asked:.1f}"


def test_missing_rows_are_named_with_the_command_that_makes_them(tmp_path):
    _runs(tmp_path / "runs", [f for f in HARD_ROWS.values() if f != "both_nogeo"])
    with pytest.raises(BenchError, match="both_nogeo/model.pt; make them with: "
                                         "scripts/train_hard_ablation.sh"):
        run_model_bench(runs=tmp_path / "runs", splits=("hard",), n=1, progress=False,
                        out=tmp_path / "out", ablation="hard")
    with pytest.raises(BenchError, match="unknown ablation 'everything'"):
        run_model_bench(runs=tmp_path / "runs", ablation="everything", progress=False)
    full = tmp_path / "full.pt"
    save_checkpoint(full, SpatialNet(ModelConfig(**TINY)), stage="finetune", train_seconds=1.0)
    res = run_model_bench(runs=tmp_path / "none", weights=full, splits=("test",),
                          sensors=("rgb_only",), n=2, n_val=2, frames=1, progress=False,
                          out=tmp_path / "out", ablation="full")
    assert list(res["tables"][("test", "rgb_only")][0]) == [FULL, GEOMETRIC, FUSED]


def test_models_pool_over_masks_or_boxes_and_the_fusion_fits_on_either(tmp_path):
    import numpy as np

    from spatial_ros.bench.model import collect
    from spatial_ros.model.infer import SpatialReasoner

    full = tmp_path / "full.pt"
    cfg = ModelConfig(**TINY, depth_tokens=True, depth_scope="objects")
    save_checkpoint(full, SpatialNet(cfg), stage="finetune", train_seconds=1.0)
    reasoner = {FULL: SpatialReasoner(full, device="cpu")}
    on = {r: collect("val", 2, 0, "realsense_d435", reasoner, frames=1, progress=False,
                     regions=r) for r in ("mask", "boxes")}
    assert [x.ids for x in on["mask"]] == [x.ids for x in on["boxes"]]
    # the same objects, other regions: a box takes in the table behind a round object
    assert any(not np.allclose(a.probs[FULL], b.probs[FULL])
               for a, b in zip(on["mask"], on["boxes"]))
    with pytest.raises(BenchError, match="regions 'blobs'"):
        collect("val", 1, 0, "realsense_d435", reasoner, progress=False, regions="blobs")
    with pytest.raises(BenchError, match="fusion regions 'blobs'"):
        run_model_bench(runs=tmp_path, weights=full, ablation="full", fusion_regions="blobs",
                        progress=False)
    for regions in ("boxes", "mask"):
        res = run_model_bench(runs=tmp_path / "none", weights=full, splits=("test",),
                              sensors=("realsense_d435",), n=1, n_val=2, frames=1,
                              progress=False, out=tmp_path / regions, ablation="full",
                              fusion_regions=regions)
        assert res["fusion_path"].is_file()


def test_depth_order_where_image_height_misleads_is_scored_on_those_pairs_alone():
    import numpy as np

    from spatial_ros.scene import SceneGraph
    from spatial_ros.vocabulary import Frame

    front = DECISION_KEYS.index(("in_front_of", Frame.EGOCENTRIC))
    behind = DECISION_KEYS.index(("behind", Frame.EGOCENTRIC))
    truth = np.zeros((3, 3, len(DECISION_KEYS)), bool)
    # 0 is in front of 1 and of 2; 0 reaches lower in the image than 1 (the cue holds) but not
    # than 2 (0 stands on a pedestal: the cue misleads)
    truth[0, 1, front] = truth[0, 2, front] = True
    truth[1, 0, behind] = truth[2, 0, behind] = True
    rec = SceneRecord(ids=[1, 2, 3], truth=truth, probs={}, has_geometry=np.ones(3, bool),
                      questions=[], graph_truth=SceneGraph(objects=[], relations=[], stamp=0.0,
                                                           frame_id="world"),
                      bottom=np.array([300, 250, 320]))
    assert rec.misleading_pairs() == [(0, 2)]
    assert cue_share([rec]) == (0.5, 2)
    # a 2D-cue reader: "lower in the image is nearer" for every pair
    guess = np.zeros_like(truth, dtype=float)
    for a in range(3):
        for b in range(3):
            if a != b:
                guess[a, b, front] = float(rec.bottom[a] > rec.bottom[b])
                guess[a, b, behind] = float(rec.bottom[a] < rec.bottom[b])
    rec.probs = {"2d": guess, "truth": truth.astype(float), GEOMETRIC: guess}
    assert score([rec], "2d").misled == (0.0, 4)  # all four decisions of (0, 2) wrong
    assert score([rec], "truth").misled == (1.0, 4)
    s = score([rec], "2d")
    assert s.per_key.shape == (len(DECISION_KEYS),) and s.per_key[front] == pytest.approx(3 / 6)


def test_cli_saves_each_table_with_its_per_decision_table(tmp_path):
    import subprocess
    import sys

    full = tmp_path / "full.pt"
    save_checkpoint(full, SpatialNet(ModelConfig(**TINY)), stage="finetune", train_seconds=1.0)
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "bench", "model", "--ablation",
                        "full", "--weights", str(full), "--split", "test", "--sensors",
                        "realsense_d435", "--n", "1", "--n-val", "1", "--frames", "1", "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for stem in ("model_test_realsense_d435_full", "model_test_realsense_d435_full_decisions"):
        for ext in ("md", "png"):
            assert (tmp_path / "out" / f"{stem}.{ext}").stat().st_size > 0, stem
    keys = (tmp_path / "out" / "model_test_realsense_d435_full_decisions.md").read_text()
    assert "accuracy (%) per decision" in keys and "larger_than" in keys
