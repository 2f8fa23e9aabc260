"""The ``spatial-ros`` command line."""
from __future__ import annotations

import argparse
import math
import sys

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatial-ros", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the main job: simulated scene -> nodes -> answers")
    demo.set_defaults(func=_demo)

    rec = sub.add_parser("record", help="record the camera, ground truth and outputs to rosbag2")
    rec.add_argument("--out", required=True, help="new bag folder")
    rec.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"))
    rec.add_argument("--duration", type=float, default=10.0, help="seconds")
    rec.add_argument("--sim", default="", metavar="WORLD",
                     help="also run the sim camera and scene graph on this world")
    rec.add_argument("--sensor", default="realsense_d435", help="depth preset with --sim")
    rec.add_argument("--compress", action="store_true", help="zstd-compress the bag file")
    rec.set_defaults(func=_record)
    rep = sub.add_parser("replay", help="publish a rosbag2's messages with their timing")
    rep.add_argument("bag", help="bag folder (or .mcap / .db3 file)")
    rep.add_argument("--rate", type=float, default=1.0)
    rep.add_argument("--start", type=float, default=0.0, help="skip seconds")
    rep.add_argument("--loop", action="store_true")
    rep.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    rep.set_defaults(func=_replay)

    rbag = sub.add_parser("real-bag", help="a realsense-ros 4.x style bag of the annotated real "
                          "frames (colour, aligned depth, camera info; no pose, no tf)")
    rbag.add_argument("--out", required=True, help="new bag folder")
    rbag.add_argument("--data", default=None, help="annotated frames (default: "
                      "test/data/real_rgbd of a source checkout)")
    rbag.add_argument("--frames", default="", help="comma-separated frame names (default: all)")
    rbag.add_argument("--repeats", type=int, default=5, help="messages per frame")
    rbag.add_argument("--rate", type=float, default=5.0, help="frames per second")
    rbag.add_argument("--detector", action="store_true", help="add the annotations as an "
                      "upstream detector's instance mask and label map")
    rbag.add_argument("--compress", action="store_true", help="zstd-compress the bag file")
    rbag.set_defaults(func=_real_bag)

    trn = sub.add_parser("train", help="train the spatial reasoning model on SpatialBench")
    trn.add_argument("--config", required=True, help="YAML with model: and train: sections, "
                     "an optional pretrain: section (video pre-training first) and an optional "
                     "base: config it extends (spatial_ros/model/configs/small.yaml is the "
                     "shipped one)")
    trn.add_argument("--out", required=True, help="folder for last.pt (resumable) and model.pt; "
                     "with pre-training also pretrain_last.pt and pretrain.pt")
    trn.add_argument("--resume", default=None, help="continue from this last.pt (fine-tuning) "
                     "or pretrain_last.pt (pre-training, then fine-tuning)")
    trn.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    trn.set_defaults(func=_train)

    tsh = sub.add_parser("train-shapes", help="train the shape classifier perception uses")
    tsh.add_argument("--n", type=int, default=400, help="SpatialBench train scenes")
    tsh.add_argument("--n-val", type=int, default=100, help="val scenes for the accuracy")
    tsh.add_argument("--out", default=None, help="JSON to write (default: the package's)")
    tsh.set_defaults(func=_train_shapes)

    seg = sub.add_parser("segment", help="the learned class-agnostic segmenter: training "
                         "data from the simulator and training")
    seg_sub = seg.add_subparsers(dest="segment_command", required=True)
    stn = seg_sub.add_parser("train", help="render the training frames (cached, resumable) "
                             "and train the segmenter on them")
    _segment_data_args(stn)
    stn.add_argument("--steps", type=int, default=6000)
    stn.add_argument("--batch", type=int, default=8)
    stn.add_argument("--seeds", default="0,1", help="comma-separated training seeds: one "
                     "network each (each on its own rendered frames), written as one ensemble "
                     "whose probabilities are their mean")
    stn.add_argument("--drop", default="", choices=("", "depth", "colour"),
                     help="ablation: train (and later run) without these inputs")
    stn.add_argument("--sensors", default="", help="comma-separated sensor presets the "
                     "training frames may use (ablation; default: all of SENSORS); frames "
                     "of other presets in the data folder are left out")
    stn.add_argument("--out", default=None, help="weights to write (default: the package's)")
    stn.add_argument("--device", default="cpu", help="cpu or cuda")
    stn.set_defaults(func=_segment_train)
    sab = seg_sub.add_parser("ablation", help="train a variant per input or sensor effect "
                             "left out and measure each (table and PNG)")
    _segment_data_args(sab)
    sab.add_argument("--steps", type=int, default=3000, help="steps per variant")
    sab.add_argument("--n-sim", type=int, default=20, help="SpatialBench scenes per split")
    sab.add_argument("--variants", default="", help="comma-separated indices into the "
                     "variants (default: all; see spatial_ros/bench/segment_ablation.py)")
    sab.add_argument("--out", default="docs/bench", help="folder for segment_ablation.md/.png")
    sab.set_defaults(func=_segment_ablation)

    exp = sub.add_parser("export", help="export the model: onnx, or ship trained weights")
    exp_sub = exp.add_subparsers(dest="export_command", required=True)
    onnx = exp_sub.add_parser("onnx", help="ONNX for onnxruntime / TensorRT, with a parity check")
    onnx.add_argument("--weights", default=None, help="checkpoint (default: the shipped one)")
    onnx.add_argument("--out", default="spatial_net.onnx")
    onnx.add_argument("--tolerance", type=float, default=1e-4,
                      help="largest |onnxruntime - torch| accepted")
    onnx.set_defaults(func=_export_onnx)
    shipw = exp_sub.add_parser("weights", help="copy a run's model.pt into the package")
    shipw.add_argument("checkpoint", help="a training run's model.pt")
    shipw.add_argument("--fusion", default=None, help="fusion.json from `bench model`")
    shipw.set_defaults(func=_export_weights)

    prm = sub.add_parser("params", help="the nodes' parameters (spatial_ros/parameters.py): "
                         "write config/*.yaml, or print the README's tables")
    prm.add_argument("--yaml", metavar="DIR", help="write DIR/<node>.yaml for each node")
    prm.add_argument("--markdown", action="store_true", help="print a Markdown table a node")
    prm.set_defaults(func=_params)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    codec = bench_sub.add_parser("codec", help="image decode time per 640x480 frame")
    codec.add_argument("--frames", type=int, default=300, help="frames per encoding")
    codec.set_defaults(func=_bench_codec)
    gen = bench_sub.add_parser("generate", help="write SpatialBench scenes")
    gen.add_argument("--split", required=True, help="train, val, test, shift or household")
    gen.add_argument("--n", type=int, required=True, help="number of scenes")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--sensor", default="ideal",
                     help="depth preset: ideal, realsense_d435, kinect, rgb_only")
    gen.add_argument("--width", type=int, default=320)
    gen.add_argument("--height", type=int, default=240)
    gen.set_defaults(func=_bench_generate)
    render = bench_sub.add_parser("render", help="render time per frame of a world")
    render.add_argument("--world", default="tabletop")
    render.add_argument("--frames", type=int, default=50)
    render.set_defaults(func=_bench_render)
    rel = _scene_bench(bench_sub, "relations", "scene-graph relations vs ground truth",
                       sensors="ideal,realsense_d435,kinect")
    rel.add_argument("--frames", type=int, default=3, help="frames per scene (camera drifts)")
    rel.add_argument("--segmentation", choices=("mask", "agnostic", "both"), default="both")
    rel.add_argument("--segmenters", default="", help="class-agnostic segmentations to compare "
                     "side by side, comma-separated: learned, geometric, combined (default: the "
                     "perception default)")
    rel.add_argument("--paint", type=float, default=0.0, help="share of the objects given a "
                     "print (labels, logos, stripes: spatial_ros.sim.paint) and grain on the "
                     "rest, as real objects carry; the tables are saved as *_painted")
    rel.add_argument("--dull", type=float, default=0.0, help=_DULL_HELP + "; the tables are "
                     "saved as *_dull")
    rel.add_argument("--gravity", choices=("true", "plane"), default="true",
                     help="where the pipeline's up comes from: the camera's true pose, or the "
                     "frame's support plane as on a real camera without tf (the camera assumed "
                     "level where none is found); the tables are saved as *_plane_gravity")
    rel.add_argument("--up-hint", default="", metavar="X,Y,Z",
                     help="--gravity plane: the camera's rough up in the optical frame (the "
                     "scene_graph node's plane_up_hint; default the image's up 0,-1,0; a camera "
                     "looking down into a tote at any roll: 0,0,-1)")
    rel.set_defaults(func=_bench_relations)
    mis = _scene_bench(bench_sub, "misses", "what became of the objects the class-agnostic "
                       "perception misses: merged, dropped (and why), on a plane, no region",
                       sensors="realsense_d435")
    mis.add_argument("--paint", type=float, default=0.0, help="share of the objects printed "
                     "(as bench relations --paint); the table is saved as *_painted")
    mis.add_argument("--dull", type=float, default=0.0, help=_DULL_HELP + "; the table is "
                     "saved as *_dull")
    mis.add_argument("--show", type=int, default=20, help="missed objects to list")
    mis.set_defaults(func=_bench_misses)
    qa = _scene_bench(bench_sub, "qa", "SpatialBench questions and placements, sensed graph",
                      sensors="ideal,realsense_d435")
    qa.add_argument("--relations", default="geometry", choices=("geometry", "fused"),
                    help="answer from the geometric relations or those fused with the shipped "
                    "model (as planner_node does with reasoning_node)")
    qa.set_defaults(func=_bench_qa)
    rpb = bench_sub.add_parser("replay", help="long replay through the live nodes, RSS")
    rpb.add_argument("--bag", default="", help="bag (default: the tabletop regression bag)")
    rpb.add_argument("--frames", type=int, default=5000)
    rpb.add_argument("--rate", type=float, default=10.0, help="playback rate factor")
    rpb.set_defaults(func=_bench_replay)
    mod = _scene_bench(bench_sub, "model", "the ablation table: model variants, geometry, fused",
                       sensors="realsense_d435,rgb_only")
    mod.set_defaults(split="test,shift")
    mod.add_argument("--runs", default="~/.cache/spatial_ros/runs",
                     help="folder with baseline/, pos2d/, depthbias/ model.pt of the ablation")
    mod.add_argument("--weights", default=None, help="full model (default: the shipped weights)")
    mod.add_argument("--ablation", default="shipped", choices=("shipped", "hard", "full"),
                     help="shipped: the four rows of configs/*.yaml with the shipped model; hard: "
                     "the twelve rows of configs/hard/ (scripts/train_hard_ablation.sh); full: "
                     "the shipped model alone, with geometry and fused (refits the fusion)")
    mod.add_argument("--n-val", type=int, default=60, help="val scenes per preset to fit fusion")
    mod.add_argument("--fusion-regions", default="boxes", choices=("boxes", "mask"),
                     help="fit the fusion on the model's outputs over the objects' 2D boxes (as "
                     "reasoning_node gives them) or over their instance masks")
    mod.add_argument("--frames", type=int, default=2)
    mod.set_defaults(func=_bench_model)
    rsn = bench_sub.add_parser("reasoning", help="model time per frame (640x480 in, N objects)")
    rsn.add_argument("--objects", type=int, default=8)
    rsn.add_argument("--repeats", type=int, default=100)
    rsn.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    rsn.add_argument("--weights", default=None, help="checkpoint (default: the shipped one)")
    rsn.set_defaults(func=_bench_reasoning)
    real = bench_sub.add_parser("real", help="perception on the annotated real RGB-D frames "
                                "(class-agnostic, gravity from the support plane)")
    real.add_argument("--data", default=None, help="one folder of annotated frames (default: "
                      "both sets of this checkout, reported apart: tuning, test/data/real_rgbd, "
                      "and held-out, test/data/real_rgbd_heldout)")
    real.add_argument("--repeats", type=int, default=5, help="runs per frame for the timing")
    real.add_argument("--segmenters", default="", help="class-agnostic segmentations to compare "
                      "side by side, comma-separated: learned, geometric, combined (default: the "
                      "perception default)")
    real.add_argument("--out", default="bench_results", help="folder for the .md, .png and "
                      "the annotated frames (real/)")
    real.add_argument("--model", action="store_true", help="also the depth-aware model on the "
                      "annotated objects: RGB only, RGB-D, geometry alone and fused")
    real.add_argument("--weights", default=None, help="with --model: the model (default: the "
                      "shipped weights)")
    real.add_argument("--fusion", default=None, help="with --model: fusion weights (default: "
                      "the .fusion.json beside the weights)")
    real.set_defaults(func=_bench_real)
    col = bench_sub.add_parser("colours", help="colour names of SpatialBench objects under "
                               "coloured light, from raw and white-balanced pixels")
    col.add_argument("--split", default="household_val")
    col.add_argument("--n", type=int, default=40, help="scenes")
    col.add_argument("--seed", type=int, default=0)
    col.add_argument("--out", default="bench_results", help="folder for the .md and .png")
    col.set_defaults(func=_bench_colours)
    lat = bench_sub.add_parser("latency", help="scene-graph time per stage, 640x480, 8 objects")
    lat.add_argument("--frames", type=int, default=500,
                     help="offline frames (5000 for the memory check)")
    lat.add_argument("--segmentation", choices=("mask", "agnostic"), default="mask")
    lat.add_argument("--live", type=float, default=0.0, metavar="S",
                     help="also run S seconds over live DDS topics at 30 Hz")
    lat.set_defaults(func=_bench_latency)
    return parser


