"""Render parity results: ``report.json`` (schema-versioned), ``report.md``, a self-contained
``report.html`` (per-frame-position PSNR plot and image strips embedded as base64 PNGs) and the
terminal table, plus the markdown table of ``b2v-edge bench``; the figures come from
:mod:`~b2v_edge.verify.figures`.

One row builder (:func:`summary_table`) feeds the JSON ``summary_table``, the markdown and HTML
tables and the CLI's rich table (which shows a subset of the columns). Rendering only: every number
comes from :class:`~b2v_edge.verify.compare.ParityReport` / :class:`~b2v_edge.verify.bench.BenchReport`.
Frame positions are 1-based in every report. The PSNR plot needs matplotlib (``b2v-edge[report]``);
without it the HTML report says so and keeps everything else.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.atomic import atomic_write_text

from .figures import image_strip, psnr_plot_png

__all__ = [
    "BENCH_TERMINAL_HEAD",
    "SUMMARY_HEAD",
    "TERMINAL_COLUMNS",
    "bench_ratio_lines",
    "bench_rows",
    "bench_terminal_rows",
    "render_bench_markdown",
    "render_html",
    "render_json",
    "render_markdown",
    "summary_table",
    "write_reports",
]


def _clean(value: Any) -> Any:
    """Replace NaN/Inf (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def render_json(report: Any) -> str:
    """``report.to_dict()`` plus the summary table, as indented JSON (NaN/Inf written as null)."""
    head, rows = summary_table(report)
    data = {**report.to_dict(), "summary_table": {"columns": head, "rows": rows}}
    return json.dumps(_clean(data), indent=2, allow_nan=False) + "\n"


# ---- shared table data --------------------------------------------------------------------------
def _f(value: Optional[float], digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{round(value, digits) + 0.0:.{digits}f}"  # + 0.0: no "-0.000"


def _summary_rows(report: Any) -> List[List[str]]:
    """One row per artifact, the columns of :data:`SUMMARY_HEAD`."""
    rows = []
    for a in report.artifacts:
        if a.skipped or a.error:
            rows.append([a.path, a.precision, a.backend or "—", *["—"] * 6, a.status + f": {a.skipped or a.error}"])
            continue
        gt = f"{_f(float(np.mean(a.psnr_gt)))} / {_f(float(np.mean(report.reference.psnr_gt)))}" if a.psnr_gt else "—"
        drop = f"{_f(max(a.gt_drop), 3)} (≤ {a.max_gt_drop:g})" if a.gt_drop else "—"
        rows.append(
            [
                a.path,
                a.precision,
                f"{a.backend}/{a.provider.replace('ExecutionProvider', '')}",
                f"{_f(float(np.mean(a.psnr_vs_torch)))} / {_f(min(a.psnr_vs_torch_min))} (≥ {a.min_psnr:g})",
                _f(float(np.mean(a.ssim_vs_torch)), 5) if a.ssim_vs_torch else "—",
                f"{max(a.max_abs_err):.2e}",
                gt,
                drop,
                f"{a.seconds:.1f} s",
                a.status if a.passed else f"FAIL (frames {', '.join(map(str, a.failing_positions)) or '—'})",
            ]
        )
    return rows


SUMMARY_HEAD = [
    "artifact",
    "precision",
    "backend",
    "PSNR vs PyTorch mean / worst (dB)",
    "SSIM vs PyTorch",
    "max abs err",
    "PSNR vs GT engine / PyTorch",
    "worst GT drop (dB)",
    "time",
    "result",
]
#: The columns of the terminal table (a subset: it has to fit a console).
TERMINAL_COLUMNS = ("artifact", "precision", "PSNR vs PyTorch mean / worst (dB)", "worst GT drop (dB)", "result")


def summary_table(report: Any, columns: Optional[Sequence[str]] = None) -> Tuple[List[str], List[List[str]]]:
    """``(header, rows)`` of the per-artifact summary, one row per artifact in manifest order.

    Args:
        report: a :class:`~b2v_edge.verify.compare.ParityReport`.
        columns: names from :data:`SUMMARY_HEAD` to keep (None = all), in the given order.
    """
    rows = _summary_rows(report)
    if columns is None:
        return list(SUMMARY_HEAD), rows
    index = [SUMMARY_HEAD.index(c) for c in columns]
    return list(columns), [[row[i] for i in index] for row in rows]


def _position_tables(report: Any) -> List[tuple]:
    """(title, header, rows) of the per-frame-position tables."""
    head = ["row"] + [f"frame {k + 1}" for k in range(report.frames)]
    checked = [a for a in report.artifacts if a.psnr_vs_torch]
    tables = [
        (
            "Engine vs PyTorch PSNR per frame position (dB, mean over samples)",
            head,
            [[a.path] + [_f(v) for v in a.psnr_vs_torch] for a in checked],
        )
    ]
    if report.has_gt:
        rows = [["PyTorch (reference)"] + [_f(v) for v in report.reference.psnr_gt]]
        rows += [[a.path] + [_f(v) for v in a.psnr_gt] for a in checked if a.psnr_gt]
        rows += [[f"GT drop {a.path}"] + [_f(v, 3) for v in a.gt_drop] for a in checked if a.gt_drop]
        tables.append(("PSNR vs ground truth per frame position (dB, order-aware)", head, rows))
    return tables


def _headline(report: Any) -> str:
    verdict = "PASS" if report.passed else "FAIL"
    ref = Path(report.reference.checkpoint).name
    how = "stored at export" if report.reference.origin == "stored" else "recomputed"
    return (
        f"**{verdict}** — {len(report.checked)} of {len(report.artifacts)} artifacts checked on {report.count} "
        f"samples of `{report.data}` ({report.size[0]}x{report.size[1]}, N={report.frames}); PyTorch reference "
        f"`{ref}`, {how} (sha256 {report.reference.sha256[:12]}…)"
    )


def _env_rows(env: Dict[str, Any]) -> List[List[str]]:
    backends = ", ".join(f"{b}: {p}" for b, p in env.get("backends", {}).items()) or "—"
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    return [
        ["backends", backends],
        ["ORT providers available", ", ".join(env.get("ort_providers_available", []))],
        ["versions", versions],
        ["python", str(env.get("python", ""))],
        ["platform", str(env.get("platform", ""))],
        ["CPU", f"{env.get('cpu', '?')} ({env.get('cpu_cores', '?')} cores, load average {env.get('load_average')})"],
        ["GPU", str(env.get("gpu", ""))],
    ]


# ---- markdown -----------------------------------------------------------------------------------
def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, head)) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(report: Any) -> str:
    """Tables a reviewer can paste into a PR."""
    parts = [
        f"# Parity report: {report.deploy_dir}",
        "",
        _headline(report),
        "",
        _md_table(*summary_table(report)),
    ]
    for title, head, rows in _position_tables(report):
        parts += ["", f"## {title}", "", _md_table(head, rows)]
    if not report.passed:
        parts += ["", "## Failures", ""] + [f"- {line}" for line in report.failures()]
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    parts += ["", "## Environment", "", _md_table(["", ""], _env_rows(report.environment)), ""]
    return "\n".join(parts)


