#!/usr/bin/env python
"""The CPU's fp32 GEMM ceiling: GFLOP/s of a square matmul with torch and with numpy.

Writes ``bench/raw/gemm.json`` (median of ``--repeats`` after one warm-up, per library, with the
load average). The model's achieved GFLOP/s (``bench/report.py``) is compared with the torch one.

Usage: ``nice -n 10 python bench/gemm.py [--threads 2] [--size 2048]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import generations as G
import numpy as np


def _median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    n = args.size
    load = {"before": list(os.getloadavg())}
    a, b = torch.rand(n, n), torch.rand(n, n)
    an, bn = a.numpy(), b.numpy()
    flops = 2.0 * n**3
    record = {
        "size": n,
        "threads": args.threads,
        "torch_gflops": flops / _median_seconds(lambda: torch.mm(a, b), args.repeats) / 1e9,
        "numpy_gflops": flops / _median_seconds(lambda: an @ bn, args.repeats) / 1e9,
        "numpy_threads_env": os.environ.get("OMP_NUM_THREADS", ""),
    }
    load["after"] = list(os.getloadavg())
    record["loadavg"] = load
    G.RAW.mkdir(parents=True, exist_ok=True)
    (G.RAW / "gemm.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
