"""`spatial-ros export onnx`: the network as ONNX, for onnxruntime or TensorRT on a Jetson.

Inputs: ``rgb`` (1, 3, H, W) in [0, 1], ``depth`` (1, H, W) metres with NaN for no reading,
``masks`` (1, K, H, W) region masks and ``geometry`` (1, K, 14); K (the object count) is a
dynamic axis; with point tokens also ``tan_half`` (1, 2), the tan of half the frame's horizontal
and vertical field of view ((width, height) / (2 fx)). Outputs: ``pair_logits`` (1, K, K, 21)
and, with a depth head, ``log_depth`` (1, N). ``check_parity`` runs onnxruntime against torch on
the same inputs.
"""
from __future__ import annotations

import pathlib

import numpy as np
import torch

from spatial_ros.errors import SpatialRosError
from spatial_ros.model.checkpoint import load_model
from spatial_ros.model.network import SpatialNet

__all__ = ["export_onnx", "check_parity", "example_inputs"]


class _Wrapped(torch.nn.Module):
    def __init__(self, net: SpatialNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, rgb, depth, masks, geometry, tan_half=None):
        out = self.net(rgb, depth, masks, geometry, tan_half)
        if out["log_depth"] is None:
            return (out["pair_logits"],)
        return out["pair_logits"], out["log_depth"]


def example_inputs(net: SpatialNet, k: int = 4, seed: int = 0) -> tuple[torch.Tensor, ...]:
    cfg = net.cfg
    g = torch.Generator().manual_seed(seed)
    h, w = cfg.image_height, cfg.image_width
    rgb = torch.rand(1, 3, h, w, generator=g)
    depth = 0.5 + 1.5 * torch.rand(1, h, w, generator=g)
    depth[:, : h // 4, : w // 4] = torch.nan  # a corner with no readings
    masks = torch.zeros(1, k, h, w)
    for i in range(k):
        masks[0, i, 20:40, 10 + 25 * i: 30 + 25 * i] = 1.0
    geometry = torch.rand(1, k, cfg.geometry, generator=g)
    if cfg.point_tokens:  # a camera of 1.0-1.3 rad across, square pixels
        tx = float(np.tan(0.5 + 0.15 * torch.rand(1, generator=g).item()))
        return rgb, depth, masks, geometry, torch.tensor([[tx, tx * h / w]])
    return rgb, depth, masks, geometry


def input_names(net: SpatialNet) -> list[str]:
    return ["rgb", "depth", "masks", "geometry"] + (["tan_half"] if net.cfg.point_tokens else [])


def export_onnx(weights: str | pathlib.Path, out: str | pathlib.Path) -> pathlib.Path:
    net, _ = load_model(weights)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = ["pair_logits"] + (["log_depth"] if net.cfg.depth_head else [])
    # the TorchScript exporter: the dynamo one fails to decompose the attention's float mask
    torch.onnx.export(_Wrapped(net).eval(), example_inputs(net), str(out),
                      input_names=input_names(net), output_names=names,
                      dynamic_axes={"masks": {1: "objects"}, "geometry": {1: "objects"},
                                    "pair_logits": {1: "objects", 2: "objects"}},
                      dynamo=False, opset_version=17)
    return out


def check_parity(weights: str | pathlib.Path, onnx_path: str | pathlib.Path, *,
                 objects: tuple[int, ...] = (2, 5, 8)) -> float:
    """Largest |onnxruntime - torch| over the outputs for several object counts."""
    import onnxruntime as ort

    net, _ = load_model(weights)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for k in objects:
        inputs = example_inputs(net, k, seed=k)
        with torch.no_grad():
            ref = _Wrapped(net)(*inputs)
        got = sess.run(None, {n: t.numpy() for n, t in zip(input_names(net), inputs)})
        if len(got) != len(ref):
            raise SpatialRosError(f"ONNX model gives {len(got)} outputs, torch {len(ref)}")
        for a, b in zip(got, ref):
            if a.shape != tuple(b.shape):
                raise SpatialRosError(f"ONNX output shape {a.shape} != torch {tuple(b.shape)}")
            worst = max(worst, float(np.abs(a - b.numpy()).max()))
    return worst


def subset_figures(weights: str | pathlib.Path, *, n: int = 48, split: str = "test",
                   seed: int = 0) -> dict:
    """Decision accuracy and depth AbsRel of ``weights`` on a fixed SpatialBench subset (the
    first ``n`` scenes of ``split``, built as the training data is, sensors drawn as in
    training)."""
    from spatial_ros.model.data import build_dataset
    from spatial_ros.model.train import evaluate

    net, _ = load_model(weights)
    size = (net.cfg.image_width, net.cfg.image_height)
    data = build_dataset(split, n, seed=seed, size=size, progress=False)
    fig = evaluate(net, data, torch.device("cpu"))
    return {"split": split, "n": n, "seed": seed, "decision_accuracy": fig["accuracy"],
            "depth_absrel": fig["depth_absrel"]}


def real_figures(weights: str | pathlib.Path, fusion: str | pathlib.Path | None = None
                 ) -> dict:
    """[right, asked] decisions per row of `bench real --model` (the annotated real frames of a
    source checkout) for ``weights``; empty where the checkout's frames are not there."""
    from spatial_ros.bench.real import default_data_dir
    from spatial_ros.bench.real_model import REAL_ROWS, run_real_model_bench

    if not (default_data_dir() / "annotations.json").is_file():
        return {}
    res = run_real_model_bench(weights=weights, fusion=fusion, progress=False)
    return {row: [res.right.get(row, 0), res.asked.get(row, 0)] for row in REAL_ROWS}


def ship_weights(checkpoint: str | pathlib.Path, dest: str | pathlib.Path,
                 fusion: str | pathlib.Path | None = None) -> dict:
    """Copy a training run's model.pt to ``dest`` (the package's weights), with the fusion
    weights beside it and ``<dest>.json``: the figures it reproduces on a fixed subset."""
    import json
    import shutil

    from spatial_ros.model.checkpoint import read_checkpoint

    ck = read_checkpoint(checkpoint)
    if "optimizer" in ck:
        raise SpatialRosError(f"{checkpoint} is a resumable last.pt; ship the run's model.pt")
    dest = pathlib.Path(dest)
    if dest.is_symlink():  # a colcon --symlink-install tree: write beside the source file
        dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, dest)
    if fusion is not None:
        shutil.copyfile(fusion, dest.with_suffix(".fusion.json"))
    stated = {"weights": dest.name, "bytes": dest.stat().st_size,
              "train_seconds": ck.get("train_seconds"), "train": ck.get("train"),
              "val_accuracy": ck.get("val_accuracy"), "subset": subset_figures(dest),
              "real": real_figures(dest)}
    dest.with_suffix(".json").write_text(json.dumps(stated, indent=1) + "\n")
    return stated
