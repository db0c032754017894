"""Terminal rendering of a :class:`~b2v_edge.calib.api.CalibReport` (rich tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

import numpy as np

from .plan import DEFAULT_REASONS, EXTRA_REASONS

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from .api import CalibReport

__all__ = ["render"]


def _table(title: str, columns: List[str]) -> Any:
    from rich.table import Table

    table = Table(title=f"[bold]{title}[/]", title_justify="left", show_edge=False, min_width=len(title) + 2)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    return table


def render(report: "CalibReport", console: "Console") -> None:
    """Print coverage, precision plan, accuracy (per frame), sensitivity and speed."""
    cov = report.calib.coverage
    table = _table(f"calibration samples by blur ({cov.metric}, higher = blurrier)", ["stratum", "available", "used"])
    for s in cov.strata:
        table.add_row(f"{s.lo:8.3f} .. {s.hi:8.3f}", str(s.available), str(s.selected))
    console.print(table)
    for warning in report.calib.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    plan = _table("kept in float (precision plan)", ["reason", "nodes"])
    text = {**DEFAULT_REASONS, **EXTRA_REASONS}
    for row in report.plan.summary():
        plan.add_row(text.get(str(row["reason"]), str(row["reason"])), str(row["nodes"]))
    console.print(plan)
    _render_sensitivity(report, console)
    _render_accuracy(report, console)
    if report.speed:
        s = report.speed
        console.print(
            f"ONNX Runtime CPU latency: FP32 {s['fp32_ms']:.1f} ms, INT8 {s['int8_ms']:.1f} ms "
            f"({s['speedup']:.2f}x) -> recommended: [bold]{s['recommended']}[/] ({s['reason']})"
        )
    hit = " (cached ranges)" if report.cache_hit else ""
    console.print(f"wrote {', '.join(report.files.values())} in {report.seconds:.1f} s{hit}")


def _render_sensitivity(report: "CalibReport", console: "Console") -> None:
    if not report.ranking:
        return
    table = _table(
        "sensitivity: INT8-vs-FP32 PSNR with only this group quantized", ["group", "nodes", "PSNR dB", "default"]
    )
    for s in report.ranking:
        table.add_row(s.group, str(s.nodes), f"{s.psnr_db:.2f}", s.default)
    console.print(table)
    for group, value in report.steps:
        console.print(f"  target-psnr: {'start' if group is None else 'float ' + group}: {value:.2f} dB")


def _what(source: str) -> str:
    """What the INT8 accuracy was measured on (calibration frames are not an independent check)."""
    if source == "calibration":
        return "calibration input(s) (no frame was left over: not an independent check)"
    return f"held-out input(s) ({source})"


def _render_accuracy(report: "CalibReport", console: "Console") -> None:
    acc = report.accuracy
    line = (
        f"INT8 vs FP32 on {len(report.eval_ids)} {_what(report.eval_source)}: "
        f"mean {acc.mean_vs_fp32:.2f} dB, min {acc.min_vs_fp32:.2f} dB"
    )
    has_gt = acc.gt_fp32 is not None and acc.gt_int8 is not None
    if has_gt:
        line += (
            f"; vs ground truth FP32 {np.mean(acc.gt_fp32):.2f} dB, INT8 {np.mean(acc.gt_int8):.2f} dB "
            f"(drop {acc.gt_drop:+.2f} dB)"
        )
    console.print(line)
    frames = len(acc.vs_fp32[0]) if acc.vs_fp32 else 0
    table = _table(
        f"per-frame-position PSNR dB, mean over {len(acc.vs_fp32)} input(s)", ["row"] + [f"f{k}" for k in range(frames)]
    )
    means = {"INT8 vs FP32": np.mean(acc.vs_fp32, axis=0)}
    if has_gt:
        means.update({"FP32 vs GT": np.mean(acc.gt_fp32, axis=0), "INT8 vs GT": np.mean(acc.gt_int8, axis=0)})
    for name, values in means.items():
        table.add_row(name, *(f"{v:.2f}" for v in values))
    if has_gt:
        table.add_row("GT drop (FP32 - INT8)", *(f"{v:+.2f}" for v in means["FP32 vs GT"] - means["INT8 vs GT"]))
    console.print(table)
