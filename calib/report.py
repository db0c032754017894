"""Records of a calibration (files, ``calibration*.json``, manifest) and its terminal rendering."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np
import onnx

from b2v_edge.common.atomic import atomic_write_bytes, atomic_write_text
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file

from .plan import DEFAULT_REASONS, EXTRA_REASONS
from .qdq import activation_scales
from .trtcache import write_trt_cache

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from .api import CalibReport

__all__ = ["calibration_record", "render", "write_records"]

RECORD_VERSION = 1


def _ranges_dict(ranges: Any) -> Dict[str, List[float]]:
    if ranges is None:
        return {}
    out = {}
    for name, data in ranges.items():
        lo, hi = data.range_value
        out[name] = [float(np.min(lo)), float(np.max(hi))]
    return out


def calibration_record(report: "CalibReport", qdq: onnx.ModelProto, ranges: Any) -> Dict[str, Any]:
    """The content of ``calibration.json``: settings, samples, coverage, ranges, plan, accuracy."""
    import onnxruntime

    o = report.options
    scales = activation_scales(qdq)
    return {
        "version": RECORD_VERSION,
        "backend": o.backend,
        "target": o.target,
        "method": o.method,
        "percentile": o.percentile if o.method == "percentile" else None,
        "data": o.data,
        "fit": o.fit,
        "activations": "int8 symmetric (zero-point 0)" if o.target == "tensorrt" else "uint8 asymmetric",
        "weights": "int8 symmetric, per output channel",
        "samples": {
            "count": len(report.calib.ids),
            "sample_list_hash": report.calib.sample_hash,
            "ids": report.calib.ids,
            "cache_hit": report.cache_hit,
        },
        "coverage": report.calib.coverage.to_dict(),
        "warnings": report.calib.warnings,
        "evaluation": {"source": report.eval_source, "ids": report.eval_ids, **report.accuracy.to_dict()},
        "precision_plan": {"summary": report.plan.summary(), **report.plan.to_dict()},
        "sensitivity": [vars(s) for s in report.ranking],
        "target_psnr": {"target_db": o.target_psnr, "steps": [{"group": g, "psnr_db": p} for g, p in report.steps]},
        "speed": report.speed,
        "tensorrt_cache_version": report.trt_version,
        "quantized_activations": {k: {"scale": s, "zero_point": z} for k, (s, z) in scales.items()},
        "ranges": _ranges_dict(ranges),
        "onnxruntime_version": onnxruntime.__version__,
        "model_sha256": report.artifact.sha256,
    }


def write_records(
    manifest: Manifest,
    fp32: Artifact,
    qdq: onnx.ModelProto,
    ranges: Any,
    report: "CalibReport",
    names: Tuple[str, str, Optional[str]],
) -> Artifact:
    """Write the Q/DQ graph, ``calibration*.json``, the TensorRT cache; update and save the manifest."""
    model_name, record_name, cache_name = names
    root = manifest.root
    atomic_write_bytes(root / model_name, qdq.SerializeToString())
    record = calibration_record(report, qdq, ranges)
    atomic_write_text(root / record_name, json.dumps(record, indent=1) + "\n")
    files = {"model": model_name, "record": record_name}
    if cache_name is not None and report.trt_version:
        scales = {k: v["scale"] for k, v in record["quantized_activations"].items()}
        write_trt_cache(root / cache_name, scales, report.trt_version)
        files["tensorrt_cache"] = cache_name
    o = report.options
    summary = {
        "files": {k: {"path": v, "sha256": sha256_file(root / v)} for k, v in files.items()},
        "backend": o.backend,
        "method": o.method,
        "data": o.data,
        "samples": len(report.calib.ids),
        "sample_list_hash": report.calib.sample_hash,
        "coverage": report.calib.coverage.to_dict(),
        "precision_plan": report.plan.summary(),
        "evaluation": {
            "source": report.eval_source,
            **{k: v for k, v in report.accuracy.to_dict().items() if not k.startswith("per_frame")},
        },
        "tensorrt_cache_version": report.trt_version,
        "speed": report.speed,
    }
    art = Artifact(
        path=model_name,
        kind="onnx",
        precision="int8",
        sha256=summary["files"]["model"]["sha256"],
        warp=fp32.warp,
        opset=fp32.opset,
        target=fp32.target if o.target == "tensorrt" else "onnxruntime",
        extra={
            "source": fp32.path,
            "calibration": {k: v["path"] for k, v in summary["files"].items()},
            "quant_target": o.target,
            "backend": o.backend,
            "method": o.method,
        },
    )
    manifest.upsert(art)
    manifest.calibration[o.target] = summary
    manifest.save()
    report.files = {k: v["path"] for k, v in summary["files"].items()}
    return art


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


def _render_accuracy(report: "CalibReport", console: "Console") -> None:
    acc = report.accuracy
    line = (
        f"INT8 vs FP32 on {len(report.eval_ids)} held-out input(s) ({report.eval_source}): "
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
