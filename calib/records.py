"""Persistence of a calibration: the INT8 graph, ``calibration*.json``, the TensorRT cache and the manifest entry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np
import onnx

from b2v_edge.common import deploydir
from b2v_edge.common.atomic import atomic_write_bytes, atomic_write_text
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file

from .qdq import activation_scales
from .trtcache import write_trt_cache

if TYPE_CHECKING:  # pragma: no cover
    from .api import CalibReport

__all__ = ["calibration_record", "write_records"]

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
    """Write the Q/DQ graph, ``calibration*.json``, the TensorRT cache and the manifest as one new
    generation of the deploy dir (:func:`b2v_edge.common.deploydir.update`): all of them or none."""
    with deploydir.update(manifest.root) as stage:
        staged = Manifest.load(stage)
        art = _write_records(staged, fp32, qdq, ranges, report, names)
    manifest.artifacts, manifest.calibration = Manifest.load(manifest.root).artifacts, staged.calibration
    return art


def _write_records(
    manifest: Manifest,
    fp32: Artifact,
    qdq: onnx.ModelProto,
    ranges: Any,
    report: "CalibReport",
    names: Tuple[str, str, Optional[str]],
) -> Artifact:
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
