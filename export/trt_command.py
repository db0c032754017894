"""Build shapes and the ``trtexec`` command line equivalent to ``b2v-edge build-engine``.

Without TensorRT on this machine the build cannot run here; the command printed instead does the
same build on the device (same source graph, precision mode, workspace, profile and timing cache).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from b2v_edge.common.manifest import Manifest

from .constants import ALIGN
from .deploy import ONNX_NAMES, find_artifact, plan_name

Shape = Tuple[int, ...]
DEFAULT_MAX_HW = (1088, 1920)  # 1080p rounded up to a multiple of 32


def _static_shape(manifest: Manifest) -> Optional[Shape]:
    shape = manifest.input.get("shape") or []
    if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape):
        return tuple(shape)
    return None


def build_shapes(manifest: Manifest, options: Any) -> Dict[str, Shape]:
    """min/opt/max input shapes: options first, then the export shape and defaults.

    A static graph gets its one shape three times (no profile is added for it).
    """
    static = _static_shape(manifest)
    if static is not None:
        return {"min": static, "opt": static, "max": static}
    export = manifest.input.get("opt_shape") or [1, 3, 256, 256]
    opt = tuple(options.opt_shape or export)
    low = tuple(options.min_shape or (1, 3, 2 * ALIGN, 2 * ALIGN))
    high = tuple(
        options.max_shape or (max(opt[0], 4), 3, max(opt[2], DEFAULT_MAX_HW[0]), max(opt[3], DEFAULT_MAX_HW[1]))
    )
    for a, b, name in ((low, opt, "min > opt"), (opt, high, "opt > max")):
        if any(x > y for x, y in zip(a, b)):
            raise ValueError(f"optimization profile {name}: min {list(low)}, opt {list(opt)}, max {list(high)}")
    return {"min": low, "opt": opt, "max": high}


def _dims(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def trtexec_command(manifest: Manifest, options: Any, major: Optional[int] = None) -> str:
    """The ``trtexec`` line that builds the same plan on a device.

    Args:
        manifest: the deploy dir's manifest.
        options: :class:`~b2v_edge.export.trt_build.BuildOptions`.
        major: TensorRT major version of the device (None = from the manifest's target: 8 for
            trt8.x, else 10).
    """
    root = Path(manifest.root)
    fp32 = find_artifact(manifest, ONNX_NAMES["fp32"])
    if major is None:
        target = (fp32.target if fp32 else None) or "trt10"
        major = 8 if target.startswith("trt8") else 11 if target == "trt11" else 10
    precision = options.precision
    args: List[str] = ["trtexec"]
    if major >= 10 or precision == "fp32" or (precision == "int8" and find_artifact(manifest, ONNX_NAMES["int8"])):
        args.append(f"--onnx={root / ONNX_NAMES[precision]}")
        if major == 10 and precision != "fp32":
            args.append("--stronglyTyped")
        if major == 8 and precision == "int8":
            args.append("--int8")
    else:
        args += _v8_flag_args(manifest, precision, options)
    args.append(f"--saveEngine={root / plan_name(precision)}")
    args.append(
        f"--memPoolSize=workspace:{options.workspace_mib}" if major >= 10 else f"--workspace={options.workspace_mib}"
    )
    args.append(f"--timingCacheFile={options.timing_cache or root / 'timing.cache'}")
    if _static_shape(manifest) is None:
        shapes = build_shapes(manifest, options)
        name = manifest.input.get("name", "blurred")
        for key in ("min", "opt", "max"):
            args.append(f"--{key}Shapes={name}:{_dims(shapes[key])}")
    return " ".join(shlex.quote(a) for a in args)


def _v8_flag_args(manifest: Manifest, precision: str, options: Any) -> List[str]:
    root = Path(manifest.root)
    args = [f"--onnx={root / ONNX_NAMES['fp32']}"]
    if precision == "fp16":
        args += ["--fp16", "--precisionConstraints=obey"]
        fp16 = find_artifact(manifest, ONNX_NAMES["fp16"])
        keep = fp16.extra.get("fp16", {}).get("kept_fp32_nodes", []) if fp16 else []
        if keep:
            args.append("--layerPrecisions=" + ",".join(f"{n}:fp32" for n in keep))
    else:
        files = (manifest.calibration.get("tensorrt") or {}).get("files") or {}
        cache = options.calibration_cache or (files.get("tensorrt_cache") or {}).get("path") or "calibration.cache"
        args += ["--int8", f"--calib={root / cache}"]
    return args
