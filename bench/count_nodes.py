#!/usr/bin/env python
"""Count the ONNX nodes of every exported graph, with an op-type histogram (deterministic: committed).

Reads ``bench/raw/exports.json`` (``bench/export_generations.py``) and writes
``bench/raw/nodes.json``: for each generation, warp mode and precision (fp32 / fp16 / int8 Q/DQ),
the node count of the top-level graph, the count per op type, and the file size.

Usage: ``python bench/count_nodes.py``
"""

from __future__ import annotations

import collections
import json
import sys

import generations as G
import onnx

FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}


def histogram(path) -> dict:
    """``{"nodes": N, "ops": {op_type: count}, "bytes": size}`` of one ONNX file (top-level graph)."""
    model = onnx.load(str(path), load_external_data=False)
    ops = collections.Counter(node.op_type for node in model.graph.node)
    return {"nodes": len(model.graph.node), "ops": dict(sorted(ops.items())), "bytes": path.stat().st_size}


def main() -> int:
    exports = json.loads((G.RAW / "exports.json").read_text())
    out = {"size": exports["size"], "checkpoint": exports["checkpoint"], "graphs": []}
    for generation, info in exports["generations"].items():
        for warp, folder in info["deploy_dirs"].items():
            for precision, name in FILES.items():
                path = G.REPO / folder / name
                if path.is_file():
                    row = {"generation": generation, "commit": info["commit"], "warp": warp, "precision": precision}
                    out["graphs"].append({**row, **histogram(path)})
    (G.RAW / "nodes.json").write_text(json.dumps(out, indent=1) + "\n")
    for g in out["graphs"]:
        print(f"{g['generation']:7s} {g['warp']:7s} {g['precision']:5s} {g['nodes']:6d} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
