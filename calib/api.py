"""``b2v-edge calibrate``: deploy dir in, calibrated INT8 Q/DQ graph + records out.

:func:`run_calibration` reads ``model.onnx`` from the deploy dir's manifest, builds the calibration
set (stratified by blur, the runtime's preprocessing), computes activation ranges (or re-uses cached
ones), applies the warp-aware precision plan (optionally refined by ``--sensitivity`` /
``--target-psnr``), writes the Q/DQ graph, checks it (zero-point 0 and no Q/DQ into samplers for
TensorRT), measures it against FP32 on held-out data and records everything:

* target ``tensorrt``: ``model.int8.onnx``, ``calibration.json``, ``calibration.cache`` (TensorRT
  8.x implicit-INT8 cache);
* target ``onnxruntime``: ``model.int8.cpu.onnx`` and ``calibration.cpu.json``, plus a measured
  INT8-vs-FP32 latency and the resulting CPU recommendation.

The manifest gets the artifact and a ``calibration[<target>]`` summary (files with sha256, plan,
accuracy, coverage). :func:`quantize_deploy` is the entry point ``b2v-edge export --precision int8``
uses.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import onnx

from b2v_edge.common import deploydir
from b2v_edge.common.manifest import Artifact, Manifest, ManifestError
from b2v_edge.common.metrics import NonFiniteError, require_finite
from b2v_edge.common.trt_version import LINE_RELEASES, TrtVersion
from b2v_edge.common.vocab import PRECISIONS

from . import cache as cache_mod
from .accuracy import Accuracy, EvalSet, GroupScore, accuracy, greedy_exclusion, predict, sensitivity, session
from .dataset import CalibSet, build_eval_set, collect, stream_inputs
from .options import CalibError, CalibOptions
from .plan import SAMPLERS, PrecisionPlan, precision_plan
from .progress import progress_task
from .qdq import nonzero_zero_points, qdq_feeding
from .quantize import compute_ranges, load_ranges, op_types_for, quantize_modelopt, quantize_ort, save_ranges
from .readers import Reader, make_reader

__all__ = ["CalibReport", "quantize_deploy", "run_calibration"]

log = logging.getLogger("b2v_edge.calib")

OUTPUT_NAMES = {
    "tensorrt": (PRECISIONS["int8"].onnx_name, "calibration.json", "calibration.cache"),
    "onnxruntime": (PRECISIONS["int8"].cpu_onnx_name, "calibration.cpu.json", None),
}
NEVER_INT8 = ("warp", "coordinates", "deconvolution")


@dataclass
class FP32Model:
    """The deploy dir's FP32 graph."""

    artifact: Artifact
    path: Path
    proto: onnx.ModelProto
    size: Tuple[int, int]
    frames: int


@dataclass
class CalibReport:
    """Everything one calibration produced (rendered by the CLI, stored in ``calibration*.json``)."""

    artifact: Artifact
    options: CalibOptions
    calib: CalibSet
    plan: PrecisionPlan
    accuracy: Accuracy
    eval_ids: List[str]
    eval_source: str
    cache_hit: bool
    seconds: float
    files: Dict[str, str] = field(default_factory=dict)
    ranking: List[GroupScore] = field(default_factory=list)
    steps: List[Tuple[Optional[str], float]] = field(default_factory=list)
    speed: Optional[Dict[str, Any]] = None
    trt_version: Optional[str] = None


def _fp32_model(manifest: Manifest) -> FP32Model:
    try:
        art = manifest.get("onnx", "fp32")
    except ManifestError as exc:
        raise CalibError(f"{manifest.root} has no FP32 ONNX artifact to calibrate: {exc}") from exc
    manifest.verify(art)
    path = manifest.path_of(art)
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # DecodeError and friends: protobuf's own types
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise CalibError(f"{art.path} is not a readable ONNX model ({first}); re-export it") from exc
    if len(proto.graph.input) != 1 or len(proto.graph.output) < 1:
        raise CalibError(
            f"{art.path} has {len(proto.graph.input)} input(s) and {len(proto.graph.output)} output(s): "
            "not a b2v-edge model (one blurred [1,3,H,W] input, frames [1,N,3,H,W] output); re-export it"
        )
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in proto.graph.input[0].type.tensor_type.shape.dim]
    out = [d.dim_value if d.HasField("dim_value") else 0 for d in proto.graph.output[0].type.tensor_type.shape.dim]
    if len(out) != 5:
        raise CalibError(f"{art.path}: output shape {out} is not [1,N,3,H,W]; not a b2v-edge model, re-export it")
    if len(dims) != 4 or not dims[2] or not dims[3]:
        raise CalibError(
            f"{art.path} has a dynamic input size {dims}: calibrate a static-shape export "
            "(b2v-edge export without --dynamic)"
        )
    frames = int(out[1]) if len(out) == 5 and out[1] else int(manifest.model.get("frames", 0) or 0)
    if frames < 1:
        raise CalibError(f"{art.path}: cannot tell the number of output frames from {out}")
    counts = Counter(n.name for n in proto.graph.node)
    for i, node in enumerate(proto.graph.node):  # the plan and the quantizer address nodes by name
        if not node.name or counts[node.name] > 1:
            node.name = f"b2v_node_{i}"
    return FP32Model(art, path, proto, (int(dims[2]), int(dims[3])), frames)


