"""CLI for ``b2v-edge export``, ``b2v-edge lint`` and ``b2v-edge build-engine``.

Each command parses flags into the library's options, calls one library function and prints the
result. torch / onnx / tensorrt are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional, Tuple

import typer
from rich.markup import escape
from rich.table import Table

from b2v_edge.common.trt_version import LINES

from .common import console, err_console, fail
from .extras import require_extra
from .options import DeployDir, ImageSize, Json, out_option, size_option, target_option

TRT_MISSING_EXIT = 3


def register(app: typer.Typer) -> None:
    """Add ``export``, ``lint`` and ``build-engine`` to the app."""
    app.command("export")(export_command)
    app.command("lint")(lint_command)
    app.command("build-engine")(build_engine_command)


def _errors() -> Tuple[type, ...]:
    """What an export reports in one line (importing nothing heavy: bad options fail before torch loads)."""
    from b2v_edge.common.errors import B2VError

    return (B2VError, ValueError, OSError)


def _progress(message: str) -> None:
    console.print(f"[dim]·[/] {escape(message)}", soft_wrap=True)


def _trt_missing(exc: Any, written: Optional[Path] = None) -> None:
    if written is not None:
        err_console.print(
            escape(f"ONNX artifacts are complete in {written}; only the TensorRT plan is missing"), soft_wrap=True
        )
    console.print("equivalent command on the device:")
    console.print(escape(exc.command), soft_wrap=True)
    fail(escape(str(exc)), code=TRT_MISSING_EXIT)


def _artifact_table(manifest: Any) -> Table:
    table = Table(title=f"deploy dir {manifest.root}", title_justify="left")
    for col in ("artifact", "precision", "warp", "target", "PSNR vs PyTorch", "size"):
        table.add_column(col)
    for art in manifest.artifacts:
        psnr_db = art.verification.psnr_db
        psnr = f"{psnr_db:.1f} dB" if psnr_db is not None else "-"
        size = (Path(manifest.root) / art.path).stat().st_size / 1e6
        table.add_row(art.path, art.precision, art.warp, str(art.target), psnr, f"{size:.1f} MB")
    return table


def export_command(
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", metavar="PATH", help="Checkpoint .pt (default: the demo model)."
    ),
    precision: str = typer.Option(
        "fp16", "--precision", metavar="NAME", help="fp32 | fp16 | int8 (model.onnx fp32 is always written)."
    ),
    size: Annotated[
        ImageSize, size_option("Input size (the optimal size with --dynamic).", ImageSize(256, 256))
    ] = ImageSize(256, 256),
    dynamic: bool = typer.Option(False, "--dynamic", help="Dynamic batch/H/W axes (H/W multiples of 32)."),
    batch: int = typer.Option(1, "--batch", metavar="N", help="Batch size (the optimal batch with --dynamic)."),
    target: str = target_option("", ("auto", *LINES, "onnxruntime"), "trt10"),
    warp: str = typer.Option(
        "auto", "--warp", metavar="MODE", help="auto | native (GridSample) | gather (no GridSample)"
    ),
    opset: Optional[int] = typer.Option(
        None, "--opset", metavar="N", help="ONNX opset (default: the target's: 13, 17 or 18)."
    ),
    engine: bool = typer.Option(False, "--engine", help="Also build a TensorRT plan (needs TensorRT + GPU)."),
    triton: Optional[Path] = typer.Option(
        None, "--triton", metavar="DIR", help="Also write a Triton model repository."
    ),
    simplify: bool = typer.Option(True, "--simplify/--no-simplify", help="Run onnx-simplifier."),
    fp16_tool: str = typer.Option("auto", "--fp16-tool", metavar="NAME", help="auto | onnxconverter | modelopt"),
    reference_samples: int = typer.Option(
        2,
        "--reference-samples",
        metavar="N",
        help="Samples of reference.npz (torch-free parity on the device); 0 = none.",
    ),
    out: Annotated[Path, out_option("Deploy directory (created, or added to).")] = Path("deploy"),
) -> None:
    """Export a checkpoint to verified, linted ONNX graphs (and optionally a TensorRT plan) in a deploy dir."""
    require_extra("export")
    from b2v_edge.export.options import ExportOptions  # torch-free: bad options fail before torch loads

    try:
        options = ExportOptions(
            out_dir=out,
            checkpoint=checkpoint,
            precision=precision,
            height=size.height,
            width=size.width,
            batch=batch,
            dynamic=dynamic,
            target=target,
            warp=warp,
            opset=opset,
            engine=engine,
            triton=triton,
            simplify=simplify,
            fp16_tool=fp16_tool,
            reference_samples=reference_samples,
        )
        console.print(
            f"export: {options.precision}, target {options.target}, warp {options.warp}, opset {options.opset}"
        )
        from b2v_edge.export.api import export

        result = export(options, log=_progress)
    except _trt_unavailable() as exc:
        _trt_missing(exc, out)
    except _errors() as exc:
        fail(escape(str(exc)))
    for message in result.messages:
        console.print(f"note: {escape(message)}", soft_wrap=True)
    console.print(_artifact_table(result.manifest))
    ref = result.manifest.parity.get("reference_set")
    if ref:
        console.print(
            f"reference set: {ref['path']} ({ref['samples']} samples, {ref['bytes'] / 1e6:.1f} MB): "
            f"b2v-edge parity {escape(str(result.deploy_dir))} needs no PyTorch"
        )
    console.print(f"done in {result.seconds:.0f} s ({result.cpu_seconds:.0f} s CPU)")


def _trt_unavailable() -> type:
    from b2v_edge.export.trt_build import TensorRTUnavailable

    return TensorRTUnavailable


def lint_command(
    model: Path = typer.Argument(..., metavar="MODEL", help="ONNX file to check."),
    target: str = target_option("", (*LINES, "onnxruntime"), "trt10"),
    trt_version: Optional[str] = typer.Option(
        None, "--trt-version", metavar="X.Y.Z", help="Exact TensorRT version, e.g. 10.1.0."
    ),
    as_json: Json = False,
) -> None:
    """Check an ONNX graph against what the target's TensorRT parser accepts (node, reason, fix)."""
    require_extra("lint")
    from b2v_edge.export.api import lint_file

    try:
        report = lint_file(model, target, trt_version)
    except (ValueError, OSError) as exc:
        fail(escape(str(exc)))
    except Exception as exc:  # onnx.load's DecodeError and friends: not an ONNX file
        fail(escape(f"{model} is not a readable ONNX model ({type(exc).__name__})"))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        raise typer.Exit(0 if report else 1)
    for finding, count in report.grouped():
        more = f" (and {count - 1} more {finding.op} nodes)" if count > 1 else ""
        (err_console if finding.severity == "error" else console).print(escape(f"{finding}{more}"), soft_wrap=True)
    if not report:
        fail(f"{len(report.errors)} error(s): {escape(model.name)} will not run correctly on {target}", code=1)
    console.print(f"ok: {escape(model.name)} passes the {target} lint ({len(report.warnings)} warning(s))")


