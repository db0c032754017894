"""Minimal CUDA memory/stream helpers for the TensorRT runner, over ``cuda-python`` or ``pycuda``.

Only what :mod:`b2v_edge.runtime.engines.trt` needs: device and pinned host buffers, one stream,
async copies, synchronisation and the GPU's name / compute capability. The binding is imported
inside :func:`load_cuda`, never at module import, so the runtime imports fine without CUDA.

``cuda-python`` (the ``cudart`` runtime API; ``cuda.bindings.runtime`` from 12.6 on, ``cuda.cudart``
before) is preferred: it uses the primary context and works from any thread. With ``pycuda`` (the
only binding for JetPack 4.6's CUDA 10.2) the primary context is pushed on the thread that first
allocates memory or a stream; run inference on that thread. PyCUDA aborts the process at exit when
its context stack is not empty, so :meth:`CudaApi.close` pops the context, and any context still
pushed at interpreter exit is popped by an ``atexit`` hook. Device queries push nothing.
"""

from __future__ import annotations

import atexit
import ctypes
from typing import Any, List, Tuple

import numpy as np

from .base import EngineError

__all__ = ["CudaApi", "load_cuda", "query_device"]

INSTALL_HINT = (
    "running TensorRT plans needs a CUDA Python binding: `pip install cuda-python` "
    "(or `pip install pycuda`; on Jetson both build against JetPack's CUDA)"
)


