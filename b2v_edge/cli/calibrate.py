"""CLI for ``b2v-edge calibrate``: INT8 Q/DQ graph calibrated on blur data, for TensorRT or ONNX Runtime.

Parse flags → :class:`~b2v_edge.calib.options.CalibOptions` →
:func:`~b2v_edge.calib.api.run_calibration` → print coverage, precision plan, accuracy (and speed).
Torch-free: everything is imported inside the command.
"""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer
from rich.markup import escape

from .common import console, fail
from .extras import require_extra
from .options import DeployDir, data_option, target_option


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` to the app."""
    app.command("calibrate")(calibrate_command)


def calibrate_command(
    deploy_dir: DeployDir,
    data: Annotated[str, data_option("calibrate")] = "synthetic",
    camera: Optional[str] = typer.Option(
        None, "--camera", metavar="N", help="Shorthand for --data camera:N (index, /dev/videoN, csi://N)."
    ),
    frames: int = typer.Option(300, "--frames", metavar="N", help="Frames captured from a camera before sampling."),
    samples: int = typer.Option(256, "--samples", metavar="N", help="Calibration inputs, stratified by blur strength."),
    method: str = typer.Option(
        "minmax", "--method", metavar="NAME", help="minmax | percentile | entropy (histograms: slower)"
    ),
    percentile: float = typer.Option(
        99.999, "--percentile", metavar="P", help="Percentile kept by --method percentile."
    ),
    quantizer: str = typer.Option(
        "onnxruntime", "--quantizer", metavar="NAME", help="onnxruntime | modelopt (needs nvidia-modelopt)"
    ),
    target: str = target_option(
        ": tensorrt and trt* give symmetric S8S8 Q/DQ for TensorRT (trt* also sets the cache header), "
        "onnxruntime gives U8S8 for CPUs"
    ),
    sensitivity: bool = typer.Option(False, "--sensitivity", help="Rank node groups by their INT8 PSNR cost."),
    target_psnr: Optional[float] = typer.Option(
        None, "--target-psnr", metavar="DB", help="Keep groups in float until INT8-vs-FP32 PSNR >= DB."
    ),
    exclude: List[str] = typer.Option(
        [], "--exclude", metavar="NAME", help="Node name / module scope / group kept in float (repeatable)."
    ),
    fit: str = typer.Option(
        "full", "--fit", metavar="MODE", help="full (native-resolution crops) | letterbox | resize: as `run --fit`."
    ),
    eval_samples: int = typer.Option(
        8, "--eval-samples", metavar="N", help="Held-out inputs for the INT8-vs-FP32 check."
    ),
    bins: int = typer.Option(8, "--bins", metavar="N", help="Blur-strength strata."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Sampling / synthetic data seed."),
    trt_version: Optional[str] = typer.Option(
        None, "--trt-version", metavar="X.Y.Z", help="TensorRT version of the calibration cache header."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute ranges even if cached."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Quantize the deploy dir's model to INT8 (Q/DQ ONNX), calibrated on blur that looks like yours."""
    require_extra("calibrate")
    from b2v_edge.calib.api import run_calibration
    from b2v_edge.calib.options import CalibError, CalibOptions
    from b2v_edge.calib.render import render
    from b2v_edge.common.manifest import ManifestError

    if camera is not None and data != "synthetic":
        fail("give either --camera or --data, not both")
    try:
        options = CalibOptions(
            data=f"camera:{camera}" if camera is not None else data,
            samples=samples,
            method=method,
            percentile=percentile,
            backend=quantizer,
            target=target,
            camera_frames=frames,
            bins=bins,
            fit=fit,
            seed=seed,
            eval_samples=eval_samples,
            sensitivity=sensitivity,
            target_psnr=target_psnr,
            exclude=tuple(exclude),
            trt_version=trt_version,
            use_cache=not no_cache,
            progress=not quiet,
        )
        report = run_calibration(deploy_dir, options)
    except (CalibError, ManifestError, OSError) as exc:
        fail(escape(str(exc)))
    render(report, console)
