#!/usr/bin/env python
"""Turn every raw JSON file under ``bench/raw/`` into ``bench/results.md`` and the README's bench block.

Inputs (each written by one script of ``bench/``; a missing one leaves its section saying so):
``nodes.json`` (count_nodes.py), ``latency-<T>t.json`` (latency.py), ``ort_profile.json``
(ort_profile.py), ``train_step.json`` (train_step.py), ``gemm.json`` (gemm.py), ``parity.json``
(parity.py), ``bench_vs_direct*.json`` (bench_vs_direct.py), ``demo.json`` (demo.py). Timed sections print the load average they ran under. Nothing here is typed by hand:
rerun the scripts (``bench/make_all.sh``) and this one.

Usage: ``python bench/report.py`` (write both) or ``python bench/report.py --check`` (exit 1 when
``results.md`` or the README block differs from what the raw JSON gives).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
RESULTS = HERE / "results.md"
README = HERE.parent / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PRECISIONS = ("fp32", "fp16", "int8")
WARPS = ("gather", "native")
TOP_OPS = 10


def load_raw(folder: Path = RAW) -> Dict[str, Any]:
    """``{file stem: parsed JSON}`` of every ``*.json`` in ``folder``."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


# ---- formatting ---------------------------------------------------------------------------------
def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.1f}"


def _x(num: Optional[float], den: Optional[float]) -> str:
    return "—" if not num or not den else f"{num / den:.2f}×"


def _load(rec: Dict[str, Any]) -> str:
    load = rec.get("loadavg") or {}
    parts = [f"{k} {' / '.join(f'{v:.2f}' for v in load[k])}" for k in ("before", "after") if k in load]
    cores = rec.get("cores")
    return f"load average (1/5/15 min) {'; '.join(parts)}" + (f" on {cores} cores" if cores else "")


def _missing(script: str) -> str:
    return f"_not measured: run `python bench/{script}`_"


# ---- sections -----------------------------------------------------------------------------------
def _graphs(raw: Dict[str, Any]) -> Dict[tuple, Dict[str, Any]]:
    return {(g["generation"], g["warp"], g["precision"]): g for g in raw.get("nodes", {}).get("graphs", [])}


def node_counts(raw: Dict[str, Any]) -> str:
    """ONNX node count per graph, before / after."""
    graphs = _graphs(raw)
    if not graphs:
        return _missing("count_nodes.py")
    rows = []
    for precision in PRECISIONS:
        for warp in WARPS:
            b, a = graphs.get(("before", warp, precision)), graphs.get(("after", warp, precision))
            if b or a:
                nb, na = (b or {}).get("nodes"), (a or {}).get("nodes")
                rows.append([precision, warp, nb or "—", na or "—", _x(na, nb)])
    return table(("graph", "warp", "nodes before", "nodes after", "after / before"), rows)


def op_histogram(raw: Dict[str, Any], precision: str = "fp32") -> str:
    """The most frequent op types of the ``precision`` graphs, before / after, per warp."""
    graphs = _graphs(raw)
    parts = []
    for warp in WARPS:
        b, a = graphs.get(("before", warp, precision)), graphs.get(("after", warp, precision))
        if not (b and a):
            continue
        ops = sorted(set(b["ops"]) | set(a["ops"]), key=lambda op: (-max(b["ops"].get(op, 0), a["ops"].get(op, 0)), op))
        rows = [[op, b["ops"].get(op, 0), a["ops"].get(op, 0)] for op in ops[:TOP_OPS]]
        if len(ops) > TOP_OPS:
            rest = [sum(g["ops"].get(op, 0) for op in ops[TOP_OPS:]) for g in (b, a)]
            rows.append([f"{len(ops) - TOP_OPS} other op types", *rest])
        parts.append(f"{precision}, {warp} warp:\n\n" + table(("op type", "before", "after"), rows))
    return "\n\n".join(parts) or _missing("count_nodes.py")


def _gemm(raw: Dict[str, Any]) -> Optional[float]:
    return (raw.get("gemm") or {}).get("torch_gflops")


