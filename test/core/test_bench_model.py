"""`bench model`: the ablation tables over real renders, the real pipeline and real (small,
untrained) networks; every row's weights are looked up, missing ones named."""
import pytest

from spatial_ros.bench.model import (
    DEPTH_KEYS,
    FULL,
    FUSED,
    GEOMETRIC,
    HARD_ROWS,
    format_model_table,
    run_model_bench,
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
    table = format_model_table(rows, meta)
    assert "depth-order decisions" in table and table.count("\n") == len(rows) + 3
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
