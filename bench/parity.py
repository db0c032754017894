#!/usr/bin/env python
"""Parity of the current generation's exports: every artifact and runtime against PyTorch.

For each warp mode's deploy dir (``bench/export_generations.py``, ``after``): ``b2v-edge parity``
with the PyTorch reference recomputed on ``--samples`` synthetic inputs, every ONNX graph through
ONNX Runtime and the fp32 graph through OpenVINO at f32 and at bf16 (when installed). Writes
``bench/raw/parity.json`` (scores only; no timing).

Usage: ``python bench/parity.py [--samples 8]``
"""

from __future__ import annotations

import argparse
import json
import sys

import generations as G

from b2v_edge.runtime.engines.openvino import available as openvino_available
from b2v_edge.verify.parity import ParityOptions, run_parity

KEEP = ("path", "kind", "precision", "warp", "backend", "provider", "psnr_vs_torch", "psnr_vs_torch_min")
KEEP += ("gt_drop", "min_psnr", "max_gt_drop", "status", "skipped", "error")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    exports = json.loads((G.RAW / "exports.json").read_text())
    record = {"data": "synthetic", "samples": args.samples, "artifacts": []}
    dirs = exports["generations"]["after"]["deploy_dirs"]
    for warp in ("native", "gather"):
        deploy = G.REPO / dirs[warp]
        backends = ["onnxruntime"] + (["openvino"] if openvino_available() else [])
        for backend in backends:
            options = ParityOptions(
                deploy, "synthetic", args.samples, backend, threads=args.threads, ssim=False, worst=0
            )
            report = run_parity(options)
            for a in report.to_dict()["artifacts"]:
                if not a.get("skipped") and (warp == "native" or a["precision"] in ("fp32", "bf16")):
                    record["artifacts"].append({k: a.get(k) for k in KEEP})
            record["size"] = list(report.size)
    record["deploy"] = "deploy dirs: " + ", ".join(
        f"{w} = `b2v-edge export --precision fp16 --target trt10 --warp {w}` + `b2v-edge calibrate`"
        for w in ("native", "gather")
    )
    (G.RAW / "parity.json").write_text(json.dumps(record, indent=1) + "\n")
    for a in record["artifacts"]:
        print(a["path"], a["warp"], a["backend"], a["precision"], a["status"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