def _png_b64(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


# ---- HTML ---------------------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 18px;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td{white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}.pass{color:#137333;font-weight:600}
.fail{color:#c5221f;font-weight:600}.skipped{color:#777}img{max-width:100%;border:1px solid #ddd}
.verdict{font-size:18px;padding:8px 12px;border-radius:6px;display:inline-block}
.verdict.pass{background:#e6f4ea}.verdict.fail{background:#fce8e6}figure{margin:10px 0 22px}figcaption{font-size:13px;color:#444}"""


def _plot_html(report: Any) -> str:
    try:
        png = psnr_plot_png(report)
    except ImportError:
        return "<p class='skipped'>The plot needs matplotlib: pip install 'b2v-edge[report]'.</p>"
    return f"<img alt='PSNR per frame position' src='{_png_b64(png)}'>"


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], status_col: Optional[int] = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = ""
            if i == status_col:
                cls = " class='" + ("pass" if c == "pass" else "skipped" if c.startswith("skipped") else "fail") + "'"
            cells.append(f"<td{cls}>{html.escape(str(c))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def _strips_html(report: Any) -> List[str]:
    parts = [
        "<h2>Worst samples</h2><p>Per artifact, the samples with the lowest engine-vs-PyTorch PSNR at their "
        "worst frame position: input / PyTorch / engine / amplified |engine − PyTorch| / ground truth.</p>"
    ]
    for a in report.artifacts:
        if not a.worst:
            continue
        parts.append(f"<h3>{html.escape(a.path)} ({a.precision})</h3>")
        for wc in a.worst:
            src = _png_b64(image_strip(wc.images, a.precision))
            cap = f"sample {wc.sample}, frame position {wc.position + 1}: PSNR vs PyTorch {wc.psnr:.2f} dB"
            parts.append(
                f"<figure><img alt='{html.escape(cap)}' src='{src}'><figcaption>{html.escape(cap)}</figcaption></figure>"
            )
    return parts


def render_html(report: Any) -> str:
    """One self-contained HTML page (no external files or scripts)."""
    md_bold = _headline(report).split("**")
    verdict = "pass" if report.passed else "fail"
    head = f"<span class='verdict {verdict}'>{html.escape(md_bold[1])}</span>{html.escape(md_bold[2]).replace('`', '')}"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>b2v-edge parity: {html.escape(report.deploy_dir)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Parity report: {html.escape(report.deploy_dir)}</h1><p>{head}</p>",
        _html_table(*summary_table(report), status_col=len(SUMMARY_HEAD) - 1),
    ]
    if not report.passed:
        parts.append(
            "<h2>Failures</h2><ul>"
            + "".join(f"<li class='fail'>{html.escape(f)}</li>" for f in report.failures())
            + "</ul>"
        )
    if any(a.psnr_vs_torch for a in report.artifacts):
        parts.append("<h2>PSNR per frame position</h2>" + _plot_html(report))
    for title, thead, rows in _position_tables(report):
        parts += [f"<h3>{html.escape(title)}</h3>", _html_table(thead, rows)]
    parts += _strips_html(report)
    if report.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes) + "</ul>")
    parts += [
        "<h2>Environment</h2>",
        _html_table(["", ""], _env_rows(report.environment)),
        f"<p style='color:#777;font-size:12px'>schema {report.schema_version}, created {html.escape(report.created)}</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_reports(report: Any, out_dir: Union[str, Path]) -> Dict[str, Path]:
    """Atomically write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write_text(paths["json"], render_json(report))
    atomic_write_text(paths["md"], render_markdown(report))
    atomic_write_text(paths["html"], render_html(report))
    return paths


# ---- bench --------------------------------------------------------------------------------------
BENCH_HEAD = [
    "size",
    "row",
    "file (MB)",
    "PSNR vs GT",
    "PSNR vs PyTorch",
    "latency median (p10-p90) ms",
    "median 95% CI",
    "FPS",
    "peak RSS (MB)",
    "GFLOP/s (of GEMM)",
    "stream FPS (/ infer)",
]
#: The terminal table: the columns that fit 80 characters (markdown and JSON have them all).
BENCH_TERMINAL_HEAD = ["row", "median ms", "p10-p90", "95% CI", "FPS", "vs PyTorch"]


def _median_ci(r: Any) -> str:
    """How precisely the median is known: the half-width of its 95 % confidence interval."""
    if r.uncertainty is None:
        return "—"
    return f"±{100 * r.uncertainty:.0f} %" + (" unstable" if r.unstable else "")


def bench_rows(report: Any) -> List[List[str]]:
    """Display rows of a bench report with every column (markdown)."""
    rows = []
    for r in report.rows:
        size = f"{r.size[0]}x{r.size[1]}"
        if r.skipped:
            rows.append([size, r.label, _f(r.file_mb), "—", "—", f"skipped: {r.skipped}", "—", "—", "—", "—", "—"])
            continue
        gf = f"{_f(r.gflops_per_s, 1)} ({_f(100 * r.ceiling_fraction, 0)} %)" if r.gflops_per_s else "—"
        stream = f"{_f(r.stream_fps, 1)} ({_f(r.stream_fps / r.fps, 2)})" if r.stream_fps else "—"
        latency = f"{_f(r.median_ms, 1)} ({_f(r.p10_ms, 1)}-{_f(r.p90_ms, 1)})"
        rows.append(
            [
                size,
                r.label,
                _f(r.file_mb),
                _f(r.psnr_gt),
                _f(r.psnr_torch),
                latency,
                _median_ci(r),
                _f(r.fps, 2),
                _f(r.peak_mb, 0),
                gf,
                stream,
            ]
        )
    return rows


def bench_terminal_rows(report: Any) -> List[List[str]]:
    """Rows of :data:`BENCH_TERMINAL_HEAD` (the size joins the row label when there are several)."""
    several = len({r.size for r in report.rows}) > 1
    rows = []
    for r in report.rows:
        label = f"{r.label} {r.size[0]}x{r.size[1]}" if several else r.label
        if r.skipped:
            rows.append([label, "—", f"skipped: {r.skipped}"[:40], "", "", ""])
            continue
        rows.append(
            [
                label,
                _f(r.median_ms, 1),
                f"{_f(r.p10_ms, 1)}-{_f(r.p90_ms, 1)}",
                _median_ci(r),
                _f(r.fps, 2),
                "—" if r.psnr_torch is None else f"{_f(r.psnr_torch)} dB",
            ]
        )
    return rows


def bench_ratio_lines(report: Any) -> List[str]:
    """One line per measured ratio (value and the medians behind it, or why there is none)."""
    return [
        f"{ratio.name}: {_f(ratio.value)}x ({ratio.note})" if ratio.value is not None else f"{ratio.name}: {ratio.note}"
        for ratio in report.ratios
    ]


def render_bench_markdown(report: Any) -> str:
    """The bench table, model GFLOPs, GEMM ceiling, measured ratios and notes as markdown."""
    parts = [_md_table(BENCH_HEAD, bench_rows(report)), ""]
    for size, g in report.gflops.items():
        parts.append(f"- model: {g:.2f} GFLOPs per {size} input (torch.utils.flop_counter; warps not counted)")
    parts.append(f"- fp32 GEMM ceiling ({report.gemm_size}² matmul, torch): {report.gemm_gflops:.1f} GFLOP/s")
    parts += [f"- {line}" for line in bench_ratio_lines(report)]
    parts += [f"- {n}" for n in report.notes]
    env = report.environment
    parts.append(
        f"- CPU: {env.get('cpu', '?')} ({env.get('cpu_cores', '?')} cores); "
        + ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    )
    return "\n".join(parts) + "\n"
