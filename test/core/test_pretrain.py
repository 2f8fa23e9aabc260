"""Video pre-training, its checkpoints and the fine-tuning that starts from them; configs that
extend others; geometry tokens off (real torch, real SpatialBench renders, CPU)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from spatial_ros.bench.generate import generate_scene
from spatial_ros.errors import SpatialRosError
from spatial_ros.geometry import Pose
from spatial_ros.model.checkpoint import CheckpointError, load_model
from spatial_ros.model.network import ModelConfig, SpatialNet
from spatial_ros.model.pretrain import (
    PretrainConfig,
    build_clips,
    clip_tensors,
    correspondences,
    load_pretrained,
    photometric_loss,
    pretrain,
    warp,
)
from spatial_ros.model.train import TrainConfig, load_full_config, train
from spatial_ros.sim.render import Renderer

TINY = ModelConfig(image_height=32, image_width=48, patch=8, dim=32, layers=1, heads=2)


def test_correspondences_follow_the_3d_point():
    world, pose = generate_scene("test", 0, 1, width=256, height=192)
    renderer = Renderer(world)
    f0 = renderer.render(pose)
    same = correspondences(f0.depth, f0.depth, f0.intrinsics, pose, pose, 8, 2)
    have = same >= 0
    assert have.mean() > 0.2  # the table and objects have depth; the background has none
    np.testing.assert_array_equal(same[have], np.flatnonzero(have))  # no motion: itself
    # the camera slides 10 cm along its own x axis: content moves left in the image
    moved = Pose(rotation=pose.rotation, translation=pose.translation + pose.rotation[:, 0] * 0.1)
    f1 = renderer.render(moved)
    corr = correspondences(f0.depth, f1.depth, f0.intrinsics, pose, moved, 8, 2)
    ok = corr >= 0
    gw = 256 // 16
    shift = (corr[ok] % gw) - (np.flatnonzero(ok) % gw)
    assert ok.sum() > 10 and (shift <= 0).all() and (shift < 0).mean() > 0.5
    assert (corr[ok] // gw == np.flatnonzero(ok) // gw).mean() > 0.9  # rows stay


def test_clips_are_deterministic_pairs_with_correspondences(tmp_path):
    a = build_clips("train+hard_train", 4, size=(48, 32), progress=False)
    b = build_clips("train+hard_train", 4, size=(48, 32), progress=False,
                    out=tmp_path / "c.npz")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["rgb"].shape == (4, 2, 32, 48, 3) and a["corr"].shape == (4, 24)
    assert (a["corr"] >= 0).any() and (a["corr"] < 24).all()
    assert not np.array_equal(a["rgb"][:, 0], a["rgb"][:, 1])  # the camera moved
    # the cached file is checked on the first clip of each split: a hard_train generator that
    # changed since it was written (here: its first hard_train clip, row 2, altered) rebuilds it
    stale = dict(b)
    stale["depth"] = b["depth"].copy()
    stale["depth"][2] *= 2
    np.savez(tmp_path / "c.npz", **stale)
    c = build_clips("train+hard_train", 4, size=(48, 32), progress=False,
                    out=tmp_path / "c.npz")
    np.testing.assert_array_equal(c["depth"], a["depth"])
    with pytest.raises(SpatialRosError, match="unknown split 'nowhere'"):
        build_clips("train+nowhere", 2, progress=False)


def test_the_true_depth_and_the_camera_motion_rebuild_one_frame_from_the_other():
    data = build_clips("train+hard_train", 6, size=(128, 96), progress=False)
    assert data["motion"].shape == (6, 4, 4) and data["intr"].shape == (6, 4)
    bt = clip_tensors(data, np.arange(6), torch.device("cpu"))
    gt = bt["gt_depth"]
    depth = torch.where(torch.isfinite(gt), gt, torch.full_like(gt, 3.0))  # void: anything
    # frame 0 rebuilt from frame 1 with the clean depth: the objects and table line up
    rebuilt, seen = warp(bt["rgb"][6:], depth[:6], bt["motion"], bt["intr"])
    ok = seen & torch.isfinite(gt[:6])
    moved = (rebuilt - bt["rgb"][:6]).abs().mean(1)[ok].mean()
    still = (bt["rgb"][6:] - bt["rgb"][:6]).abs().mean(1)[ok].mean()
    assert ok.float().mean() > 0.2 and moved < 0.25 * still
    # the loss is least at the true depth: too near, too far and a flat 1 m all cost more
    def loss(d):
        return float(photometric_loss(d.log(), bt["rgb"], bt["motion"], bt["intr"]))
    true = loss(depth)
    for wrong in (depth * 0.7, depth * 1.3, torch.ones_like(depth)):
        assert true < 0.85 * loss(wrong)


def _pre(tmp_path, **kw):
    return PretrainConfig(**{"samples": 20, "epochs": 2, "batch": 6, "warmup_steps": 2,
                             "data_dir": str(tmp_path / "data"), "workers": 1, **kw})


def test_pretraining_learns_resumes_and_fine_tuning_starts_from_it(tmp_path):
    pre = _pre(tmp_path)
    path = pretrain(TINY, pre, tmp_path / "run", progress=False)
    ck = torch.load(path, weights_only=True)
    assert ck["stage"] == "pretrain" and len(ck["history"]) == 2
    first, last = ck["history"][0], ck["history"][-1]
    assert last["nce"] < first["nce"] + 1e-6 and 0 <= last["match"] <= 1
    # resume: the finished last checkpoint has nothing left to do, and gives the same weights
    again = pretrain(TINY, pre, tmp_path / "run2", resume=tmp_path / "run" / "pretrain_last.pt",
                     progress=False)
    a, b = torch.load(again, weights_only=True), ck
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k])
    # a finished stage of the same config is reused, another config is not
    assert pretrain(TINY, pre, tmp_path / "run", progress=False) == path
    with pytest.raises(SpatialRosError, match="another pretrain config.*temperature"):
        pretrain(TINY, _pre(tmp_path, temperature=0.2), tmp_path / "run3",
                 resume=tmp_path / "run" / "pretrain_last.pt", progress=False)
    # fine-tuning starts from the encoder, the relation head starts fresh
    trn = TrainConfig(train_samples=12, val_samples=6, epochs=1, batch=6, warmup_steps=1,
                      data_dir=str(tmp_path / "data"), workers=1, init=str(path))
    net = SpatialNet(TINY)
    info = load_pretrained(path, net)
    assert info["pretrained_from"] == str(path) and info["pretrain_seconds"] > 0
    assert torch.equal(net.embed.weight, ck["state_dict"]["embed.weight"])
    train(TINY, trn, tmp_path / "ft", progress=False)
    tuned = torch.load(tmp_path / "ft" / "model.pt", weights_only=True)
    assert tuned["stage"] == "finetune" and tuned["pretrained_from"] == str(path)
    assert tuned["pretrain"]["samples"] == 20
    load_model(tmp_path / "ft" / "model.pt")  # a fine-tuned model loads to reason with


def test_pretraining_with_depth_from_the_motion_resumes_and_drops_its_head(tmp_path):
    pre = _pre(tmp_path, photometric_weight=1.0, epochs=2)
    rgb_only = ModelConfig(**{**TINY.to_dict(), "depth_input": False, "depth_head": False,
                              "depth_bias": False, "depth_tokens": False})
    path = pretrain(rgb_only, pre, tmp_path / "run", progress=False)
    ck = torch.load(path, weights_only=True)
    assert {"head", "pixel_depth"} <= set(ck)
    for h in ck["history"]:
        assert 0 < h["photo"] < 1 and 0 < h["motion_absrel"] < 10  # measured every epoch
    again = pretrain(rgb_only, pre, tmp_path / "run2",
                     resume=tmp_path / "run" / "pretrain_last.pt", progress=False)
    b = torch.load(again, weights_only=True)
    for k in ck["pixel_depth"]:
        assert torch.equal(b["pixel_depth"][k], ck["pixel_depth"][k])
    net = SpatialNet(rgb_only)
    load_pretrained(path, net)  # the encoder only: the pre-training heads are left behind
    assert not any("pixel" in k for k in net.state_dict())
    with pytest.raises(ValueError, match="must not be negative"):
        PretrainConfig(photometric_weight=-1.0)


def test_checkpoint_of_the_wrong_stage_is_an_error_naming_both(tmp_path):
    path = pretrain(TINY, _pre(tmp_path, epochs=1), tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match="is a pretrain checkpoint.*model.pt fine-tuned"):
        load_model(path)
    trn = TrainConfig(train_samples=12, val_samples=6, epochs=1, batch=6, warmup_steps=1,
                      data_dir=str(tmp_path / "data"), workers=1)
    train(TINY, trn, tmp_path / "ft", progress=False)
    with pytest.raises(CheckpointError, match="is a finetune checkpoint.*stage 'pretrain'"):
        load_pretrained(tmp_path / "ft" / "model.pt", SpatialNet(TINY))
    with pytest.raises(SpatialRosError, match="is a pretrain checkpoint; this resumes the "
                                              "finetune stage"):
        train(TINY, trn, tmp_path / "ft2", resume=tmp_path / "run" / "pretrain_last.pt",
              progress=False)
    wider = ModelConfig(**{**TINY.to_dict(), "dim": 64, "heads": 2})
    with pytest.raises(CheckpointError, match="another architecture: dim: pre-trained 32, "
                                              "fine-tuning 64"):
        load_pretrained(path, SpatialNet(wider))
    # geometry tokens are not part of the encoder: an encoder serves both variants
    load_pretrained(path, SpatialNet(ModelConfig(**{**TINY.to_dict(),
                                                    "geometry_tokens": False})))


def test_without_geometry_tokens_box_positions_do_not_reach_the_decisions():
    torch.manual_seed(0)
    rgb = torch.rand(1, 3, 32, 48)
    masks = torch.zeros(1, 2, 32, 48)
    masks[0, 0, 4:12, 4:12] = 1
    masks[0, 1, 20:28, 30:40] = 1
    geo = torch.rand(1, 2, 14)
    moved = geo.clone()
    moved[..., :5] = torch.rand(1, 2, 5)  # other boxes and areas, same camera rotation
    for tokens, same in ((False, True), (True, False)):
        net = SpatialNet(ModelConfig(**{**TINY.to_dict(), "geometry_tokens": tokens})).eval()
        with torch.no_grad():
            a = net(rgb, None, masks, geo)["pair_logits"]
            b = net(rgb, None, masks, moved)["pair_logits"]
            c = net(rgb, None, masks, torch.cat([geo[..., :5], torch.rand(1, 2, 9)], -1))
        assert torch.allclose(a, b) == same
        assert not torch.allclose(a, c["pair_logits"])  # the camera rotation still counts


def test_configs_extend_others_and_bad_ones_name_the_problem(tmp_path):
    from spatial_ros.model.infer import SHIPPED_WEIGHTS

    hard = SHIPPED_WEIGHTS.parent.parent / "configs" / "hard"
    model, trn, pre = load_full_config(hard / "both_nogeo.yaml")
    assert model.depth_bias and model.depth_input and not model.geometry_tokens
    assert trn.train_split == "train+hard_train" and trn.val_split == "hard_val"
    assert pre is not None and pre.samples > 0 and "realsense_d435_raw" in pre.sensors
    model, trn, pre = load_full_config(hard / "baseline.yaml")
    assert model.positions == "1d" and model.geometry_tokens and pre is None
    configs = hard.parent
    shipped, _, _ = load_full_config(configs / "small.yaml")
    for name in ("baseline", "pos2d", "depthbias", "full", "video", "both"):
        for suffix in ("", "_nogeo"):
            model, _, _ = load_full_config(hard / f"{name}{suffix}.yaml")
            # depth reaches a row only through what the row names: no depth tokens in the
            # rows without depth, and "full" / "both" are the shipped architecture
            assert model.depth_tokens == (name in ("full", "both"))
            if name in ("full", "both"):
                assert model == replace(shipped, geometry_tokens=not suffix)
    for name in ("baseline", "pos2d", "depthbias"):
        assert not load_full_config(configs / f"{name}.yaml")[0].depth_tokens
    # the shipped config with video pre-training: the shipped model and schedule, the "both"
    # row's pre-training (so that row's pretrain.pt is this config's)
    model, trn, pre = load_full_config(configs / "small_video.yaml")
    assert model == shipped and trn == load_full_config(configs / "small.yaml")[1]
    assert pre == load_full_config(hard / "both.yaml")[2] and pre.photometric_weight > 0
    # the shipped config with point tokens: nothing else differs
    points, trn, pre = load_full_config(configs / "small_points.yaml")
    assert points == replace(shipped, point_tokens=True) and pre is None
    assert trn == load_full_config(configs / "small.yaml")[1]
    cases = [("base: self.yaml\n", "loops back"),
             ("base: missing.yaml\n", "missing.yaml does not exist"),
             ("train: {train_split: train+moon}\n", "unknown split 'moon'"),
             ("train: {sensors: {lidar: 1.0}}\n", "sensors must map presets"),
             ("pretrain: {temperature: 0}\n", "temperature 0 must be positive"),
             ("pretrain: {colour: red}\n", "unknown pretrain field"),
             ("model: [1, 2]\n", "section 'model' must be a mapping"),
             ("model: {dim: [\n", "not valid YAML")]
    for text, pattern in cases:
        (tmp_path / "self.yaml").write_text(text)
        with pytest.raises(SpatialRosError, match=pattern):
            load_full_config(tmp_path / "self.yaml")


def test_cli_runs_pretraining_then_fine_tuning_and_resumes_each_stage(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""model: {TINY.to_dict()}
train: {{train_samples: 12, val_samples: 6, epochs: 1, batch: 6, warmup_steps: 1,
        data_dir: {tmp_path / 'data'}, workers: 1}}
pretrain: {{samples: 14, epochs: 1, batch: 6, warmup_steps: 1, data_dir: {tmp_path / 'data'},
           workers: 1}}
""")
    run = [sys.executable, "-m", "spatial_ros.cli", "train", "--config", str(cfg), "--out",
           str(tmp_path / "run")]
    out = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "held-out patch matching" in out.stdout and "pre-trained encoder in" in out.stdout
    tuned = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert tuned["pretrained_from"].endswith("pretrain.pt")
    for last in ("pretrain_last.pt", "last.pt"):  # each stage resumes from its own file
        again = subprocess.run(run + ["--resume", str(tmp_path / "run" / last)],
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
    plain = tmp_path / "plain.yaml"
    plain.write_text(cfg.read_text().split("pretrain:")[0])
    bad = subprocess.run([*run[:4], "--config", str(plain), "--out", str(tmp_path / "x"),
                          "--resume", str(tmp_path / "run" / "pretrain_last.pt")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "has no pretrain: section" in bad.stderr
