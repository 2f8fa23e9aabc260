"""The depth-aware network: shapes, the depth bias on a hand-checkable case, gradients,
a few training steps; CPU always, CUDA where a GPU is present."""
import math

import pytest
import torch

from spatial_ros.model.network import (
    DEPTH_STATS,
    POINT_FEATURES,
    ModelConfig,
    SpatialNet,
    depth_buckets,
    region_depth,
    region_points,
    sine_2d,
)
from test.core.devices import DEVICES

SMALL = ModelConfig(image_height=32, image_width=48, patch=8, dim=32, layers=2, heads=2)


def _batch(cfg, b=2, k=3, device="cpu"):
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(b, 3, cfg.image_height, cfg.image_width, generator=g)
    depth = 0.5 + torch.rand(b, cfg.image_height, cfg.image_width, generator=g)
    depth[:, :8, :8] = torch.nan  # a patch with no reading
    masks = torch.zeros(b, k, cfg.image_height, cfg.image_width)
    for i in range(k):
        masks[:, i, :, 8 * i:8 * i + 16] = 1
    geometry = torch.rand(b, k, cfg.geometry, generator=g)
    return [t.to(device) for t in (rgb, depth, masks, geometry)]


@pytest.mark.parametrize("device", DEVICES)
def test_output_shapes(device):
    net = SpatialNet(SMALL).to(device)
    out = net(*_batch(SMALL, device=device))
    n = SMALL.grid[0] * SMALL.grid[1]
    assert out["pair_logits"].shape == (2, 3, 3, 21) and out["log_depth"].shape == (2, n)
    assert torch.isfinite(out["pair_logits"]).all()


def test_depth_bias_is_the_learned_bucket_bias_of_each_pair():
    cfg = ModelConfig(image_height=8, image_width=24, patch=8, dim=32, layers=1, heads=2,
                      depth_bins=4, max_relative_depth=1.0)
    net = SpatialNet(cfg)
    with torch.no_grad():
        net.depth_bias.weight.copy_(torch.arange(10, dtype=torch.float32).reshape(5, 2))
    depth = torch.tensor([[1.0] * 8 + [1.6] * 8 + [math.nan] * 8] * 8)[None]  # 3 patches
    pd = net.patch_depth(depth)
    assert torch.allclose(pd[0, :2], torch.tensor([1.0, 1.6])) and torch.isnan(pd[0, 2])
    bias = net.attention_bias(pd)  # (1, heads, 3, 3)
    # d_j - d_i = +0.6 -> bucket floor((0.6 + 1) / 2 * 4) = 3; -0.6 -> 0; 0 -> 2; NaN -> 4
    expected_bucket = torch.tensor([[2, 3, 4], [0, 2, 4], [4, 4, 4]])
    for h in range(2):
        assert torch.equal(bias[0, h], net.depth_bias.weight[expected_bucket, h])
    assert torch.equal(depth_buckets(pd, 4, 1.0)[0], expected_bucket)