def _ranges(model: FP32Model, reader: Reader, opts: CalibOptions, key: Optional[str]) -> Tuple[Any, CalibSet, bool]:
    """Cached ``(ranges, calibration set, True)`` or freshly computed ones (stored in the cache)."""
    cache_dir = opts.cache_dir or cache_mod.default_cache_dir()
    entry = cache_mod.read_entry(cache_dir, key) if key and opts.use_cache else None
    if entry is not None:
        try:
            return load_ranges(entry[1]), CalibSet.from_cache(entry[0]), True
        except Exception as exc:  # a damaged entry is a cache miss: computed again and overwritten
            log.warning("calibration cache entry %s is damaged (%s): computing the ranges again", key, exc)
    calib = collect(reader, opts, model.size)
    inputs = stream_inputs(reader, calib, model.size, opts.fit)
    with progress_task("calibrating activation ranges", opts.samples, opts.progress) as advance:
        ranges = compute_ranges(
            model.path, model.proto.graph.input[0].name, inputs, opts.method, opts.percentile, opts.target, advance
        )
    if key:
        save_ranges(ranges, cache_mod.ranges_path(cache_dir, key))
        cache_mod.write_entry(cache_dir, key, calib.to_cache())
    return ranges, calib, False


def _finite(outputs: List[np.ndarray], what: str) -> List[np.ndarray]:
    """``outputs`` when every value is finite, else a CalibError (a broken model is never calibrated)."""
    try:
        for out in outputs:
            require_finite(out, f"{what} on the evaluation inputs")
    except NonFiniteError as exc:
        raise CalibError(f"{exc}; nothing was written") from exc
    return outputs


def _float_ops(target: str, trt_version: str) -> Tuple[str, ...]:
    """Op types kept out of INT8 for this TensorRT: ConvTranspose on 8.x (per-input-channel kernels)."""
    if target == "tensorrt" and not TrtVersion.parse(trt_version).int8_deconvolution:
        return ("ConvTranspose",)
    return ()


def _quantizable(nodes: List[str], ops: List[str], op_of: Dict[str, str]) -> bool:
    return any(op_of.get(n) in ops for n in nodes)


def _refine_plan(
    model: FP32Model, ranges: Any, plan: PrecisionPlan, opts: CalibOptions, data: EvalSet, ref: List[np.ndarray]
) -> Tuple[PrecisionPlan, List[GroupScore], List[Tuple[Optional[str], float]]]:
    """``--sensitivity`` ranking and ``--target-psnr`` greedy exclusion (plan unchanged without them)."""
    if not opts.sensitivity:
        return plan, [], []
    never = [n for r in NEVER_INT8 for n in plan.excluded.get(r, [])]
    full = quantize_ort(model.proto, ranges, never, opts.target)
    ops, op_of = op_types_for(opts.target), {n.name: n.op_type for n in model.proto.graph.node}
    candidates = {g: "int8" for g, nodes in plan.groups.items() if _quantizable(nodes, ops, op_of)}
    candidates.update(
        {r: r for r, nodes in plan.excluded.items() if r not in NEVER_INT8 and _quantizable(nodes, ops, op_of)}
    )
    with progress_task("sensitivity per node group", len(candidates), opts.progress) as advance:
        ranking = sensitivity(full, model.proto, plan, candidates, ref, data, advance)
    if opts.target_psnr is None:
        return plan, ranking, []
    with progress_task(f"excluding groups until {opts.target_psnr:g} dB", None, opts.progress) as advance:
        plan, steps = greedy_exclusion(full, model.proto, plan, ranking, opts.target_psnr, ref, data, advance)
    return plan, ranking, steps


def _quantize(
    model: FP32Model, reader: Reader, calib: CalibSet, ranges: Any, plan: PrecisionPlan, opts: CalibOptions
) -> onnx.ModelProto:
    if opts.backend != "modelopt":
        return quantize_ort(model.proto, ranges, plan.float_nodes(), opts.target)
    inputs = np.concatenate(list(stream_inputs(reader, calib, model.size, opts.fit)), axis=0)
    with tempfile.TemporaryDirectory(prefix="b2v-modelopt-") as tmp:
        return quantize_modelopt(model.path, Path(tmp) / "int8.onnx", inputs, opts.method, plan.float_nodes())


