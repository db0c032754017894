"""Facts about this machine's GPU for a plan's provenance: name, compute capability, CUDA version."""

from __future__ import annotations

from typing import Any, Dict


def device_facts(cuda: Any = None) -> Dict[str, str]:
    """GPU name, compute capability and CUDA runtime version ("" when unknown).

    A CUDA binding loaded for the query is closed again (PyCUDA aborts at exit on a pushed context).
    """
    facts = {"gpu": "", "compute_capability": "", "cuda_version": ""}
    try:
        from b2v_edge.runtime.engines.cuda import query_device

        facts["gpu"], facts["compute_capability"] = query_device(cuda)
    except Exception:  # no CUDA binding: the plan still records TensorRT's version
        pass
    facts["cuda_version"] = cuda_runtime_version()
    return facts


def cuda_runtime_version() -> str:
    """``"12.6"`` from cuda-python's ``cudaRuntimeGetVersion`` (or libcudart via ctypes), else ""."""
    try:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # type: ignore[no-redef]
        err, value = cudart.cudaRuntimeGetVersion()
    except Exception:
        value = _ctypes_cudart_version()
    return f"{value // 1000}.{value % 1000 // 10}" if value else ""


def _ctypes_cudart_version() -> int:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("cudart")
    if not name:
        return 0
    try:
        lib = ctypes.CDLL(name)
        out = ctypes.c_int(0)
        return out.value if lib.cudaRuntimeGetVersion(ctypes.byref(out)) == 0 else 0
    except OSError:
        return 0