def _scene_bench(sub, name: str, help_text: str, *, sensors: str) -> argparse.ArgumentParser:
    """A benchmark over SpatialBench scenes: the arguments every such benchmark takes."""
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("--split", default="test", help="train, val, test, shift or household")
    parser.add_argument("--n", type=int, default=50, help="scenes per sensor preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sensors", default=sensors, help="comma-separated depth presets")
    parser.add_argument("--out", default="bench_results", help="folder for the .md and .png")
    return parser


#: config file of each node's parameters (the launch files pass these)
CONFIG_FILES = {"scene_graph": "scene_graph.yaml", "reasoning": "reasoning.yaml",
                "planner": "planner.yaml", "sim_camera": "sim_camera.yaml",
                "rgbd_monitor": "rgbd_monitor.yaml"}


def _params(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.parameters import NODES, markdown_table, yaml_text

    if args.yaml:
        out = pathlib.Path(args.yaml)
        out.mkdir(parents=True, exist_ok=True)
        for node, name in CONFIG_FILES.items():
            (out / name).write_text(yaml_text([node]))
            print(f"wrote {out / name}")
    if args.markdown or not args.yaml:
        for node in NODES:
            print(f"#### {node}\n\n{markdown_table(node)}\n")
    return 0


def _bench_codec(args: argparse.Namespace) -> int:
    from spatial_ros.ros.bench_codec import run

    return run(frames=args.frames)


def _bench_generate(args: argparse.Namespace) -> int:
    from spatial_ros.bench.generate import generate

    stats = generate(split=args.split, n=args.n, seed=args.seed, out=args.out,
                     sensor=args.sensor, width=args.width, height=args.height)
    print(f"{stats['scenes']} scenes, {stats['questions']} questions in "
          f"{stats['seconds']:.1f} s ({stats['scenes_per_minute']:.0f} scenes/min), "
          f"{stats['bytes'] / 1e6:.2f} MB ({stats['bytes'] / stats['scenes'] * 1000 / 1e9:.2f} "
          "GB per 1000 scenes)")
    return 0


def _bench_relations(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.bench.relations import format_table, run_relations_bench
    from spatial_ros.bench.report import save_table

    sensors = _check_bench_args(args)
    segmenters = _segmenters(args.segmenters)
    up_hint = _up_hint(args)
    modes = ("mask", "agnostic") if args.segmentation == "both" else (args.segmentation,)
    out = pathlib.Path(args.out)
    for mode in modes:
        res = {}
        for seg in (segmenters or [None]) if mode == "agnostic" else [None]:  # None: default
            part = run_relations_bench(split=args.split, n=args.n, seed=args.seed,
                                       sensors=sensors, frames=args.frames,
                                       use_mask=mode == "mask", paint=args.paint,
                                       dull=args.dull, gravity=args.gravity, up_hint=up_hint,
                                       perception={"segmentation": seg} if seg else None)
            res.update({f"{k} ({seg})" if len(segmenters) > 1 and seg else k: v
                        for k, v in part.items()})
        title = f"{args.split}, {args.n} scenes, segmentation: {mode}" + (
            f" ({', '.join(segmenters)})" if mode == "agnostic" and segmenters else "") + \
            _colour_title(args) + (f", gravity from the support plane (up hint "
                                   f"{args.up_hint or '0,-1,0'})" if args.gravity == "plane"
                                   else "")
        table = format_table(res)
        print(table)
        name = f"relations_{args.split}_{mode}" + _colour_suffix(args) + (
            "_plane_gravity" if args.gravity == "plane" else "") + (
            "_hint_" + "_".join(f"{h:g}" for h in up_hint) if up_hint else "")
        md, png = save_table(table, out / name, title=title)
        print(f"saved {md} and {png}")
    return 0


def _bench_misses(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.bench.misses import format_miss_table, miss_causes
    from spatial_ros.bench.report import save_table
    from spatial_ros.errors import BenchError

    sensors = _check_bench_args(args)
    if not 0.0 <= args.paint <= 1.0:
        raise BenchError(f"--paint {args.paint}: a share of the objects in [0, 1]")
    if not 0.0 <= args.dull < 1.0:
        raise BenchError(f"--dull {args.dull}: a strength in [0, 1)")
    res = {s: miss_causes(split=args.split, n=args.n, seed=args.seed, sensor=s,
                          paint=args.paint, dull=args.dull) for s in sensors}
    table = format_miss_table(res)
    print(table)
    for sensor, m in res.items():
        for scene, name, cause in m.examples[:max(args.show, 0)]:
            print(f"{sensor} scene {scene}: {name}: {cause}")
    title = f"what became of the objects, {args.split}, {args.n} scenes, class-agnostic" + \
        _colour_title(args)
    name = f"misses_{args.split}" + _colour_suffix(args)
    md, png = save_table(table, pathlib.Path(args.out) / name, title=title)
    print(f"saved {md} and {png}")
    return 0


_DULL_HELP = ("a real camera's duller colours on the rendered frames (spatial_ros.sim.paint"
              ".dull): saturation scaled by a factor in [1 - DULL, 1 - DULL / 2], exposure, "
              "white balance and noise; 0 = as rendered")


def _colour_title(args: argparse.Namespace) -> str:
    """What a bench title says of the frames' colours (--paint, --dull)."""
    return (f", {args.paint:.0%} of the objects printed" if args.paint else "") + (
        f", camera colours dulled {args.dull:g}" if args.dull else "")


def _colour_suffix(args: argparse.Namespace) -> str:
    """A bench table's file name suffix for --paint and --dull."""
    return ("_painted" if args.paint else "") + ("_dull" if args.dull else "")


def _up_hint(args: argparse.Namespace) -> tuple[float, float, float] | None:
    """--up-hint checked: three numbers of about unit length, and only with --gravity plane."""
    from spatial_ros.errors import BenchError

    if not args.up_hint:
        return None
    if args.gravity != "plane":
        raise BenchError("--up-hint is the plane gravity's hint: it needs --gravity plane")
    try:
        hint = tuple(float(x) for x in args.up_hint.split(","))
    except ValueError:
        hint = ()
    if len(hint) != 3 or not all(math.isfinite(h) for h in hint) or \
            math.sqrt(sum(h * h for h in hint)) < 0.5:
        raise BenchError(f"--up-hint takes three numbers of about unit length X,Y,Z (the "
                         f"camera's rough up in the optical frame), got {args.up_hint!r}")
    return hint


def _segmenters(text: str) -> list[str]:
    """The --segmenters list, checked: names of PerceptionConfig.segmentation."""
    from spatial_ros.errors import BenchError
    from spatial_ros.perception.types import SEGMENTATIONS

    names = _csv(text)
    unknown = [x for x in names if x not in SEGMENTATIONS]
    if unknown:
        raise BenchError(f"--segmenters {', '.join(unknown)}: expected of "
                         f"{', '.join(SEGMENTATIONS)}")
    return names


def _bench_colours(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.bench.colours import format_colour_table, run_colour_study
    from spatial_ros.bench.generate import SPLITS
    from spatial_ros.bench.report import save_table
    from spatial_ros.errors import BenchError

    if args.split not in SPLITS:
        raise BenchError(f"--split {args.split!r}: expected one of {', '.join(SPLITS)}")
    if args.n < 1:
        raise BenchError(f"--n {args.n}: at least one scene")
    scores = run_colour_study(split=args.split, n=args.n, seed=args.seed)
    title = f"colour names under coloured light, {args.split}, {args.n} scenes"
    table = format_colour_table(scores)
    print(table)
    for (light, method), wrong in sorted(scores.errors.items()):
        print(f"{light} / {method} wrong: " + "; ".join(
            f"{truth} -> " + ", ".join(f"{k} {v}" for k, v in said.items())
            for truth, said in sorted(wrong.items())))
    md, png = save_table(table, pathlib.Path(args.out) / f"colours_{args.split}", title=title)
    print(f"saved {md} and {png}")
    return 0


def _bench_model(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.bench.model import format_key_table, format_model_table, run_model_bench
    from spatial_ros.bench.report import save_table
    from spatial_ros.errors import BenchError

    sensors = _check_bench_args(args, several_splits=True, depth_only=False)
    splits = _csv(args.split)
    if args.n_val < 1:
        raise BenchError("--n-val must be at least 1")
    out = pathlib.Path(args.out)
    res = run_model_bench(runs=args.runs, weights=args.weights, splits=splits, sensors=sensors,
                          n=args.n, n_val=args.n_val, seed=args.seed, frames=args.frames,
                          out=out, ablation=args.ablation, fusion_regions=args.fusion_regions)
    for (split, sensor), (rows, meta, scenes) in res["tables"].items():
        title = f"model ablation: {split} split, {sensor}, {scenes} scenes"
        table = format_model_table(rows, meta, res["cues"][(split, sensor)])
        print(f"\n## {title}\n{table}")
        stem = f"model_{split}_{sensor}" + {"hard": "_hard_ablation", "full": "_full"}.get(
            args.ablation, "")
        md, png = save_table(table, out / stem, title=title)
        keys = format_key_table(rows)
        kmd, kpng = save_table(keys, out / f"{stem}_decisions",
                               title=f"{title}: accuracy (%) per decision")
        print(f"saved {md}, {png}, {kmd} and {kpng}")
    print(f"fusion weights (fitted on val): {res['fusion_path']}")
    return 0


def _bench_reasoning(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from spatial_ros.bench.model import frame_times
    from spatial_ros.errors import BenchError
    from spatial_ros.model.infer import SHIPPED_WEIGHTS, SpatialReasoner

    if args.objects < 0 or args.repeats < 1:
        raise BenchError("--objects must be >= 0 and --repeats >= 1")
    r = SpatialReasoner(args.weights or SHIPPED_WEIGHTS, device=args.device)
    t = frame_times(r, args.objects, args.repeats)
    print(f"{args.objects} objects ({args.objects * max(args.objects - 1, 0)} ordered pairs), "
          f"640x480 frame resized to {r.size[0]}x{r.size[1]}, device {r.device}"
          f"{' fp16' if r.half else ''}, {torch.get_num_threads()} torch threads: "
          f"median {np.median(t):.1f} ms, p95 {np.percentile(t, 95):.1f} ms over {len(t)} "
          f"frames")
    return 0


def _csv(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _check_bench_args(args: argparse.Namespace, *, several_splits: bool = False,
                      depth_only: bool = True) -> tuple[str, ...]:
    """Check --split (one, or comma-separated with ``several_splits``), --n, --frames and
    --sensors; return the sensor presets."""
    from spatial_ros.bench.generate import SPLITS
    from spatial_ros.errors import BenchError
    from spatial_ros.sim.sensors import get_sensor

    splits = _csv(args.split)
    if len(splits) != 1 and not several_splits:
        raise BenchError(f"--split takes one split, got {args.split!r}")
    for split in splits:
        if split not in SPLITS:
            raise BenchError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if args.n <= 0 or getattr(args, "frames", 1) <= 0:
        raise BenchError(f"--n and --frames must be positive, got {args.n} and "
                         f"{getattr(args, 'frames', 1)}")
    sensors = _csv(args.sensors)
    for s in sensors:
        get_sensor(s)
    if depth_only and "rgb_only" in sensors:
        raise BenchError("the geometric scene graph needs depth: rgb_only is for the model")
    return sensors


def _bench_qa(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.bench.qa import format_qa_table, run_qa_bench
    from spatial_ros.bench.report import save_table

    sensors = _check_bench_args(args)
    res = run_qa_bench(split=args.split, n=args.n, seed=args.seed, sensors=sensors,
                       fused=args.relations == "fused")
    table = format_qa_table(res)
    print(table)
    title = f"SpatialBench QA, {args.split}, {args.n} scenes, {args.relations} relations"
    suffix = "" if args.relations == "geometry" else "_fused"
    md, png = save_table(table, pathlib.Path(args.out) / f"qa_{args.split}{suffix}", title=title)
    print(f"saved {md} and {png}")
    return 0


def _bench_replay(args: argparse.Namespace) -> int:
    from spatial_ros.ros.bench_replay import run

    if args.frames <= 50 or args.rate <= 0:
        raise SystemExit("spatial-ros: error: --frames must exceed 50 and --rate be positive")
    return run(bag=args.bag, frames=args.frames, rate=args.rate)


def _bench_real(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.bench.real import (
        REAL_SETS,
        format_real_table,
        format_segmenter_table,
        run_real_bench,
    )
    from spatial_ros.bench.report import save_table
    from spatial_ros.perception import PerceptionConfig

    out = pathlib.Path(args.out)
    sets = {"given": args.data} if args.data else {k: f() for k, f in REAL_SETS.items()}
    titles = {"tuning": "TUNING set: the four RealSense tabletop frames perception was tuned "
                        "on (not a measure of new scenes)",
              "held-out": "HELD-OUT set: four frames of four other cameras and rooms, never "
                          "tuned on (the figures that count)",
              "given": f"the annotated frames of {args.data}"}
    segmenters = _segmenters(args.segmenters) or [PerceptionConfig().segmentation]
    runs = {}
    for (name, data), seg in ((item, seg) for item in sets.items() for seg in segmenters):
        stem = name.replace("-", "") + (f"_{seg}" if len(segmenters) > 1 else "")
        scores = run_real_bench(data=data, repeats=args.repeats, images=out / "real" / stem,
                                perception={"segmentation": seg})
        runs[(name, seg)] = scores
        table = format_real_table(scores)
        print(f"\n{titles[name]} (class-agnostic, {seg} segmentation, gravity from the "
              f"support plane)\n{table}")
        for f in scores.frames:
            for kind, items in (("contradicted", f.contradictions),
                                ("missed", f.missed_relations), ("colour", f.colour_errors),
                                ("colour (own pixels)", f.own_colour_errors),
                                ("name", f.name_errors)):
                if items:
                    print(f"{f.name} {kind}: " + "; ".join(items))
        md, png = save_table(table, out / f"real_{stem}", title=f"{titles[name]}; {seg} "
                             "segmentation")
        print(f"saved {md}, {png} and the annotated frames in {out / 'real' / stem}")
    if len(segmenters) > 1:
        table = format_segmenter_table(runs)
        print(f"\nsegmentations side by side\n{table}")
        md, png = save_table(table, out / "real_segmenters", title="class-agnostic "
                             "segmentations side by side on the real frames (held-out counts)")
        print(f"saved {md} and {png}")
    if args.model:
        from spatial_ros.bench.real_model import format_real_model_table, run_real_model_bench

        res = run_real_model_bench(weights=args.weights, fusion=args.fusion, data=args.data)
        table = format_real_model_table(res)
        print(table)
        for row, items in res.wrong.items():
            print(f"{row} wrong: " + "; ".join(items))
        md, png = save_table(table, out / "real_model", title="the model on real RealSense "
                             "frames: decisions about the annotated relations")
        print(f"saved {md} and {png}")
    return 0


def _bench_latency(args: argparse.Namespace) -> int:
    from spatial_ros.ros.bench_latency import run

    if args.frames <= 20:
        raise SystemExit("spatial-ros: error: --frames must be more than the 20 warm-up frames")
    return run(frames=args.frames, use_mask=args.segmentation == "mask",
               live_seconds=args.live)


def _bench_render(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from spatial_ros.sim.paths import find_world
    from spatial_ros.sim.render import Renderer
    from spatial_ros.sim.sdf import load_world

    world = load_world(find_world(args.world))
    renderer = Renderer(world)
    renderer.render()
    times = []
    for _ in range(args.frames):
        t = time.perf_counter()
        renderer.render()
        times.append((time.perf_counter() - t) * 1e3)
    intr = renderer.intrinsics
    print(f"{world.name}: {intr.width}x{intr.height}, {args.frames} frames: median "
          f"{np.median(times):.1f} ms, p95 {np.percentile(times, 95):.1f} ms")
    return 0


def _record(args: argparse.Namespace) -> int:
    from spatial_ros.ros.bag_cli import run_record

    if args.duration <= 0:
        raise SystemExit("spatial-ros: error: --duration must be positive")
    return run_record(out=args.out, storage=args.storage, duration=args.duration, sim=args.sim,
                      sensor=args.sensor, compress=args.compress)


def _replay(args: argparse.Namespace) -> int:
    from spatial_ros.ros.bag_cli import run_replay

    return run_replay(bag=args.bag, rate=args.rate, start=args.start, loop=args.loop,
                      clock=not args.no_clock)


def _real_bag(args: argparse.Namespace) -> int:
    from spatial_ros.bench.real import load_real_frames
    from spatial_ros.ros.real_bag import write_real_bag

    frames = load_real_frames(args.data)
    if args.frames:
        wanted = [f.strip() for f in args.frames.split(",") if f.strip()]
        known = {f.name: f for f in frames}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise SystemExit(f"spatial-ros: error: --frames: no frame {', '.join(unknown)} "
                             f"(frames: {', '.join(known)})")
        frames = [known[w] for w in wanted]
    counts = write_real_bag(args.out, frames, repeats=args.repeats, rate=args.rate,
                            detector=args.detector, compress=args.compress, progress=True)
    for topic, n in counts.items():
        print(f"  {topic}: {n} messages")
    return 0


def _train(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.errors import SpatialRosError
    from spatial_ros.model.checkpoint import read_checkpoint
    from spatial_ros.model.pretrain import pretrain
    from spatial_ros.model.train import load_full_config, train

    model_cfg, trn, pre = load_full_config(args.config)
    resume_stage = read_checkpoint(args.resume).get("stage", "finetune") if args.resume \
        else None
    init = None
    if pre is not None:
        done = pathlib.Path(args.out) / "pretrain.pt"
        if resume_stage == "finetune":
            if not done.is_file():
                raise SpatialRosError(f"{args.resume} fine-tunes from {done}, which is missing")
            init = done
        else:
            init = pretrain(model_cfg, pre, args.out, device=args.device,
                            resume=args.resume if resume_stage == "pretrain" else None)
            print(f"pre-trained encoder in {init}", flush=True)
    elif resume_stage == "pretrain":
        raise SpatialRosError(f"{args.resume} is a pre-training checkpoint but {args.config} "
                              f"has no pretrain: section")
    final = train(model_cfg, trn, args.out, device=args.device, init=init,
                  resume=args.resume if resume_stage == "finetune" else None,
                  config_text=pathlib.Path(args.config).read_text())
    print(f"val accuracy {100 * final.get('accuracy', float('nan')):.2f}%, depth AbsRel "
          f"{final.get('depth_absrel', float('nan')):.3f}; weights in {args.out}/model.pt")
    return 0


def _segment_data_args(parser: argparse.ArgumentParser) -> None:
    """The rendered frames both segment commands read (_segment_frames)."""
    parser.add_argument("--frames", type=int, default=2500, help="training frames")
    parser.add_argument("--val-frames", type=int, default=120, help="validation frames (the "
                        "*_val splits)")
    parser.add_argument("--data", default="~/.cache/spatial_ros/segment",
                        help="folder of the rendered frames (train/ and val/)")


def _segment_frames(args: argparse.Namespace, seed: int = 0) -> tuple[list, list]:
    """The training and validation frames of ``--data`` (rendered where missing)."""
    import pathlib

    from spatial_ros.errors import SpatialRosError
    from spatial_ros.model.segment_train import make_frames

    if args.frames < 1 or args.val_frames < 1:
        raise SpatialRosError("--frames and --val-frames must be at least 1")
    root = pathlib.Path(args.data).expanduser()
    return (make_frames(root / "train", args.frames, seed=seed),
            make_frames(root / "val", args.val_frames, seed=seed, val=True))


def _segment_train(args: argparse.Namespace) -> int:
    import pathlib

    from spatial_ros.errors import SpatialRosError
    from spatial_ros.model.segment_train import (
        SENSORS,
        TrainConfig,
        load_frames,
        train_seeds,
    )
    from spatial_ros.perception.learned import default_weights

    sensors = [x for x in args.sensors.split(",") if x]
    unknown = sorted(set(sensors) - set(SENSORS))
    if unknown:
        raise SpatialRosError(f"unknown sensor presets {unknown}: of {sorted(SENSORS)}")
    try:
        seeds = [int(x) for x in _csv(args.seeds)]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise SpatialRosError(f"--seeds {args.seeds!r}: distinct non-negative integers, "
                              "comma-separated (e.g. 0,1)")

    def data(seed: int) -> tuple[list, list]:
        train_paths, val_paths = _segment_frames(args, seed=seed)
        return load_frames(train_paths, sensors=sensors or None), load_frames(val_paths)

    out = pathlib.Path(args.out) if args.out else default_weights()
    m = train_seeds(data, out, TrainConfig(steps=args.steps, batch=args.batch, drop=args.drop),
                    seeds=seeds, device=args.device)
    which = f"seed {seeds[0]}" if len(seeds) == 1 else \
        f"the mean of seeds {', '.join(map(str, seeds))}"
    print(f"validation ({which}): objectness {m['objectness']:.1%}, boundary F1 "
          f"{m['boundary_f1']:.3f} (precision {m['boundary_precision']:.3f}, recall "
          f"{m['boundary_recall']:.3f}); weights in {out}")
    return 0


def _segment_ablation(args: argparse.Namespace) -> int:
    import pathlib
    import tempfile

    from spatial_ros.bench.report import save_table
    from spatial_ros.bench.segment_ablation import (
        VARIANTS,
        format_ablation_table,
        run_segment_ablation,
    )
    from spatial_ros.errors import SpatialRosError

    names = list(VARIANTS)
    try:
        picked = [names[int(i)] for i in _csv(args.variants)] or names
    except (ValueError, IndexError):
        raise SpatialRosError(f"--variants {args.variants!r}: indices 0-{len(names) - 1}") \
            from None
    if args.steps < 1 or args.n_sim < 1:
        raise SpatialRosError("--steps and --n-sim must be at least 1")
    train, val = _segment_frames(args)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_segment_ablation(train, val, tmp, steps=args.steps, variants=picked,
                                    n_sim=args.n_sim)
    table = format_ablation_table(rows)
    print(table)
    md, png = save_table(table, pathlib.Path(args.out) / "segment_ablation",
                         title=f"learned segmenter ablation ({args.steps} steps each)")
    print(f"saved {md} and {png}")
    return 0


def _train_shapes(args: argparse.Namespace) -> int:
    import numpy as np

    from spatial_ros.errors import SpatialRosError
    from spatial_ros.perception.shape_training import collect_shape_data, train_classifier
    from spatial_ros.perception.shapes import DEFAULT_PATH, SHAPES

    if args.n < 1 or args.n_val < 1:
        raise SpatialRosError("--n and --n-val must be at least 1")
    x, y = collect_shape_data("train", args.n)
    xv, yv = collect_shape_data("val", args.n_val)
    clf = train_classifier(x, y)
    pred = clf.probabilities(xv).argmax(1)
    clf.info.update({"val_objects": int(len(xv)), "val_accuracy": float((pred == yv).mean()),
                     "scenes": {"train": args.n, "val": args.n_val},
                     "sensors": ["ideal", "realsense_d435", "kinect"]})
    out = args.out or DEFAULT_PATH
    clf.save(out)
    confusion = np.zeros((len(SHAPES), len(SHAPES)), int)
    for t, p in zip(yv, pred):
        confusion[t, p] += 1
    print(f"{len(x)} train objects, {len(xv)} val objects; val accuracy "
          f"{100 * clf.info['val_accuracy']:.1f}%")
    print("confusion (rows true, columns predicted: " + ", ".join(SHAPES) + "):")
    for name, row in zip(SHAPES, confusion):
        print(f"  {name:<9} {row.tolist()}")
    print(f"wrote {out}")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    from spatial_ros.errors import SpatialRosError
    from spatial_ros.model.export import check_parity, export_onnx
    from spatial_ros.model.infer import SHIPPED_WEIGHTS

    weights = args.weights or SHIPPED_WEIGHTS
    path = export_onnx(weights, args.out)
    worst = check_parity(weights, path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB); onnxruntime vs torch: largest "
          f"difference {worst:.2e} (tolerance {args.tolerance:.0e})")
    if worst > args.tolerance:
        raise SpatialRosError(f"ONNX parity {worst:.2e} exceeds {args.tolerance:.0e}")
    return 0


def _export_weights(args: argparse.Namespace) -> int:
    import json

    from spatial_ros.model.export import ship_weights
    from spatial_ros.model.infer import SHIPPED_WEIGHTS

    stated = ship_weights(args.checkpoint, SHIPPED_WEIGHTS, args.fusion)
    print(json.dumps(stated, indent=1))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from spatial_ros.ros.demo import run

    return run()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from spatial_ros.errors import SpatialRosError

    try:
        return int(args.func(args) or 0)
    except SpatialRosError as exc:
        print(f"spatial-ros: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
