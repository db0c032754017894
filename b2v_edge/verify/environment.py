"""What the reports say about the machine they were measured on: versions, CPU, providers, GPU."""

from __future__ import annotations

import os
import platform
from typing import Any, Dict, Optional, Sequence

from .probes import Host, cpu_name, dist_version, gpu, onnxruntime_providers, tensorrt_version

__all__ = ["environment_info"]

DISTS = (
    "b2v-edge",
    "numpy",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnx",
    "torch",
    "opencv-python-headless",
    "opencv-python",
    "tensorrt",
)


def _gpu(backends: Sequence[str], host: Host) -> str:
    if "tensorrt" not in backends:
        return "none used"
    found = gpu(host)
    version, _ = tensorrt_version(host)
    if found is None:
        return f"unknown (TensorRT {version or '?'})"
    return f"{found.name} (sm {found.compute_capability}, TensorRT {version or '?'})"


def environment_info(providers: Optional[Dict[str, str]] = None, host: Optional[Host] = None) -> Dict[str, Any]:
    """Versions, CPU and GPU of this machine; ``providers`` maps backend -> provider that ran.

    Args:
        providers: ``{"onnxruntime": "CPUExecutionProvider", ...}`` of the engines that ran.
        host: where to look (default: this machine).
    """
    host = host or Host()
    _, available = onnxruntime_providers(host)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "backends": dict(providers or {}),
        "ort_providers_available": available,
        "tensorrt_importable": tensorrt_version(host)[1],
        "versions": {d: v for d in DISTS if (v := dist_version(d))},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(host),
        "cpu_cores": cores,
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "gpu": _gpu(list((providers or {}).keys()), host),
    }
