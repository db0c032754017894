"""b2v_edge.calib: INT8 calibration on blur data (no torch): readers, Q/DQ graphs, TensorRT cache.

Typical use::

    from b2v_edge.calib import CalibOptions, run_calibration

    report = run_calibration("deploy", CalibOptions(data="images:my_blurred_frames", samples=256))
    print(report.accuracy.mean_vs_fp32, report.artifact.path)

Heavy modules (onnx, onnxruntime.quantization) load on first use, so importing this package is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .options import CalibError, CalibOptions

_LAZY = {
    "CalibReport": "api",
    "quantize_deploy": "api",
    "run_calibration": "api",
    "PrecisionPlan": "plan",
    "precision_plan": "plan",
    "parse_trt_cache": "trtcache",
    "write_trt_cache": "trtcache",
}

__all__ = ["CalibError", "CalibOptions", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