def latency(raw: Dict[str, Any], threads: int) -> str:
    """Median latency per runtime and warp, before / after, with speed-ups and GFLOP/s."""
    rec = raw.get(f"latency-{threads}t")
    if not rec:
        return _missing(f"latency.py --threads {threads}")
    rows = {r["label"]: r for r in rec["rows"]}
    gflops = {
        g: rows[f"{g} PyTorch eager"]["info"].get("gflops") for g in ("before", "after") if f"{g} PyTorch eager" in rows
    }
    base = (rows.get("before PyTorch eager") or {}).get("median_ms")
    gemm = _gemm(raw)
    out = []
    for runtime in ("PyTorch eager", "ORT gather", "ORT native", "OpenVINO gather", "OpenVINO native"):
        b, a = rows.get(f"before {runtime}", {}), rows.get(f"after {runtime}", {})
        mb, ma = b.get("median_ms"), a.get("median_ms")
        rate = gflops.get("after") / (ma / 1000.0) if ma and gflops.get("after") else None
        share = f" ({100 * rate / gemm:.0f} %)" if rate and gemm else ""
        out.append(
            [
                runtime,
                _ms(mb),
                _ms(ma),
                _x(mb, ma),
                _x(base, ma),
                "—" if rate is None else f"{rate:.1f}{share}",
            ]
        )
    head = (
        "runtime",
        "before (ms)",
        "after (ms)",
        "after speed-up",
        "after vs before PyTorch",
        "after GFLOP/s (of GEMM)",
    )
    notes = [
        f"- {threads} thread(s), batch 1, 256x256; {rec['rounds']} interleaved rounds x {rec['per_round']} runs "
        f"per row, medians; {_load(rec)}; process niceness {rec.get('nice', 0)}",
        "- model GFLOPs (torch.utils.flop_counter, warps not counted): "
        + ", ".join(f"{g} {v:.2f}" for g, v in gflops.items() if v),
    ]
    if gemm:
        notes.append(f"- fp32 GEMM ceiling: {gemm:.1f} GFLOP/s ({_gemm_line(raw)})")
    return table(head, out) + "\n\n" + "\n".join(notes)


def _demo_manifest(rec: Dict[str, Any]) -> Dict[str, Any]:
    """The ``model`` block of the deploy dir ``demo.json`` was measured on, as it is now."""
    path = HERE.parent / rec["options"]["deploy_dir"] / "manifest.json"
    return json.loads(path.read_text())["model"] if path.exists() else {}


def demo_title(raw: Dict[str, Any]) -> str:
    """Heading of :func:`demo`: the shipped demo's architecture, from its manifest."""
    model = _demo_manifest(raw.get("demo") or {"options": {"deploy_dir": "b2v_edge/weights/demo"}})
    cfg = model.get("config", {})
    what = f"{model.get('preset', '?')}, {cfg.get('block', '?')} blocks, N={cfg.get('frames', '?')}"
    return f"The shipped demo model ({what}), `b2v-edge bench` on its deploy dir:"


def demo(raw: Dict[str, Any]) -> str:
    """``b2v-edge bench`` on the shipped demo's deploy dir: one row per runtime, as users run it.

    Says so instead when the deploy dir now holds another checkpoint than the one measured."""
    rec = raw.get("demo")
    if not rec:
        return _missing("demo.py")
    if _demo_manifest(rec).get("checkpoint_sha256") != rec["checkpoint_sha256"]:
        return "_stale: the shipped demo changed since it was measured; run `python bench/demo.py`_"
    out = []
    for row in rec["rows"]:
        if row.get("skipped"):
            out.append([row["label"], row["precision"], row["warp"], f"skipped: {row['skipped']}", "", "", "", ""])
            continue
        psnr = row.get("psnr_torch")
        out.append(
            [
                row["label"],
                row["precision"],
                row["warp"],
                _ms(row.get("median_ms")),
                f"{_ms(row.get('p10_ms'))}–{_ms(row.get('p90_ms'))}",
                f"{row['fps']:.1f}" if row.get("fps") else "—",
                f"{row['stream_fps']:.1f}" if row.get("stream_fps") else "—",
                "—" if psnr is None else f"{psnr:.1f}",
            ]
        )
    head = (
        "runtime",
        "precision",
        "warp",
        "median (ms)",
        "p10–p90 (ms)",
        "FPS",
        "stream FPS (640x480)",
        "PSNR vs PyTorch (dB)",
    )
    env = rec.get("environment") or {}
    load = " / ".join(f"{v:.2f}" for v in env.get("load_average") or [])
    gflops = ", ".join(f"{k}: {v:.2f}" for k, v in (rec.get("gflops") or {}).items())
    notes = [
        f"- `{rec['command']}`; checkpoint SHA-256 {rec['checkpoint_sha256'][:12]}…; model GFLOPs {gflops}",
        "- FPS: one 256x256 inference; stream FPS: `b2v-edge run --headless` end to end on a 640x480 clip, "
        "restored at full resolution in 256x256 tiles (`--fit full`, the default)",
        f"- load average (1/5/15 min) before {load} on {env.get('cpu_cores')} cores; "
        + "; ".join(rec.get("notes") or []),
    ]
    return table(head, out) + "\n\n" + "\n".join(notes)


