"""Stand-ins for the CUDA side (TESTS ONLY): :class:`StandInCuda`, a ``CudaApi`` with simulated
device memory, and :class:`FakePyCuda`, a ``pycuda.driver`` with PyCUDA's context stack (abort at
exit when it is not empty). ``trt_standin`` re-exports both.
"""

from __future__ import annotations

import itertools
import types
from typing import Any, Dict, List, Tuple

import numpy as np

SCALE_LO, SCALE_HI = 0.5, 1.0  # the stand-in engine returns frames[:, k] = x * linspace(0.5, 1, N)[k]


class StandInCuda:
    """A ``CudaApi`` with simulated device memory (bytearrays) and a recorded call list."""

    name = "stand-in"

    def __init__(self, gpu: str = "Orin (stand-in)", cc: str = "8.7") -> None:
        self.gpu, self.cc = gpu, cc
        self.calls: List[tuple] = []
        self.device: Dict[int, bytearray] = {}
        self._next = itertools.count(0x1000, 0x1000)
        self.closed = 0

    def malloc(self, nbytes: int) -> int:
        ptr = next(self._next)
        self.device[ptr] = bytearray(nbytes)
        self.calls.append(("malloc", nbytes))
        return ptr

    def free(self, ptr: int) -> None:
        del self.device[ptr]
        self.calls.append(("free", ptr))

    def host_empty(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        self.calls.append(("host_empty", tuple(shape)))
        return np.empty(shape, dtype)

    def host_free(self, array: np.ndarray) -> None:
        self.calls.append(("host_free",))

    def stream_create(self) -> int:
        self.calls.append(("stream_create",))
        return 77

    def stream_destroy(self, stream: Any) -> None:
        self.calls.append(("stream_destroy",))

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def htod_async(self, device: int, host: np.ndarray, stream: Any) -> None:
        self.calls.append(("htod",))
        self.device[device][: host.nbytes] = host.tobytes()

    def dtoh_async(self, host: np.ndarray, device: int, stream: Any) -> None:
        self.calls.append(("dtoh",))
        host[...] = np.frombuffer(bytes(self.device[device][: host.nbytes]), host.dtype).reshape(host.shape)

    def synchronize(self, stream: Any) -> None:
        self.calls.append(("synchronize",))

    def device_info(self) -> Tuple[str, str]:
        return self.gpu, self.cc

    def close(self) -> None:
        self.closed += 1

    def frames(self, x_ptr: int, y_ptr: int, shape: Tuple[int, ...], n: int) -> None:
        """What the stand-in engine computes on device: ``y[:, k] = x * linspace(0.5, 1, n)[k]``."""
        count = int(np.prod(shape))
        x = np.frombuffer(bytes(self.device[x_ptr][: count * 4]), np.float32).reshape(shape)
        y = x[:, None] * np.linspace(SCALE_LO, SCALE_HI, n, dtype=np.float32).reshape(1, n, 1, 1, 1)
        self.device[y_ptr][: y.nbytes] = y.astype(np.float32).tobytes()


class FakePyCuda(types.ModuleType):
    """``pycuda.driver`` with PyCUDA's context stack: ``exit_code()`` is 134 (abort) if it is not empty."""

    def __init__(self, gpu: str = "Xavier", cc: Tuple[int, int] = (7, 2)) -> None:
        super().__init__("pycuda.driver")
        self.stack: List[str] = []
        self.calls: List[str] = []
        driver = self

        class Context:
            def push(self) -> None:
                driver.calls.append("push")
                driver.stack.append("primary")

            def pop(self) -> None:
                driver.calls.append("pop")
                driver.stack.pop()

        class Device:
            def __init__(self, index: int) -> None:
                self.index = index

            def retain_primary_context(self) -> Context:
                return Context()

            def name(self) -> str:
                return gpu

            def compute_capability(self) -> Tuple[int, int]:
                return cc

        class Stream:
            handle = 5

            def synchronize(self) -> None:
                driver.calls.append("sync")

        self.Device, self.Stream = Device, Stream

    def init(self) -> None:
        self.calls.append("init")

    def mem_alloc(self, nbytes: int) -> int:
        if not self.stack:
            raise RuntimeError("cuMemAlloc failed: invalid device context")
        self.calls.append("mem_alloc")
        return 0x2000

    def pagelocked_empty(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype)

    def exit_code(self) -> int:
        """PyCUDA's ``context_stack`` destructor: abort() when contexts are still pushed."""
        return 134 if self.stack else 0
