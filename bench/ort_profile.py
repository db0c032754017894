#!/usr/bin/env python
"""ONNX Runtime op profile of both generations' fp32 graphs: time per op type (CPU provider).

For each generation and warp mode, the fp32 graph runs ``--warmup`` untimed and ``--runs`` profiled
inferences (``SessionOptions.enable_profiling``); the profile's node events are summed per op type
and divided by the runs. Writes ``bench/raw/ort_profile.json`` (ms per inference per op type,
node-event count, load average).

Usage: ``nice -n 10 python bench/ort_profile.py [--threads 2] [--runs 10]``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

import generations as G
import numpy as np
import onnxruntime as ort


def profile(path: Path, threads: int, warmup: int, runs: int) -> dict:
    """``{"ms_per_op": {op: ms per inference}, "total_ms": ..., "nodes_per_run": ...}`` of one graph.

    One profiled session runs ``warmup + runs`` inferences; node events before the first timed
    run's ``model_run`` event are dropped.
    """
    x = np.random.default_rng(0).random((1, 3, *G.SIZE), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for _ in range(warmup + runs):
            session.run(None, {name: x})
        trace = json.loads(Path(session.end_profiling()).read_text())
    starts = sorted(e["ts"] for e in trace if e.get("name") == "model_run")
    first = starts[warmup] if len(starts) > warmup else 0
    nodes = [
        e for e in trace if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= first
    ]
    per_op = collections.defaultdict(float)
    for e in nodes:
        per_op[e["args"]["op_name"]] += e["dur"] / 1000.0 / runs
    ordered = dict(sorted(per_op.items(), key=lambda kv: -kv[1]))
    return {"ms_per_op": ordered, "total_ms": sum(ordered.values()), "nodes_per_run": len(nodes) / runs}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args(argv)
    exports = json.loads((G.RAW / "exports.json").read_text())
    record = {"threads": args.threads, "runs": args.runs, "loadavg": {"before": list(os.getloadavg())}, "graphs": []}
    for generation, info in exports["generations"].items():
        for warp, folder in info["deploy_dirs"].items():
            print(f"profiling {generation} {warp}", file=sys.stderr)
            prof = profile(G.REPO / folder / "model.onnx", args.threads, args.warmup, args.runs)
            record["graphs"].append({"generation": generation, "warp": warp, **prof})
    record["loadavg"]["after"] = list(os.getloadavg())
    record["onnxruntime"] = ort.__version__
    G.RAW.mkdir(parents=True, exist_ok=True)
    (G.RAW / "ort_profile.json").write_text(json.dumps(record, indent=1) + "\n")
    for g in record["graphs"]:
        top = ", ".join(f"{k} {v:.1f}" for k, v in list(g["ms_per_op"].items())[:4])
        print(f"{g['generation']:7s} {g['warp']:7s} {g['total_ms']:7.1f} ms in kernels: {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