class CudaApi:
    """Interface of the two bindings (pointers are plain ints, streams are opaque)."""

    name = "none"

    def malloc(self, nbytes: int) -> int:
        """Device allocation of ``nbytes``; returns the device pointer."""
        raise NotImplementedError

    def free(self, ptr: int) -> None:
        """Release a pointer from :meth:`malloc`."""
        raise NotImplementedError

    def host_empty(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        """Pinned (page-locked) host array; free with :meth:`host_free`."""
        raise NotImplementedError

    def host_free(self, array: np.ndarray) -> None:
        """Release an array from :meth:`host_empty`."""
        raise NotImplementedError

    def stream_create(self) -> Any:
        """A new CUDA stream (opaque handle of the binding)."""
        raise NotImplementedError

    def stream_destroy(self, stream: Any) -> None:
        """Destroy a stream from :meth:`stream_create`."""
        raise NotImplementedError

    def stream_handle(self, stream: Any) -> int:
        """The stream as the integer TensorRT's ``execute_async`` takes."""
        raise NotImplementedError

    def htod_async(self, device: int, host: np.ndarray, stream: Any) -> None:
        """Queue a copy of ``host`` to ``device`` on ``stream``."""
        raise NotImplementedError

    def dtoh_async(self, host: np.ndarray, device: int, stream: Any) -> None:
        """Queue a copy of ``device`` into ``host`` on ``stream``."""
        raise NotImplementedError

    def synchronize(self, stream: Any) -> None:
        """Wait until everything queued on ``stream`` has run."""
        raise NotImplementedError

    def device_info(self) -> Tuple[str, str]:
        """``(gpu_name, "major.minor")`` of device 0."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the binding's context, if it holds one."""


class _CudaRt(CudaApi):
    """``cuda-python`` runtime API (functions return ``(err, value...)`` tuples)."""

    name = "cuda-python"

    def __init__(self, cudart: Any) -> None:
        self.rt = cudart
        self._host_ptrs: dict = {}

    def _call(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if err != self.rt.cudaError_t.cudaSuccess:
            raise EngineError(f"CUDA error {int(err)} ({getattr(err, 'name', err)})")
        return rest[0] if len(rest) == 1 else (tuple(rest) if rest else None)

    def malloc(self, nbytes: int) -> int:
        return int(self._call(self.rt.cudaMalloc(nbytes)))

    def free(self, ptr: int) -> None:
        self._call(self.rt.cudaFree(ptr))

    def host_empty(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        ptr = int(self._call(self.rt.cudaMallocHost(nbytes)))
        raw = (ctypes.c_uint8 * nbytes).from_address(ptr)
        array = np.ctypeslib.as_array(raw).view(dtype).reshape(shape)
        self._host_ptrs[id(array)] = ptr
        return array

    def host_free(self, array: np.ndarray) -> None:
        ptr = self._host_ptrs.pop(id(array), None)
        if ptr is not None:
            self._call(self.rt.cudaFreeHost(ptr))

    def stream_create(self) -> Any:
        return self._call(self.rt.cudaStreamCreate())

    def stream_destroy(self, stream: Any) -> None:
        self._call(self.rt.cudaStreamDestroy(stream))

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def htod_async(self, device: int, host: np.ndarray, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self.rt.cudaMemcpyAsync(device, host.ctypes.data, host.nbytes, kind, stream))

    def dtoh_async(self, host: np.ndarray, device: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self.rt.cudaMemcpyAsync(host.ctypes.data, device, host.nbytes, kind, stream))

    def synchronize(self, stream: Any) -> None:
        self._call(self.rt.cudaStreamSynchronize(stream))

    def device_info(self) -> Tuple[str, str]:
        props = self._call(self.rt.cudaGetDeviceProperties(0))
        name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
        return name.split("\x00")[0].strip(), f"{props.major}.{props.minor}"


_PUSHED: List["_PyCuda"] = []  # bindings whose context is on PyCUDA's stack (popped at exit)


def _pop_pushed() -> None:
    for api in list(_PUSHED):
        api.close()


class _PyCuda(CudaApi):
    """``pycuda.driver`` with device 0's primary context, pushed on first use by memory or streams."""

    name = "pycuda"

    def __init__(self, driver: Any) -> None:
        self.drv = driver
        driver.init()
        self._device = driver.Device(0)
        self._ctx: Any = None
        self._allocs: dict = {}

    def _context(self) -> None:
        """Retain and push the primary context once (the driver needs a current context)."""
        if self._ctx is not None:
            return
        ctx = self._device.retain_primary_context()
        ctx.push()
        self._ctx = ctx
        if not _PUSHED:
            atexit.register(_pop_pushed)
        _PUSHED.append(self)

    def malloc(self, nbytes: int) -> int:
        self._context()
        alloc = self.drv.mem_alloc(nbytes)
        self._allocs[int(alloc)] = alloc
        return int(alloc)

    def free(self, ptr: int) -> None:
        alloc = self._allocs.pop(ptr, None)
        if alloc is not None:
            alloc.free()

    def host_empty(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        self._context()
        return self.drv.pagelocked_empty(shape, dtype)

    def host_free(self, array: np.ndarray) -> None:
        base = getattr(array, "base", None)
        if base is not None and hasattr(base, "free"):
            base.free()

    def stream_create(self) -> Any:
        self._context()
        return self.drv.Stream()

    def stream_destroy(self, stream: Any) -> None:
        del stream

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def htod_async(self, device: int, host: np.ndarray, stream: Any) -> None:
        self.drv.memcpy_htod_async(device, host, stream)

    def dtoh_async(self, host: np.ndarray, device: int, stream: Any) -> None:
        self.drv.memcpy_dtoh_async(host, device, stream)

    def synchronize(self, stream: Any) -> None:
        stream.synchronize()

    def device_info(self) -> Tuple[str, str]:
        major, minor = self._device.compute_capability()
        return str(self._device.name()), f"{major}.{minor}"

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.pop()
            self._ctx = None
            if self in _PUSHED:
                _PUSHED.remove(self)


def load_cuda() -> CudaApi:
    """The first available binding: ``cuda-python`` (new, then old module path), then ``pycuda``.

    Raises:
        EngineError: neither is installed (the message says what to install).
    """
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # type: ignore[no-redef]  # cuda-python < 12.6
        except ImportError:
            cudart = None
    if cudart is not None:
        return _CudaRt(cudart)
    try:
        import pycuda.driver as driver
    except ImportError as exc:
        raise EngineError(INSTALL_HINT) from exc
    return _PyCuda(driver)


def query_device(cuda: Any = None) -> Tuple[str, str]:
    """``(gpu_name, "major.minor")`` of device 0; a binding loaded here is closed again.

    Args:
        cuda: a :class:`CudaApi` to ask (left open), or None to load one for this query.

    Raises:
        EngineError: no CUDA binding is installed.
    """
    if cuda is not None:
        return cuda.device_info()
    api = load_cuda()
    try:
        return api.device_info()
    finally:
        api.close()