def test_gradients_reach_every_parameter():
    net = SpatialNet(SMALL)
    out = net(*_batch(SMALL))
    (out["pair_logits"].sum() + out["log_depth"].sum()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing, missing


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    net = SpatialNet(SMALL)
    rgb, depth, masks, geometry = _batch(SMALL)
    target = (torch.rand(2, 3, 3, 21) > 0.5).float()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            net(rgb, depth, masks, geometry)["pair_logits"], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_baselines_and_bad_input():
    base = SpatialNet(ModelConfig(image_height=32, image_width=48, dim=32, layers=1, heads=2,
                                  positions="1d", depth_bias=False, depth_input=False,
                                  depth_head=False))
    rgb, _depth, masks, geometry = _batch(SMALL)
    out = base(rgb, None, masks, geometry)  # RGB only
    assert out["log_depth"] is None and out["pair_logits"].shape == (2, 3, 3, 21)
    assert base.attention_bias(torch.zeros(1, 24)) is None
    empty = base(rgb, None, masks[:, :0], geometry[:, :0])
    assert empty["pair_logits"].shape == (2, 0, 0, 21)
    with pytest.raises(ValueError, match="this model takes 48x32"):
        base(torch.rand(1, 3, 40, 48), None, masks[:1], geometry[:1])
    with pytest.raises(ValueError, match="not a multiple of the patch size"):
        ModelConfig(image_height=30)
    assert sine_2d(4, 6, 32).shape == (24, 32)


def test_depth_scope_objects_reads_depth_only_inside_the_regions():
    torch.manual_seed(0)
    rgb, depth, masks, geometry = _batch(SMALL)
    elsewhere = depth.clone()
    outside = masks.sum(1) == 0
    assert outside.any()
    elsewhere[outside] = 3.0 + torch.rand(int(outside.sum()))  # another room behind them
    inside = depth.clone()
    inside[~outside] = inside[~outside] * 1.5
    for scope, same in (("objects", True), ("image", False)):
        net = SpatialNet(ModelConfig(**{**SMALL.to_dict(), "depth_scope": scope})).eval()
        with torch.no_grad():
            net.depth_bias.weight.normal_()  # a bias that is not zero
            a = net(rgb, depth, masks, geometry)["pair_logits"]
            b = net(rgb, elsewhere, masks, geometry)["pair_logits"]
            c = net(rgb, inside, masks, geometry)["pair_logits"]
        assert torch.allclose(a, b) == same
        assert not torch.allclose(a, c)  # the objects' own depth counts either way
    with pytest.raises(ValueError, match="depth_scope 'room'"):
        ModelConfig(depth_scope="room")


def test_region_depth_is_the_percentiles_of_the_readings_inside_each_region():
    depth = torch.full((1, 4, 10), torch.nan)
    depth[0, 0, :] = torch.arange(1, 11, dtype=torch.float32)  # 1..10 m on the first row
    depth[0, 1, :5] = 0.0  # zero is no reading too
    masks = torch.zeros(1, 3, 4, 10)
    masks[0, 0, :2, :] = 1  # 10 readings (1..10) and 10 holes
    masks[0, 1, 2:, :] = 1  # all holes
    masks[0, 2, 0, 3] = 1  # one reading: 4 m
    f = region_depth(depth, masks)
    assert f.shape == (1, 3, DEPTH_STATS)
    # sorted 1..10: the 10th, 50th and 90th percentiles at floor(q * 9) = 0, 4, 8
    assert f[0, 0].tolist() == pytest.approx([1.0, 5.0, 9.0, 0.5, 0.0])
    assert f[0, 1].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert f[0, 2].tolist() == pytest.approx([4.0, 4.0, 4.0, 1.0, 0.0])
    assert torch.equal(region_depth(None, masks)[..., -1], torch.ones(1, 3))  # RGB only


def test_region_depth_in_half_precision_picks_the_same_readings():
    """fp16 (CUDA inference) holds integers exactly only up to 2048: the percentile's index must
    not be computed in it. 4,000 readings in one region: 3,600 at 1 m, 400 at 2 m. The 90th
    percentile is reading floor(0.9 * 3999) = 3599, at 1 m (in fp16, 3999 rounds to 4000 and the
    index to 3600, at 2 m)."""
    depth = torch.cat([torch.full((3600,), 1.0), torch.full((400,), 2.0)]).reshape(1, 40, 100)
    masks = torch.ones(1, 1, 40, 100)
    for d, m in ((depth, masks), (depth.half(), masks.half())):
        f = region_depth(d, m)
        assert f.dtype == d.dtype and f[0, 0, :3].float().tolist() == [1.0, 1.0, 1.0]


def test_depth_tokens_give_each_object_its_own_depth():
    torch.manual_seed(0)
    rgb, depth, masks, geometry = _batch(SMALL)
    cfg = ModelConfig(**{**SMALL.to_dict(), "depth_scope": "objects", "depth_bias": False,
                         "depth_input": False, "depth_tokens": True})
    net = SpatialNet(cfg).eval()
    nearer = depth.clone()
    alone = (masks[:, 0] > 0) & (masks[:, 1:].sum(1) == 0)  # object 0's pixels, no one else's
    nearer[alone] -= 0.3  # only object 0 moves
    with torch.no_grad():
        a = net(rgb, depth, masks, geometry)["pair_logits"]
        b = net(rgb, nearer, masks, geometry)["pair_logits"]
        c = net(rgb, None, masks, geometry)["pair_logits"]
        off = SpatialNet(ModelConfig(**{**cfg.to_dict(), "depth_tokens": False})).eval()
        same = off(rgb, depth, masks, geometry)["pair_logits"]
        assert torch.equal(same, off(rgb, nearer, masks, geometry)["pair_logits"])
    # no depth channel or bias here: the tokens are the only way depth reaches the pairs
    assert not torch.allclose(a, b) and not torch.allclose(a, c)
    assert torch.allclose(a[:, 1, 2], b[:, 1, 2], atol=1e-5)  # a pair without object 0 is kept


def test_region_points_back_project_each_box_centre_into_the_world_frame():
    # camera looking along world +x (optical z -> world x, optical x -> world -y, optical y ->
    # world -z); tan of half the field of view 1.0 across, 0.75 down
    rot = torch.tensor([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    geometry = torch.zeros(1, 2, 14)
    geometry[0, 0, :4] = torch.tensor([0.7, 0.45, 0.8, 0.55])  # centre u 0.75, v 0.5; 0.1 wide
    geometry[..., 5:14] = rot.reshape(9)
    stats = torch.tensor([[[1.9, 2.0, 2.1, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]])  # 2 m; none
    p = region_points(stats, geometry, torch.tensor([[1.0, 0.75]]))
    assert p.shape == (1, 2, POINT_FEATURES)
    # optical (0.5 * 1 * 2, 0, 2) = (1, 0, 2): world (2, -1, 0)
    assert p[0, 0, :3].tolist() == pytest.approx([2.0, -1.0, 0.0], abs=1e-6)
    assert p[0, 0, 3].item() == pytest.approx(math.log(2.0))
    assert p[0, 0, 4].item() == pytest.approx(math.log(0.1 * 2 * 1.0 * 2.0))  # 0.4 m wide
    assert p[0, 0, 5].item() == pytest.approx(math.log(0.1 * 2 * 0.75 * 2.0))  # 0.3 m tall
    assert p[0, 0, 6].item() == 1.0
    assert p[0, 1].tolist() == [0.0] * POINT_FEATURES  # no depth: nothing, flag 0


def test_point_tokens_follow_the_focal_length_and_need_depth_and_boxes():
    torch.manual_seed(0)
    rgb, depth, masks, geometry = _batch(SMALL)
    geometry[..., 5:14] = torch.eye(3).reshape(9)
    cfg = ModelConfig(**{**SMALL.to_dict(), "depth_scope": "objects", "depth_tokens": True,
                         "point_tokens": True})
    net = SpatialNet(cfg).eval()
    with torch.no_grad():
        default = net(rgb, depth, masks, geometry)["pair_logits"]
        same = net(rgb, depth, masks, geometry,
                   torch.tensor([[math.tan(0.55), math.tan(0.55) * 32 / 48]] * 2))
        wide = net(rgb, depth, masks, geometry, torch.tensor([[1.5, 1.0]] * 2))["pair_logits"]
    assert torch.allclose(default, same["pair_logits"], atol=1e-6)  # DEFAULT_HFOV = 1.1 rad
    assert not torch.allclose(default, wide)
    for off in ("depth_tokens", "geometry_tokens"):
        with pytest.raises(ValueError, match="point_tokens needs"):
            ModelConfig(**{**cfg.to_dict(), off: False})


def test_default_field_of_view_is_the_one_spatialbench_renders_with():
    """Training samples carry no focal length: point tokens assume DEFAULT_HFOV for them."""
    from spatial_ros.bench.generate import generate_scene
    from spatial_ros.model.network import DEFAULT_HFOV

    for split in ("train", "shift", "household_train", "hard_train"):
        world, _pose = generate_scene(split, 0, 0)
        assert world.cameras[0].hfov == DEFAULT_HFOV, split
