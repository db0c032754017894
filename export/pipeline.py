"""The export pipeline: checkpoint -> verified, linted ONNX graphs in a deploy dir with a manifest.

Steps (each one function): torch.onnx.export (dynamo, opset per target) -> tag warp-geometry nodes ->
onnx.checker (full) + shape inference -> onnxsim (fallback: unsimplified) -> target lint ->
ORT-vs-PyTorch verification -> FP16 graph (kept-fp32 list) -> lint + verification -> reference set
(inputs, PyTorch outputs, ground truth for torch-free parity) -> publish + manifest -> INT8 via
``b2v_edge.calib`` -> TensorRT plan -> Triton repository.

Everything up to INT8 is written into one staged generation of the deploy dir
(:mod:`b2v_edge.common.deploydir`) and committed in one step: a failed, interrupted or killed export
leaves the previous deploy dir as it was, and a NaN checkpoint is refused before anything is built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import onnx

from b2v_edge.common import deploydir
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file
from b2v_edge.common.metrics import NonFiniteError, require_finite
from b2v_edge.verify.reference import (
    MANIFEST_KEY,
    REFERENCE_NAME,
    ReferenceSet,
    build_reference_set,
    record_reference_set,
)

from . import deploy
from .fp16 import Fp16Result, convert_fp16
from .graph import check_model, io_spec, op_counts, simplify
from .lint import LintReport, ensure_lint
from .numerics import Verification, compare, make_inputs, ort_outputs, torch_outputs, verification_shapes
from .onnx_export import ALIGN, ExportError, export_onnx, load_onnx, save_onnx
from .options import ExportOptions
from .roles import copy_roles, tag_roles

Log = Callable[[str], None]


@dataclass
class GraphBuild:
    """One staged ONNX graph and what its steps found."""

    precision: str
    path: Path
    model: onnx.ModelProto
    lint: LintReport
    verification: Verification
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportResult:
    """What :func:`run_export` produced (the manifest is already saved)."""

    deploy_dir: Path
    manifest: Manifest
    artifacts: List[Artifact]
    verifications: Dict[str, Verification]
    messages: List[str]
    seconds: float
    cpu_seconds: float = 0.0

    def artifact(self, precision: str, kind: str = "onnx") -> Artifact:
        """The exported artifact of ``precision`` (``ManifestError`` when it was not exported)."""
        return self.manifest.get(kind, precision)


@dataclass
class _Context:
    options: ExportOptions
    model: Any
    reference: List[Any]
    inputs: List[Any]
    staging: Path
    log: Log
    messages: List[str] = field(default_factory=list)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _verify(ctx: _Context, path: Path, precision: str) -> Verification:
    try:
        result = compare(ctx.reference, ort_outputs(path, ctx.inputs), precision, ctx.options.min_psnr[precision])
    except Exception as exc:  # ORT load/run failures carry long C++ messages: one line is enough
        raise ExportError(f"{path.name} does not run in ONNX Runtime: {_first_line(exc)}") from exc
    ctx.log(f"{path.name}: ORT vs PyTorch max |err| {result.max_abs_err:.2e}, PSNR {result.psnr_db:.1f} dB")
    if not result:
        raise ExportError(
            f"{path.name} disagrees with PyTorch: PSNR {result.psnr_db:.1f} dB < {result.min_psnr_db:.0f} dB "
            f"(max |err| {result.max_abs_err:.3g}); the graph is not exported correctly"
        )
    return result


def _check(model: onnx.ModelProto, label: str) -> onnx.ModelProto:
    try:
        return check_model(model)
    except Exception as exc:  # ValidationError / InferenceError
        raise ExportError(f"{label} fails onnx.checker / shape inference: {_first_line(exc)}") from exc


def build_fp32(ctx: _Context) -> GraphBuild:
    """Export, tag, check, simplify, lint, save and verify ``model.onnx``."""
    opts = ctx.options
    ctx.log(
        f"exporting ONNX (dynamo, opset {opts.opset}, warp {opts.warp}, {'dynamic' if opts.dynamic else 'static'} shape)"
    )
    raw_path = export_onnx(
        ctx.model,
        ctx.staging / "raw.onnx",
        opts.height,
        opts.width,
        _trace_batch(opts),
        opts.dynamic,
        opts.opset,
        opts.warp,
    )
    model = load_onnx(raw_path)
    raw_path.unlink()
    tag_roles(model)
    model = _check(model, "the exported graph")
    extra: Dict[str, Any] = {}
    if opts.simplify:
        result = simplify(model, [opts.batch, 3, opts.height, opts.width] if opts.dynamic else None)
        ctx.log(result.message)
        if result.simplified:
            copy_roles(result.model, model)
            model = _check(result.model, "the simplified graph")
        else:  # a success is in the log; a kept unsimplified graph is worth a note
            ctx.messages.append(result.message)
        extra.update(simplified=result.simplified, simplify=result.message)
    return _finish(ctx, model, "fp32", extra)


def _trace_batch(opts: ExportOptions) -> int:
    # torch.export specialises a size-1 dim: trace a dynamic batch with 2
    return max(2, opts.batch) if opts.dynamic else opts.batch


def _finish(ctx: _Context, model: onnx.ModelProto, precision: str, extra: Dict[str, Any]) -> GraphBuild:
    name = deploy.ONNX_NAMES[precision]
    report = ensure_lint(model, ctx.options.target, name)
    for finding in report.warnings:
        ctx.messages.append(f"lint warning: {finding}")
    path = save_onnx(model, ctx.staging / name)
    verification = _verify(ctx, path, precision)
    extra.update(
        nodes=len(model.graph.node),
        ops=op_counts(model),
        lint=report.to_dict(),
        verification=verification.to_dict(),
        tools=deploy.tool_versions(),
    )
    return GraphBuild(precision, path, model, report, verification, extra)


def build_fp16(ctx: _Context, fp32: GraphBuild) -> GraphBuild:
    """Convert ``model.onnx`` to ``model.fp16.onnx`` keeping warp geometry fp32; lint and verify it."""
    ctx.log("converting to FP16 (float32 I/O, warp geometry kept in float32)")
    try:
        result: Fp16Result = convert_fp16(fp32.model, ctx.options.fp16_tool)
    except RuntimeError as exc:
        raise ExportError(f"FP16 conversion failed: {_first_line(exc)}") from exc
    model = _check(result.model, "the fp16 graph")
    ctx.log(f"fp16: kept {len(result.kept_fp32)}/{result.total_nodes} nodes in fp32 {result.kept_by_role}")
    return _finish(ctx, model, "fp16", {"source": fp32.path.name, "fp16": result.summary()})


def build_reference(ctx: _Context, ckpt: Any) -> Optional[Tuple[Path, ReferenceSet]]:
    """Stage ``reference.npz``: the PyTorch outputs of a few test samples at the export size (None if 0 asked)."""
    opts = ctx.options
    if not opts.reference_samples:
        return None
    ctx.log(
        f"reference set: PyTorch outputs of {opts.reference_samples} synthetic samples at {opts.height}x{opts.width}"
    )
    sha = sha256_file(ckpt.path) if ckpt.path else None
    reference = build_reference_set(ctx.model, (opts.height, opts.width), opts.reference_samples, checkpoint_sha256=sha)
    return reference.save(ctx.staging / REFERENCE_NAME), reference


def _model_section(ckpt: Any, options: ExportOptions) -> Dict[str, Any]:
    cfg = ckpt.model.cfg  # the model's own config: its warp_mode follows set_warp_mode
    return {
        "name": f"b2v-{cfg.preset}-n{cfg.frames}",
        "preset": cfg.preset,
        "frames": cfg.frames,
        "checkpoint": str(options.checkpoint or "demo"),
        "checkpoint_sha256": sha256_file(ckpt.path) if ckpt.path else None,
        "config": cfg.to_dict(),
        "align": ALIGN,
    }


def publish(
    ctx: _Context, ckpt: Any, builds: List[GraphBuild], reference: Optional[Tuple[Path, ReferenceSet]] = None
) -> Manifest:
    """Move staged graphs (and the reference set) into the deploy dir and write the manifest (stale artifacts removed)."""
    opts = ctx.options
    manifest = deploy.load_or_new(opts.out_dir)
    model_section = _model_section(ckpt, opts)
    inp, out = deploy.io_sections(
        io_spec(builds[0].model), opts.dynamic, ALIGN, [opts.batch, 3, opts.height, opts.width]
    )
    new_identity = {
        "checkpoint_sha256": model_section["checkpoint_sha256"],
        "shape": inp["shape"],
        "warp": opts.warp,
        "opset": opts.opset,
        "target": opts.target,
    }
    ctx.messages += deploy.drop_stale(manifest, new_identity, [b.path.name for b in builds])
    deploy.publish([b.path for b in builds] + ([reference[0]] if reference else []), opts.out_dir)
    manifest.model, manifest.input, manifest.output = model_section, inp, out
    if reference:
        record_reference_set(manifest, opts.out_dir / REFERENCE_NAME, reference[1])
    elif manifest.parity.pop(MANIFEST_KEY, None):
        (opts.out_dir / REFERENCE_NAME).unlink(missing_ok=True)
    for build in builds:
        path = opts.out_dir / build.path.name
        manifest.upsert(deploy.onnx_artifact(path, build.precision, opts.warp, opts.opset, opts.target, build.extra))
        manifest.parity.setdefault("export", {})[path.name] = build.verification.to_dict()
    manifest.save()
    return manifest


def run_export(options: ExportOptions, log: Optional[Log] = None) -> ExportResult:
    """Run the whole export described by ``options`` (see :func:`b2v_edge.export.api.export`)."""
    from b2v_edge.checkpoint import load_checkpoint

    start, cpu_start = time.perf_counter(), time.process_time()
    log = log or (lambda _msg: None)
    ckpt = load_checkpoint(options.checkpoint)
    with deploy.out_dir_guard(options.out_dir) as out_dir:
        deploy.load_or_new(out_dir)  # a corrupt manifest is an error before any work, never overwritten
        with deploydir.update(out_dir) as stage:  # one commit: every graph, the reference set, INT8
            verifications, messages = _export_into(options.with_(out_dir=stage), ckpt, log)
    manifest = Manifest.load(out_dir)
    return ExportResult(
        out_dir,
        manifest,
        list(manifest.artifacts),
        verifications,
        messages,
        time.perf_counter() - start,
        time.process_time() - cpu_start,
    )


def _export_into(options: ExportOptions, ckpt: Any, log: Log) -> Tuple[Dict[str, Verification], List[str]]:
    """Build, verify and publish every graph into ``options.out_dir`` (the staged generation).

    Returns:
        (verification per precision, notes for the user).
    """
    ckpt.model.set_warp_mode(options.warp)
    shapes = verification_shapes(options.verify_inputs, options.batch, options.height, options.width, options.dynamic)
    inputs = make_inputs(shapes, frames=ckpt.config.frames)
    reference = torch_outputs(ckpt.model, inputs)
    try:
        for ref in reference:
            require_finite(ref, "the checkpoint's PyTorch outputs")
    except NonFiniteError as exc:
        raise ExportError(f"{exc} (diverged training?): nothing was exported; export another checkpoint") from exc
    with deploy.staging_dir(options.out_dir) as staging:
        ctx = _Context(options, ckpt.model, reference, inputs, staging, log)
        builds = [build_fp32(ctx)]
        if options.precision == "fp16":
            builds.append(build_fp16(ctx, builds[0]))
        manifest = publish(ctx, ckpt, builds, build_reference(ctx, ckpt))
    verifications = {b.precision: b.verification for b in builds}
    if options.precision == "int8":
        from .int8 import export_int8

        _art, verifications["int8"] = export_int8(manifest, options, reference, inputs, log)
    return verifications, ctx.messages
