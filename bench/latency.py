#!/usr/bin/env python
"""Inference latency of both generations side by side: PyTorch eager, ONNX Runtime and OpenVINO (fp32).

Rows per generation: PyTorch eager (the demo checkpoint with that generation's code), ONNX Runtime
on the fp32 gather-warp and native-warp graphs, OpenVINO (f32) on both. Each row is its own
process; interleaved rounds (``bench/rounds.py``), batch 1, 256x256. Writes
``bench/raw/latency-<threads>t.json`` with every latency, the load average before and after, and
each model's GFLOPs (``torch.utils.flop_counter``).

Usage: ``nice -n 10 python bench/latency.py [--threads 2] [--rounds 10] [--per-round 3]``
"""

from __future__ import annotations

import argparse
import json
import sys

import generations as G
from rounds import Row, run_rounds


def rows() -> list:
    exports = json.loads((G.RAW / "exports.json").read_text())
    out = []
    for generation, info in exports["generations"].items():
        dirs = info["deploy_dirs"]
        out.append(Row(f"{generation} PyTorch eager", generation, "torch", str(G.demo(generation))))
        for kind, name in (("ort", "ORT"), ("openvino", "OpenVINO")):
            for warp in ("gather", "native"):
                path = str(G.REPO / dirs[warp] / "model.onnx")
                out.append(Row(f"{generation} {name} {warp}", "after", kind, path, warp))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--per-round", type=int, default=3)
    args = p.parse_args(argv)
    measured = rows()
    record = run_rounds(measured, args.threads, args.rounds, args.per_round, log=lambda m: print(m, file=sys.stderr))
    for row, planned in zip(record["rows"], measured):
        row["graph_generation"] = planned.label.split()[0]
    record["commits"] = {g: G.commit(g) for g in G.GENERATIONS}
    G.RAW.mkdir(parents=True, exist_ok=True)
    (G.RAW / f"latency-{args.threads}t.json").write_text(json.dumps(record, indent=1) + "\n")
    for row in record["rows"]:
        print(f"{row['label']:28s} {row['median_ms']:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
