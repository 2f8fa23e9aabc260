"""The ``spatial-ros`` command line."""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatial-ros", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the main job: simulated scene -> nodes -> answers")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    codec = bench_sub.add_parser("codec", help="image decode time per 640x480 frame")
    codec.add_argument("--frames", type=int, default=300, help="frames per encoding")
    codec.set_defaults(func=_bench_codec)
    gen = bench_sub.add_parser("generate", help="write SpatialBench scenes")
    gen.add_argument("--split", required=True, help="train, val, test or shift")
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
    return parser


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
