#!/usr/bin/env python
"""Does ``b2v-edge bench`` agree with a direct timing? Five back-to-back bench runs, each bracketed by direct timings.

``b2v-edge bench DIR --threads T --no-warp-compare --json`` runs ``--repeats`` times in a row, with a
direct timing of each row before the first run and after every run (``bench/worker.py`` in one fresh
process per row: the checkpoint in eager PyTorch, the fp32 graph in ONNX Runtime; ``--warmup``
untimed runs, then ``--runs`` timed, median). Each bench run is compared with the mean of the two
direct timings that bracket it, so a machine whose speed drifts over the minutes of the check (a
shared VM does) does not pass for a bench error; every direct timing is recorded. Writes
``bench/raw/NAME.json`` (``--name``, default ``bench_vs_direct``) and prints the table that
``bench/report.py`` renders from it (each bench run's median over its bracketing direct median).
Run on an idle machine (the load average is recorded).

Usage: ``python bench/bench_vs_direct.py [--deploy bench/.work/after-gather] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import generations as G
import numpy as np
import report
from rounds import Row

ROWS = (("PyTorch eager", "torch"), ("ORT fp32", "ort"))


def bench_once(deploy: str, threads: int) -> dict:
    """Median latency (ms) and unstable flag per row label of one ``b2v-edge bench`` run, and under
    ``"method"`` its runs, rounds, warm-up runs, untimed settling rounds and untimed runs per row and round."""
    cmd = [sys.executable, "-m", "b2v_edge.cli.main", "bench", deploy, "--threads", str(threads)]
    out = subprocess.run([*cmd, "--no-warp-compare", "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    rows = {r["label"]: {"median_ms": r["median_ms"], "unstable": r["unstable"]} for r in result["rows"]}
    method = {k: result["options"].get(k, 0) for k in ("runs", "rounds", "warmup", "settle_rounds", "slot_warmup")}
    return {**rows, "method": method}


def direct(kind: str, path: str, threads: int, warmup: int, runs: int) -> float:
    """Median latency (ms) of ``runs`` timed runs of one row in a fresh ``bench/worker.py`` process."""
    row = Row(kind, "after", kind, path)
    row.start(threads)
    try:
        row.time(warmup)
        return float(np.median(row.time(runs)))
    finally:
        row.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--deploy", default="bench/.work/after-gather")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--name", default="bench_vs_direct", help="record name: writes bench/raw/NAME.json")
    args = p.parse_args(argv)
    deploy = str(G.REPO / args.deploy)
    load_before = os.getloadavg()
    paths = {"torch": str(G.demo("after")), "ort": os.path.join(deploy, "model.onnx")}

    def direct_all() -> dict:
        return {label: direct(kind, paths[kind], args.threads, args.warmup, args.runs) for label, kind in ROWS}

    runs, direct_ms = [], [direct_all()]
    for _ in range(args.repeats):
        runs.append(bench_once(deploy, args.threads))
        direct_ms.append(direct_all())
    record = {
        "commit": G.commit("after"),
        "deploy": args.deploy,
        "threads": args.threads,
        "bench_runs": runs,
        "direct_ms": direct_ms,
        "loadavg": {"before": load_before, "after": os.getloadavg()},
    }
    (G.RAW / f"{args.name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(report.bench_vs_direct({args.name: record}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
