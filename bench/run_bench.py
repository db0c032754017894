#!/usr/bin/env python
"""Standalone benchmark: the same measurement as ``b2v-edge bench``, written as a markdown table.

Usage::

    python bench/run_bench.py deploy                       # printed
    python bench/run_bench.py deploy --sizes 256x256,320x480 --runs 30 --out /tmp/bench.md --json /tmp/bench.json

Rows: PyTorch eager, ONNX Runtime fp32 / fp16 / int8, OpenVINO fp32 (TensorRT plans where present),
the fp32 graph with the other warp variant; columns: file size, PSNR vs GT and vs PyTorch, latency median / p90,
FPS, peak RSS, achieved GFLOP/s as a share of this CPU's fp32 GEMM throughput, stream FPS. See
``b2v_edge.verify.bench`` for the method. Each row runs in a fresh process, hence the ``__main__``
guard below.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

HERE = Path(__file__).resolve().parent


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line flags (the same names as ``b2v-edge bench``)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("deploy_dir", type=Path, help="deploy directory with manifest.json")
    p.add_argument("--sizes", default="", help="HxW,... (default: the deploy dir's input size)")
    p.add_argument("--runs", type=int, default=20, help="timed runs per row, spread over the rounds")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (every row in every round)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs per row")
    p.add_argument("--samples", type=int, default=4, help="test inputs for the accuracy columns")
    p.add_argument("--data", default="synthetic", help="a --data term of b2v-edge bench (b2v_edge.common.dataspec)")
    p.add_argument("--stream-frames", type=int, default=20, help="frames of the stream measurement (0 = skip)")
    p.add_argument("--no-warp-compare", action="store_true", help="skip exporting the other warp variant")
    p.add_argument("--no-isolate", action="store_true", help="run every row in this process")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads of every row (default: all cores)")
    p.add_argument(
        "--out", type=Path, default=None, help="also write the markdown here (bench/results.md is report.py's)"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the full report as JSON here")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark, write the markdown (and JSON) report; returns the exit code."""
    from b2v_edge.common.atomic import atomic_write_text
    from b2v_edge.common.manifest import ManifestError
    from b2v_edge.export.api import export_variant
    from b2v_edge.verify.bench import BenchOptions, parse_sizes, run_bench
    from b2v_edge.verify.render import render_bench_markdown

    args = parse_args(argv)
    try:
        options = BenchOptions(
            args.deploy_dir,
            parse_sizes(args.sizes),
            runs=args.runs,
            warmup=args.warmup,
            rounds=args.rounds,
            samples=args.samples,
            data=args.data,
            stream_frames=args.stream_frames,
            warp_compare=not args.no_warp_compare,
            isolate=not args.no_isolate,
            threads=args.threads,
        )
        say = lambda msg, done, total: print(f"[{done}/{total}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
        report = run_bench(options, progress=say, export_variant=export_variant)
    except (ValueError, ManifestError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = f"# b2v-edge bench: {args.deploy_dir}\n\n" + render_bench_markdown(report)
    if args.out is not None:
        atomic_write_text(args.out, text)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