def _gemm_line(raw: Dict[str, Any]) -> str:
    g = raw["gemm"]
    return f"{g['size']}² matmul, {g['threads']} threads; numpy {g['numpy_gflops']:.1f} GFLOP/s; {_load(g)}"


def ort_profile(raw: Dict[str, Any]) -> str:
    """ORT time per op type (ms per inference), before / after, per warp."""
    rec = raw.get("ort_profile")
    if not rec:
        return _missing("ort_profile.py")
    by = {(g["generation"], g["warp"]): g for g in rec["graphs"]}
    parts = [
        f"ONNX Runtime {rec['onnxruntime']}, CPU provider, {rec['threads']} thread(s), {rec['runs']} profiled runs; {_load(rec)}"
    ]
    for warp in WARPS:
        b, a = by.get(("before", warp)), by.get(("after", warp))
        if not (b and a):
            continue
        ops = sorted(set(b["ms_per_op"]) | set(a["ms_per_op"]), key=lambda op: (-b["ms_per_op"].get(op, 0.0), op))
        rows = [[op, _ms(b["ms_per_op"].get(op)), _ms(a["ms_per_op"].get(op))] for op in ops[:TOP_OPS]]
        rows.append(["all kernels", _ms(b["total_ms"]), _ms(a["total_ms"])])
        rows.append(["kernel calls per run", f"{b['nodes_per_run']:.0f}", f"{a['nodes_per_run']:.0f}"])
        parts.append(f"fp32, {warp} warp (ms per inference):\n\n" + table(("op type", "before", "after"), rows))
    return "\n\n".join(parts)


def train_step(raw: Dict[str, Any]) -> str:
    """Training step time before / after."""
    rec = raw.get("train_step")
    if not rec:
        return _missing("train_step.py")
    rows = {r["generation"]: r for r in rec["rows"]}
    mb, ma = (rows.get(g, {}).get("median_ms") for g in ("before", "after"))
    body = table(
        ("step", "before (ms)", "after (ms)", "after speed-up"),
        [
            [
                f"batch {rec['batch']} x {rec['crop']}x{rec['crop']}, forward + L1 + backward + Adam",
                _ms(mb),
                _ms(ma),
                _x(mb, ma),
            ]
        ],
    )
    return body + (
        f"\n\n- {rec['threads']} thread(s); {rec['rounds']} interleaved rounds x {rec['per_round']} steps, medians; "
        f"{_load(rec)}; process niceness {rec.get('nice', 0)}"
    )


def parity(raw: Dict[str, Any]) -> str:
    """Every artifact (and runtime) of the after-generation deploy dir against PyTorch."""
    rec = raw.get("parity")
    if not rec:
        return _missing("parity.py")
    rows = []
    for a in rec["artifacts"]:
        if a.get("skipped"):
            continue
        mean = sum(a["psnr_vs_torch"]) / len(a["psnr_vs_torch"]) if a["psnr_vs_torch"] else None
        worst = min(a["psnr_vs_torch_min"]) if a["psnr_vs_torch_min"] else None
        drop = max(a["gt_drop"]) if a["gt_drop"] else None
        rows.append(
            [
                a["path"],
                a["warp"],
                f"{a['backend']} {a['precision']}",
                f"{_ms(mean)} / {_ms(worst)} (≥ {a['min_psnr']:g})",
                "—" if drop is None else f"{drop:.3f} (≤ {a['max_gt_drop']:g})",
                a["status"],
            ]
        )
    head = ("artifact", "warp", "runtime", "PSNR vs PyTorch mean / worst (dB)", "worst GT drop (dB)", "result")
    note = f"- {rec['samples']} samples of `{rec['data']}` at {rec['size'][0]}x{rec['size'][1]}, PyTorch reference recomputed; {rec['deploy']}"
    return table(head, rows) + "\n\n" + note


#: ``b2v-edge bench`` and a direct timing agree when their medians are within this fraction.
AGREE_WITHIN = 0.20


def _bench_method(rec: Dict[str, Any]) -> str:
    """How the record's bench runs timed (records made before the bench kept its method say less)."""
    method = rec["bench_runs"][0].get("method")
    commit = f" at {rec['commit']}" if rec.get("commit") else ""
    if method is None:
        return f"bench{commit} without an untimed settling round"
    return (
        f"bench{commit}: {method['rounds']} timed rounds ({method['runs']} runs) after {method['warmup']} warm-up "
        f"runs and {method['settle_rounds']} untimed settling round(s), {method.get('slot_warmup', 0)} untimed "
        "run(s) per row and round"
    )


