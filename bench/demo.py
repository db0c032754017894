#!/usr/bin/env python
"""Latency of the shipped demo model as users get it: ``b2v-edge bench`` on its deploy dir.

Runs ``b2v-edge bench b2v_edge/weights/demo --threads T --json`` (PyTorch eager on the demo
checkpoint, ONNX Runtime and OpenVINO on the shipped fp32 gather-warp graph, the native-warp
variant exported on the fly, the end-to-end stream rate) and writes its JSON, with the command and
the checkpoint's SHA-256 from the deploy dir's manifest, to ``bench/raw/demo.json``.

Usage: ``nice -n 10 python bench/demo.py [--threads 2] [--runs 30] [--rounds 10]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import generations as G

from b2v_edge.common.atomic import atomic_write_bytes

DEPLOY = "b2v_edge/weights/demo"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args(argv)
    exe = shutil.which("b2v-edge") or sys.exit("b2v-edge is not on PATH: pip install -e '.[dev]' first")
    flags = ["--threads", str(args.threads), "--runs", str(args.runs), "--rounds", str(args.rounds), "--json"]
    done = subprocess.run([exe, "bench", DEPLOY, *flags], cwd=G.REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"b2v-edge bench failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    record = json.loads(done.stdout)
    manifest = json.loads((G.REPO / DEPLOY / "manifest.json").read_text())
    record["command"] = " ".join(["b2v-edge", "bench", DEPLOY, *flags])
    record["checkpoint_sha256"] = manifest["model"]["checkpoint_sha256"]
    G.RAW.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(G.RAW / "demo.json", (json.dumps(record, indent=1) + "\n").encode())
    for row in record["rows"]:
        print(f"{row['label']:28s} {row.get('median_ms') or float('nan'):8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
