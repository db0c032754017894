"""``export --precision int8``: hand the deploy dir to calibration, then lint and verify its Q/DQ graph.

The Q/DQ graph itself is produced by ``b2v_edge.calib.api.quantize_deploy`` (synthetic calibration
data by default); this module only calls it and holds the result to the same checks as the fp32 and
fp16 graphs (target lint: zero-point 0, no INT8 GridSample; ORT vs PyTorch PSNR).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, List, Tuple

import numpy as np

from b2v_edge.calib.api import quantize_deploy
from b2v_edge.calib.options import CalibOptions
from b2v_edge.common.manifest import Artifact, Manifest

from .constants import ExportError
from .deploy import find_artifact
from .lint import lint_model
from .numerics import Verification, compare, ort_outputs
from .options import ExportOptions


def default_calib_options(options: ExportOptions) -> CalibOptions:
    """``CalibOptions`` for the export target: synthetic data, symmetric Q/DQ for TensorRT."""
    if options.calib is not None:
        return options.calib
    return CalibOptions(target="onnxruntime" if options.target == "onnxruntime" else "tensorrt")


def _listed(result: Artifact, manifest: Manifest) -> Artifact:
    """The manifest's own record of the artifact calibration returned."""
    art = find_artifact(manifest, Path(result.path).name)
    if art is None:
        raise ExportError(f"calibration returned {result.path}, which is not listed in {manifest.root}/manifest.json")
    return art


def _discard(manifest: Manifest, art: Artifact) -> None:
    manifest.artifacts = [a for a in manifest.artifacts if a.path != art.path]
    with contextlib.suppress(FileNotFoundError):
        manifest.resolve(art.path, f"artifact {art.path!r}", follow=False).unlink()
    manifest.save()


def export_int8(
    manifest: Manifest,
    options: ExportOptions,
    reference: List[np.ndarray],
    inputs: List[np.ndarray],
    log: Callable[[str], None],
) -> Tuple[Artifact, Verification]:
    """Run calibration on the published deploy dir, then lint and verify ``model.int8.onnx``.

    Raises:
        ExportError: calibration failed, lint errors, or PSNR below the int8 floor (the
            int8 artifact is then removed again: nothing half-done stays listed).
    """
    log("quantizing to INT8 (b2v_edge.calib, synthetic calibration data by default)")
    try:
        result = quantize_deploy(manifest.root, default_calib_options(options))
    except (ValueError, RuntimeError, OSError) as exc:
        raise ExportError(
            f"INT8 calibration failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    manifest = Manifest.load(manifest.root)
    art = _listed(result, manifest)
    path = manifest.path_of(art)
    report = lint_model(path, options.target)
    if not report:
        _discard(manifest, art)
        raise ExportError(f"{art.path} fails the {options.target} lint: {report.errors[0]}")
    verification = compare(reference, ort_outputs(path, inputs), "int8", options.min_psnr["int8"])
    log(f"{art.path}: ORT vs PyTorch max |err| {verification.max_abs_err:.2e}, PSNR {verification.psnr_db:.1f} dB")
    if not verification:
        _discard(manifest, art)
        raise ExportError(
            f"{art.path} PSNR vs PyTorch {verification.psnr_db:.1f} dB < {verification.min_psnr_db:.0f} dB"
        )
    art.target = art.target or options.target
    art.warp = options.warp
    art.extra = {**art.extra, "lint": report.to_dict(), "verification": verification.to_dict()}
    manifest.upsert(art)
    manifest.parity.setdefault("export", {})[art.path] = verification.to_dict()
    manifest.save()
    return art, verification
