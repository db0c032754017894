"""The README's demo-model tables, written from the committed ``b2v-edge eval --json`` results.

Run from the repository root: ``python docs/training/demo_tables.py`` (torch-free). Reads
``docs/training/eval/eval.json`` — a list of evaluations, each naming its model, its data, the exact
``b2v-edge eval`` command and the JSON file that command printed — and rewrites the block between
``<!-- demo-eval:begin -->`` and ``<!-- demo-eval:end -->`` in ``README.md``:

* per data set: PSNR per frame position of every model and of "blurred input repeated", and the gain;
* per data set: the middle-frame and first/last gain of every model per photo and per blur size;
* per side table (entries that name a ``table``, e.g. an ablation of one training choice): its frame
  table only.

``--check`` exits 1 when the README's block differs from what the JSON gives (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "docs" / "training" / "eval"
README = ROOT / "README.md"
BEGIN, END = "<!-- demo-eval:begin -->", "<!-- demo-eval:end -->"


def _gain(psnr: List[float], base: List[float], k: int) -> float:
    return psnr[k] - base[k]


def frame_table(runs: List[Dict]) -> str:
    """Per-frame PSNR of each model on one data set, the baseline row and each model's gain row."""
    n = runs[0]["result"]["frames"]
    head = "| row | " + " | ".join(f"frame {k + 1}" + (" (middle)" if k == n // 2 else "") for k in range(n)) + " |"
    lines = [head, "|---" * (n + 1) + "|"]
    for run in runs:
        lines.append(f"| {run['model']} | " + " | ".join(f"{p:.2f}" for p in run["result"]["psnr"]) + " |")
    base = runs[0]["result"]["baseline_psnr"]
    lines.append("| blurred input repeated | " + " | ".join(f"{b:.2f}" for b in base) + " |")
    for run in runs:
        psnr, b = run["result"]["psnr"], run["result"]["baseline_psnr"]
        lines.append(
            f"| gain, {run['model']} (dB) | " + " | ".join(f"{_gain(psnr, b, k):+.2f}" for k in range(n)) + " |"
        )
    return "\n".join(lines)


def group_table(runs: List[Dict], axis: str, title: str) -> str:
    """Middle and first/last gain per group (photo or blur size), one column pair per model."""
    cols = " | ".join(f"middle, {r['model']} | first/last, {r['model']}" for r in runs)
    lines = [f"| {title} | samples | {cols} |", "|---|---:" + "|---:" * (2 * len(runs)) + "|"]
    keys = list(runs[0]["result"]["groups"].get(axis, {}))
    for key in keys:
        first = runs[0]["result"]["groups"][axis][key]
        cells = []
        for run in runs:
            g = run["result"]["groups"][axis][key]
            cells += [f"{g['middle_gain_db']:+.2f}", f"{g['ends_gain_db']:+.2f}"]
        lines.append(f"| {key} | {first['count']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(entries: List[Dict]) -> str:
    """The README block: per data set the frame, per-photo and per-blur tables; per side table its frame table."""
    groups: Dict[str, List[Dict]] = {}
    for entry in entries:
        result = json.loads((EVAL / entry["file"]).read_text())
        groups.setdefault(entry.get("table", entry["data"]), []).append({**entry, "result": result})
    parts = []
    for title, runs in groups.items():
        count = runs[0]["result"]["count"]
        parts.append(f"**{title}** ({count} samples, order-aware PSNR in dB; {runs[0]['about']}):")
        parts.append(frame_table(runs))
        if "table" not in runs[0]:
            parts.append(group_table(runs, "image", "photo"))
            parts.append(group_table(runs, "blur", "blur size"))
        parts.append("Commands: " + "; ".join(f"`{r['command']}`" for r in runs) + ".")
    return "\n\n".join(parts)


def splice(text: str, block: str) -> str:
    """``text`` with the part between the markers replaced by ``block``."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + block + "\n" + text[end:]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README's block is out of date")
    args = parser.parse_args(argv)
    entries = json.loads((EVAL / "eval.json").read_text())
    text = README.read_text()
    new = splice(text, render(entries))
    if args.check:
        if new != text:
            print("README's demo tables differ from docs/training/eval; run python docs/training/demo_tables.py")
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