def bench_vs_direct(raw: Dict[str, Any]) -> str:
    """Each ``b2v-edge bench`` run's median over the mean of the two direct timings bracketing it."""
    records = [(name, raw[name]) for name in sorted(raw) if name.startswith("bench_vs_direct")]
    if not records:
        return _missing("bench_vs_direct.py")
    parts, summary = [], []
    for name, rec in records:
        directs = rec["direct_ms"]
        labels = list(directs[0])
        counts = {"within": 0, "outside": 0, "flagged": 0}
        rows = []
        for i, run in enumerate(rec["bench_runs"]):
            cells = [str(i + 1)]
            for label in labels:
                bracket = (directs[i][label] + directs[i + 1][label]) / 2
                ratio = run[label]["median_ms"] / bracket
                if run[label]["unstable"]:
                    outcome, verdict = "flagged", "unstable (flagged)"
                elif abs(ratio - 1) <= AGREE_WITHIN:
                    outcome, verdict = "within", f"{ratio:.2f}"
                else:
                    outcome, verdict = "outside", f"{ratio:.2f} (outside ±{100 * AGREE_WITHIN:.0f} %)"
                counts[outcome] += 1
                cells.append(f"{run[label]['median_ms']:.1f} / {bracket:.1f} = {verdict}")
            rows.append(cells)
        spread = "; ".join(
            f"{label} {min(d[label] for d in directs):.1f}-{max(d[label] for d in directs):.1f} ms" for label in labels
        )
        head = ["run", *(f"{label}: bench / direct (ms)" for label in labels)]
        note = (
            f"- `{name}.json`: {rec['threads']} thread(s), `{rec['deploy']}`, {_bench_method(rec)}; direct timings "
            f"over the check: {spread}; {_load(rec)}"
        )
        parts.append(table(head, rows) + "\n\n" + note)
        summary.append([f"`{name}.json`", _bench_method(rec), *(str(counts[k]) for k in counts)])
    within = f"within ±{100 * AGREE_WITHIN:.0f} %"
    head = ["record", "bench method", within, "outside", "flagged unstable"]
    return "\n\n".join([table(head, summary), *parts])


# ---- documents ----------------------------------------------------------------------------------
def _threads(raw: Dict[str, Any]) -> List[int]:
    return sorted(int(k.split("-")[1][:-1]) for k in raw if k.startswith("latency-")) or [2]


def readme_block(raw: Dict[str, Any]) -> str:
    """The README's bench block (between the markers): node counts, latency, training step, parity."""
    parts = [
        demo_title(raw),
        demo(raw),
        "ONNX nodes of the dense lite model (N=7, 256x256), before / after frame-batched decoders:",
        node_counts(raw),
    ]
    for t in _threads(raw):
        parts += [f"Latency of the dense lite model, before / after ({t} thread(s)):", latency(raw, t)]
    parts += ["Training step:", train_step(raw), "Parity:", parity(raw)]
    return "\n\n".join(parts)


def results(raw: Dict[str, Any]) -> str:
    """``bench/results.md``: every section."""
    exports = raw.get("exports") or {}
    commits = ", ".join(f"{g} = {v['commit']}" for g, v in (exports.get("generations") or {}).items())
    parts = [
        "# b2v-edge bench results",
        "Generated by `python bench/report.py` from `bench/raw/*.json`; regenerate everything with "
        "`bench/make_all.sh`. Generations: " + (commits or "—") + ".",
        "## The shipped demo model",
        demo(raw),
        "## ONNX node counts",
        node_counts(raw),
        "## Op types (fp32 graphs)",
        op_histogram(raw),
    ]
    for t in _threads(raw):
        parts += [f"## Latency, {t} thread(s)", latency(raw, t)]
    parts += ["## ONNX Runtime op profile", ort_profile(raw), "## Training step", train_step(raw)]
    parts += ["## Parity", parity(raw)]
    parts += ["## `b2v-edge bench` against a direct timing", bench_vs_direct(raw)]
    return "\n\n".join(parts) + "\n"


def with_block(readme: str, block: str) -> str:
    """``readme`` with the text between the bench markers replaced by ``block``."""
    head, sep, rest = readme.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"README.md lacks the {BEGIN} / {END} markers")
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 when the written files are stale")
    args = p.parse_args(argv)
    raw = load_raw()
    want_results = results(raw)
    readme = README.read_text(encoding="utf-8")
    want_readme = with_block(readme, readme_block(raw))
    if args.check:
        stale = [
            n
            for n, ok in (("results.md", RESULTS.read_text() == want_results), ("README.md", readme == want_readme))
            if not ok
        ]
        for name in stale:
            print(f"{name} is stale: run python bench/report.py", file=sys.stderr)
        return 1 if stale else 0
    RESULTS.write_text(want_results, encoding="utf-8")
    README.write_text(want_readme, encoding="utf-8")
    print(f"written: {RESULTS}, {README} (bench block)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
