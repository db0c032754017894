"""GPU and CUDA facts of a :class:`~b2v_edge.verify.host.Host`: the Jetson board, the GPU (name,
compute capability, memory: through cuda-python, PyCUDA, ``nvidia-smi`` or the Jetson model
table, first that answers) and the CUDA driver and runtime versions. None when absent.
"""

from __future__ import annotations

import ctypes
import json
import re
from dataclasses import dataclass
from typing import Optional, Tuple

from .host import Host

__all__ = ["GpuFacts", "cuda_driver_version", "cuda_runtime_version", "gpu", "jetson_model"]


#: Compute capability of the Jetson GPUs, matched against ``/proc/device-tree/model``.
JETSON_COMPUTE: Tuple[Tuple[str, str], ...] = (
    ("orin", "8.7"),
    ("xavier", "7.2"),
    ("tx2", "6.2"),
    ("tx1", "5.3"),
    ("nano", "5.3"),
)


def jetson_model(host: Host) -> Optional[str]:
    """The board name from ``/proc/device-tree/model`` when it is a Jetson, else None."""
    model = (host.read("/proc/device-tree/model") or "").strip()
    return model if "jetson" in model.lower() else None


@dataclass
class GpuFacts:
    """The first CUDA GPU: ``name``, ``compute_capability`` (``"8.7"``), ``memory_mib`` (0 = unknown)."""

    name: str
    compute_capability: str
    memory_mib: int = 0
    source: str = ""

    @property
    def sm(self) -> Tuple[int, int]:
        """Compute capability as ``(major, minor)``."""
        major, _, minor = self.compute_capability.partition(".")
        return int(major or 0), int(minor or 0)


def _gpu_cuda_python(host: Host) -> Optional[GpuFacts]:
    cudart = host.module("cuda.bindings.runtime") or host.module("cuda.cudart")
    if cudart is None:
        return None
    try:
        err, count = cudart.cudaGetDeviceCount()
        if int(err) != 0 or count < 1:
            return None
        err, prop = cudart.cudaGetDeviceProperties(0)
        if int(err) != 0:
            return None
        name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
        return GpuFacts(name.strip("\x00 "), f"{prop.major}.{prop.minor}", prop.totalGlobalMem >> 20, "cuda-python")
    except Exception:  # a binding that does not match the driver: report nothing rather than fail
        return None


def _gpu_pycuda(host: Host) -> Optional[GpuFacts]:
    drv = host.module("pycuda.driver")
    if drv is None:
        return None
    try:
        drv.init()
        dev = drv.Device(0)
        major, minor = dev.compute_capability()
        return GpuFacts(dev.name(), f"{major}.{minor}", dev.total_memory() >> 20, "pycuda")
    except Exception:  # no device / driver mismatch
        return None


def _gpu_nvidia_smi(host: Host) -> Optional[GpuFacts]:
    out = host.run(["nvidia-smi", "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader,nounits"])
    if not out or not out.strip():
        return None
    parts = [p.strip() for p in out.strip().splitlines()[0].split(",")]
    if len(parts) < 3:
        return None
    memory = int(parts[2]) if parts[2].isdigit() else 0
    return GpuFacts(parts[0], parts[1], memory, "nvidia-smi")


def _gpu_jetson(host: Host) -> Optional[GpuFacts]:
    model = jetson_model(host)
    if model is None:
        return None
    for key, cc in JETSON_COMPUTE:
        if key in model.lower():
            return GpuFacts(f"{model} (integrated)", cc, 0, "device tree")
    return None


def gpu(host: Host) -> Optional[GpuFacts]:
    """The first CUDA GPU, asked of cuda-python, pycuda, ``nvidia-smi``, then the Jetson board name."""
    for probe in (_gpu_cuda_python, _gpu_pycuda, _gpu_nvidia_smi, _gpu_jetson):
        found = probe(host)
        if found is not None:
            return found
    return None


def _cuda_version(value: int) -> str:
    return f"{value // 1000}.{value % 1000 // 10}"


def cuda_driver_version(host: Host) -> Optional[str]:
    """Highest CUDA version the installed driver supports (``cuDriverGetVersion``), e.g. ``"12.6"``."""
    lib = host.library("cuda")
    if lib is None:
        return None
    out = ctypes.c_int(0)
    try:
        ok = lib.cuDriverGetVersion(ctypes.byref(out)) == 0
    except (AttributeError, OSError):
        return None
    return _cuda_version(out.value) if ok and out.value else None


def cuda_runtime_version(host: Host) -> Optional[str]:
    """CUDA toolkit/runtime version: ``libcudart`` (``cudaRuntimeGetVersion``), else ``/usr/local/cuda``."""
    lib = host.library("cudart")
    if lib is not None:
        out = ctypes.c_int(0)
        try:
            if lib.cudaRuntimeGetVersion(ctypes.byref(out)) == 0 and out.value:
                return _cuda_version(out.value)
        except (AttributeError, OSError):
            pass
    text = host.read("/usr/local/cuda/version.json")
    if text:
        try:
            return str(json.loads(text)["cuda"]["version"])
        except (ValueError, KeyError, TypeError):
            pass
    match = re.search(r"CUDA Version\s+([\d.]+)", host.read("/usr/local/cuda/version.txt") or "")
    return match.group(1) if match else None