def _check(qdq: onnx.ModelProto, target: str) -> None:
    feeding = qdq_feeding(qdq, SAMPLERS)
    if feeding:
        raise CalibError(f"internal error: Q/DQ {feeding[0][1]} feeds sampler {feeding[0][0]}")
    bad = nonzero_zero_points(qdq) if target == "tensorrt" else []
    if bad:
        raise CalibError(f"internal error: {len(bad)} Q/DQ node(s) with a non-zero zero-point, e.g. {bad[0]}")


def _speed(model: FP32Model, qdq: onnx.ModelProto, acc: Accuracy, x: np.ndarray, runs: int) -> Dict[str, Any]:
    """ORT CPU latency of FP32 vs INT8 and the CPU recommendation (INT8 only if faster at <= 0.5 dB)."""
    from .accuracy import latency_ms

    fp32_ms, int8_ms = latency_ms(str(model.path), x, runs), latency_ms(qdq, x, runs)
    speedup = fp32_ms / int8_ms if int8_ms > 0 else 0.0
    drop = acc.gt_drop
    bar = PRECISIONS["int8"]
    accurate = drop <= bar.max_gt_drop_db if drop is not None else acc.mean_vs_fp32 >= bar.min_psnr_db
    faster = speedup >= 1.05
    recommended = "int8" if faster and accurate else "fp32"
    why = f"INT8 runs at {speedup:.2f}x the speed of FP32" + (
        f" at {drop:+.2f} dB vs ground truth" if drop is not None else f" at {acc.mean_vs_fp32:.1f} dB vs FP32"
    )
    if recommended == "fp32":
        why += "; keep FP32 as the CPU default" + ("" if faster else " (INT8 is not faster on this CPU)")
    return {
        "fp32_ms": round(fp32_ms, 2),
        "int8_ms": round(int8_ms, 2),
        "speedup": round(speedup, 3),
        "recommended": recommended,
        "reason": why,
        "runs": runs,
    }


def run_calibration(deploy_dir: Union[str, Path], options: CalibOptions) -> CalibReport:
    """Calibrate the deploy dir's FP32 graph to INT8 Q/DQ and record the result (see module doc).

    Raises:
        CalibError: bad options or data, missing FP32 artifact, failed checks (one line each).
        ManifestError: no or unreadable manifest.
    """
    start, opts = time.perf_counter(), options
    root = Manifest.load(deploy_dir).root  # "no manifest" before the lock creates anything
    with deploydir.writer_lock(root):  # a second writer is refused now, not after the work
        return _calibrate(Manifest.load(root), opts, start)


def _calibrate(manifest: Manifest, opts: CalibOptions, start: float) -> CalibReport:
    from .records import write_records

    model = _fp32_model(manifest)
    reader = make_reader(opts, model.size, model.frames)
    fingerprint = cache_mod.data_fingerprint(opts) if opts.backend == "onnxruntime" else None
    key = (
        cache_mod.cache_key(model.artifact.sha256, fingerprint, opts, model.size, model.frames) if fingerprint else None
    )
    if opts.backend == "modelopt":
        ranges, calib, hit = None, collect(reader, opts, model.size), False
    else:
        ranges, calib, hit = _ranges(model, reader, opts, key)
    data, source = build_eval_set(reader, calib, opts, model.size)
    ref = _finite(predict(session(str(model.path)), data.inputs), f"{model.artifact.path}'s outputs")
    trt_version = opts.trt_version or LINE_RELEASES.get(str(model.artifact.target), LINE_RELEASES["trt8.5"])
    plan0 = precision_plan(model.proto, opts.exclude, float_ops=_float_ops(opts.target, trt_version))
    plan, ranking, steps = _refine_plan(model, ranges, plan0, opts, data, ref)
    qdq = _quantize(model, reader, calib, ranges, plan, opts)
    _check(qdq, opts.target)
    acc = accuracy(ref, _finite(predict(session(qdq), data.inputs), "the INT8 graph's outputs"), data)
    speed = _speed(model, qdq, acc, data.inputs[0], opts.speed_runs) if opts.target == "onnxruntime" else None
    report = CalibReport(
        model.artifact,
        opts,
        calib,
        plan,
        acc,
        data.ids,
        source,
        hit,
        0.0,
        ranking=ranking,
        steps=steps,
        speed=speed,
        trt_version=trt_version if opts.target == "tensorrt" else None,
    )
    report.artifact = write_records(manifest, model.artifact, qdq, ranges, report, OUTPUT_NAMES[opts.target])
    report.seconds = time.perf_counter() - start
    return report


def quantize_deploy(deploy_dir: Union[str, Path], options: Optional[CalibOptions] = None) -> Artifact:
    """Write the INT8 Q/DQ graph of ``deploy_dir`` and update its manifest; returns the new artifact."""
    opts = options if options is not None else replace(CalibOptions(), progress=False)
    return run_calibration(deploy_dir, opts).artifact
