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
    return parser


def _bench_codec(args: argparse.Namespace) -> int:
    from spatial_ros.ros.bench_codec import run

    return run(frames=args.frames)


def _demo(args: argparse.Namespace) -> int:
    from spatial_ros.ros.demo import run

    return run()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
