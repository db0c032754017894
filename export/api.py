"""Public entry points of ``b2v_edge.export`` (what the CLI and the other packages call).

* :func:`export` - checkpoint -> deploy dir (ONNX graphs, manifest; optionally plan and Triton repo).
* :func:`export_default` - the demo checkpoint with the portable defaults (what ``b2v-edge run``
  calls on a fresh machine).
* :func:`export_variant` - one fp32 graph with a given warp and size (``b2v-edge bench``'s warp comparison).
* :func:`lint_file` - check an ONNX file against a target's TensorRT parser.
* :func:`build_engine` - TensorRT plan in a deploy dir, on the device (re-exported from
  :mod:`~b2v_edge.export.trt_build`).

Default deploy dir of :func:`export_default`: fp32 ``model.onnx`` + ``model.fp16.onnx`` with the
**gather** warp exported for **trt8.0** (opset 13). That one graph pair lints clean for every
TensorRT parser from 8.0 (Jetson Nano, no GridSample) to 11.x (their opset ranges all include 13)
and runs in ONNX Runtime, where it is faster than the GridSample graph on CPU (the model's
border-padding GridSample is ORT's slow path; ``bench/`` has the measurements). A device with TensorRT >= 8.5 that prefers the native GridSample
warp re-exports with ``--target trt10`` (or its version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Tuple, Union

from b2v_edge.common.manifest import Manifest

from .lint import LintReport, lint_model
from .options import ExportOptions, OptionsError
from .pipeline import ExportResult, run_export
from .trt_build import BuildOptions, TensorRTUnavailable, build_engine

__all__ = [
    "DEFAULT_PORTABLE",
    "BuildOptions",
    "ExportOptions",
    "ExportResult",
    "TensorRTUnavailable",
    "build_engine",
    "export",
    "export_default",
    "export_variant",
    "lint_file",
]

Log = Callable[[str], None]

# The portable default deploy dir (see the module docstring for why).
DEFAULT_PORTABLE = {"precision": "fp16", "target": "trt8.0", "warp": "gather"}


def export(options: ExportOptions, log: Optional[Log] = None) -> ExportResult:
    """Export a checkpoint into a deploy dir as ``options`` say; build a plan / Triton repo if asked.

    Raises:
        b2v_edge.checkpoint.CheckpointError: missing or corrupt checkpoint.
        ExportError: a step failed (export, check, lint, verification, calibration).
        LintError: the final graph cannot run on the target (node, reason, fix).
        TensorRTUnavailable / BuildError: ``options.engine`` without TensorRT / a failed build.
    """
    result = run_export(options, log)
    if options.engine:
        art = build_engine(result.deploy_dir, BuildOptions(precision=options.precision), log=log)
        result.artifacts.append(art)
    if options.triton is not None:
        from .triton import write_repository

        written = write_repository(result.deploy_dir, options.triton, options.precision)
        result.messages.append(f"Triton repository: {', '.join(str(p.parent) for p in written)}")
    return result


def export_default(out_dir: Union[str, Path] = "deploy", log: Optional[Log] = None) -> Path:
    """Export the demo checkpoint with the portable defaults and return the deploy dir.

    Writes ``model.onnx`` (fp32) and ``model.fp16.onnx`` (gather warp, opset 13): usable by ONNX
    Runtime (CPU or GPU) and by every TensorRT from 8.0 to 11.x.

    Args:
        out_dir: the deploy dir to (re)write.
        log: receives one progress line per step.

    Returns:
        ``out_dir`` as a path.

    Raises:
        ExportError: a graph failed its lint or its ORT-vs-PyTorch check (nothing half-written stays).
    """
    options = ExportOptions(out_dir=Path(out_dir), **DEFAULT_PORTABLE)
    return run_export(options, log).deploy_dir


def export_variant(checkpoint: str, out_dir: Path, size: Tuple[int, int], warp: str, target: str) -> Manifest:
    """Export only the fp32 graph of ``checkpoint`` with ``warp`` at ``size`` (H, W) into ``out_dir``.

    ``target`` is kept when it can take ``warp`` (e.g. not ``native`` for trt8.0), else the graph is
    exported for ``onnxruntime``. One verification input, no reference set. Returns the new manifest.
    """
    common = dict(
        out_dir=Path(out_dir),
        checkpoint=checkpoint,
        precision="fp32",
        height=size[0],
        width=size[1],
        warp=warp,
        verify_inputs=1,
        reference_samples=0,
    )
    try:
        options = ExportOptions(target=target, **common)
    except OptionsError:
        options = ExportOptions(target="onnxruntime", **common)
    return export(options).manifest


def lint_file(path: Union[str, Path], target: str, trt_version: Optional[str] = None) -> LintReport:
    """Lint an ONNX file for a deployment target.

    Args:
        path: the ``.onnx`` file.
        target: ``trt8.0`` ... ``trt11`` or ``onnxruntime``.
        trt_version: the exact TensorRT release when known (some rules depend on the minor version).

    Returns:
        The findings; ``bool(report)`` is False when any is an error.

    Raises:
        FileNotFoundError: ``path`` is not a file.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist or is not a file")
    return lint_model(file, target, trt_version)
