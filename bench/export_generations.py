#!/usr/bin/env python
"""Export both generations of the dense lite demo model (N=7) at 256x256 for the other bench scripts.

For each generation (``before`` / ``after``, :mod:`generations`) and each warp mode (``gather`` /
``native``): ``b2v-edge export --precision fp16 --target trt10 --warp W`` (fp32 + fp16 graphs) and
``b2v-edge calibrate --target tensorrt`` (the symmetric Q/DQ INT8 graph), each with that
generation's own code, into ``bench/.work/<generation>-<warp>/`` (kept: a complete folder is reused,
with the commit it was exported from; delete ``bench/.work`` to re-export). Writes
``bench/raw/exports.json`` (the folders and commits). No timing is taken here.

Usage: ``python bench/export_generations.py [--calib-samples 16]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import generations as G

WARPS = ("gather", "native")


def export_one(generation: str, warp: str, calib_samples: int) -> Path:
    """Export and calibrate one (generation, warp) deploy dir; returns it (kept when complete)."""
    out = G.WORK / f"{generation}-{warp}"
    if (out / "model.int8.onnx").is_file() and (out / "commit.txt").is_file():
        return out
    demo = str(G.demo(generation))
    cli = ("-m", "b2v_edge.cli.main")
    export = [*cli, "export", "--checkpoint", demo, "--precision", "fp16", "--target", "trt10", "--warp", warp]
    subprocess.run(G.python_cmd(generation, *export, "--out", str(out)), check=True)
    calib = ["calibrate", str(out), "--samples", str(calib_samples), "--eval-samples", "2", "--quiet"]
    subprocess.run(G.python_cmd(generation, *cli, *calib), check=True)
    (out / "commit.txt").write_text(G.commit(generation) + "\n")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calib-samples", type=int, default=16, help="calibration inputs (the graph does not depend on it)")
    args = p.parse_args(argv)
    record = {"size": list(G.SIZE), "checkpoint": f"{G.DEMO} at {G.DENSE_DEMO_REV}", "generations": {}}
    for generation in G.GENERATIONS:
        dirs = {warp: str(export_one(generation, warp, args.calib_samples).relative_to(G.REPO)) for warp in WARPS}
        commits = {(G.REPO / d / "commit.txt").read_text().strip() for d in dirs.values()}
        record["generations"][generation] = {"commit": ", ".join(sorted(commits)), "deploy_dirs": dirs}
    G.RAW.mkdir(parents=True, exist_ok=True)
    (G.RAW / "exports.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