def _shape(text: Optional[str]) -> Optional[Tuple[int, ...]]:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise ValueError(f"shape {text!r} must look like 1x3x256x256") from exc


def build_engine_command(
    deploy_dir: DeployDir,
    precision: str = typer.Option("fp16", "--precision", metavar="NAME", help="fp32 | fp16 | int8"),
    workspace: int = typer.Option(
        256, "--workspace", metavar="MIB", help="Builder workspace in MiB (256 fits a 4 GB Jetson)."
    ),
    min_shape: Optional[str] = typer.Option(
        None, "--min-shape", metavar="BxCxHxW", help="Dynamic graphs: e.g. 1x3x64x64."
    ),
    opt_shape: Optional[str] = typer.Option(
        None, "--opt-shape", metavar="BxCxHxW", help="Dynamic graphs: e.g. 1x3x256x256."
    ),
    max_shape: Optional[str] = typer.Option(
        None,
        "--max-shape",
        metavar="BxCxHxW",
        help="Dynamic graphs: e.g. 1x3x720x1280 (default: export batch x 480x640).",
    ),
    timing_cache: Optional[Path] = typer.Option(
        None, "--timing-cache", metavar="PATH", help="Default: <deploy>/timing.cache."
    ),
    calibration_cache: Optional[Path] = typer.Option(
        None, "--calibration-cache", metavar="PATH", help="TensorRT 8.x INT8 without Q/DQ."
    ),
    version_compatible: bool = typer.Option(False, "--version-compatible", help="TensorRT >= 8.6 only."),
    hardware_compatibility: str = typer.Option(
        "none", "--hardware-compatibility", metavar="LEVEL", help="none | ampere+"
    ),
    triton: Optional[Path] = typer.Option(
        None, "--triton", metavar="DIR", help="Also add the plan to this Triton repository."
    ),
) -> None:
    """Build a raw TensorRT plan from a deploy dir on this device and record it in the manifest."""
    from b2v_edge.common.manifest import ManifestError
    from b2v_edge.export.trt_build import BuildError, BuildOptions, TensorRTUnavailable, build_engine  # torch-free

    try:
        options = BuildOptions(
            precision=precision,
            workspace_mib=workspace,
            min_shape=_shape(min_shape),
            opt_shape=_shape(opt_shape),
            max_shape=_shape(max_shape),
            timing_cache=timing_cache,
            calibration_cache=calibration_cache,
            version_compatible=version_compatible,
            hardware_compatibility=hardware_compatibility,
        )
        art = build_engine(deploy_dir, options, log=_progress)
        if triton is not None:
            from b2v_edge.export.triton import server_args, write_repository

            write_repository(deploy_dir, triton, precision)
            for arg in server_args(deploy_dir, precision):
                console.print(f"start tritonserver with {escape(arg)} (version-compatible plan)")
    except TensorRTUnavailable as exc:
        _trt_missing(exc)
    except (BuildError, ManifestError, ValueError, OSError) as exc:
        fail(escape(str(exc)))
    plan = art.plan
    console.print(
        f"wrote {escape(str(Path(deploy_dir) / art.path))}: TensorRT {plan.tensorrt_version or '?'}, "
        f"{plan.gpu or 'GPU ?'} (sm {plan.compute_capability or '?'}), {plan.build_seconds} s"
    )
