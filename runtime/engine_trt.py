"""TensorRT backend: the one module that runs serialized plans (``model.<precision>.plan``).

Each TensorRT API generation is one visible branch:

* **TensorRT 8.x** (JetPack 4.6 / 5.1 / 6.0): bindings by index — ``num_bindings``,
  ``get_binding_name``, ``binding_is_input``, ``set_binding_shape`` and
  ``execute_async_v2(bindings, stream_handle)``.
* **TensorRT 10.x / 11.x** (JetPack 6.1+, desktop): named I/O tensors — ``num_io_tensors``,
  ``get_tensor_name``, ``get_tensor_mode``, ``set_input_shape``, ``set_tensor_address`` and
  ``execute_async_v3(stream_handle)``.

Pinned host and device buffers are allocated once per input shape and reused for every frame; all
copies and the execution go through one CUDA stream (:mod:`b2v_edge.runtime.cudamem`).
``tensorrt`` and the CUDA binding are imported inside functions: importing this module never needs
them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .cudamem import CudaApi, load_cuda
from .engine import Engine, EngineError, EngineSpec, _dims, merge_spec

__all__ = ["TrtEngine", "device_info", "import_tensorrt", "trt_major"]

log = logging.getLogger("b2v_edge.runtime")

TRT_INSTALL_HINT = (
    "TensorRT is not installed: on Jetson it ships with JetPack (`sudo apt install python3-libnvinfer`), "
    "on a desktop install it from NVIDIA's package index (see README, extra [tensorrt]); "
    "or run with --backend onnxruntime"
)


def import_tensorrt() -> Any:
    """``import tensorrt`` or an :class:`EngineError` that says how to get it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EngineError(TRT_INSTALL_HINT) from exc
    return trt


def trt_major(trt: Any) -> int:
    """Major version of the imported ``tensorrt`` module (``"10.3.0.26"`` → 10)."""
    try:
        return int(str(trt.__version__).split(".")[0])
    except (AttributeError, ValueError) as exc:
        raise EngineError(f"cannot read the TensorRT version ({getattr(trt, '__version__', None)!r})") from exc


def device_info(cuda: Optional[CudaApi] = None) -> Tuple[str, str, str]:
    """``(tensorrt_version, compute_capability, gpu_name)`` of this machine (device 0)."""
    trt = import_tensorrt()
    api = cuda or load_cuda()
    name, cc = api.device_info()
    return str(trt.__version__), cc, name


@dataclass
class _Tensor:
    """One I/O tensor of the plan; ``host``/``device`` are set by :meth:`TrtEngine._allocate`."""

    name: str
    index: int
    is_input: bool
    shape: Tuple[int, ...]
    dtype: Any
    host: Optional[np.ndarray] = None
    device: int = 0


# ---- version branches: reading the I/O tensors ------------------------------------------------
def _io_tensors_v8(engine: Any, trt: Any) -> List[_Tensor]:
    """TensorRT 8.x: bindings by index."""
    return [
        _Tensor(
            name=engine.get_binding_name(i),
            index=i,
            is_input=bool(engine.binding_is_input(i)),
            shape=tuple(engine.get_binding_shape(i)),
            dtype=np.dtype(trt.nptype(engine.get_binding_dtype(i))),
        )
        for i in range(engine.num_bindings)
    ]


def _io_tensors_v10(engine: Any, trt: Any) -> List[_Tensor]:
    """TensorRT 10.x / 11.x: named I/O tensors."""
    tensors = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        tensors.append(
            _Tensor(
                name=name,
                index=i,
                is_input=engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT,
                shape=tuple(engine.get_tensor_shape(name)),
                dtype=np.dtype(trt.nptype(engine.get_tensor_dtype(name))),
            )
        )
    return tensors


class TrtEngine(Engine):
    """A serialized TensorRT plan.

    Args:
        path: the raw plan file (no header; loadable by trtexec too).
        precision: for the spec/overlay (``"fp16"``, ``"int8"``, ...).
        expected: the manifest's spec, cross-checked against the plan's I/O tensors.
        cuda: a CUDA binding (default: :func:`~b2v_edge.runtime.cudamem.load_cuda`).

    Raises:
        EngineError: TensorRT/CUDA binding missing, or the plan does not deserialize here.
    """

    def __init__(
        self,
        path: Union[str, Path],
        precision: str = "unknown",
        expected: Optional[EngineSpec] = None,
        cuda: Optional[CudaApi] = None,
    ) -> None:
        path = Path(path)
        self._trt = import_tensorrt()
        self._major = trt_major(self._trt)
        self._cuda = cuda or load_cuda()
        self._stream: Any = None
        self._engine: Any = None
        self._context: Any = None
        self._batch_shape: Optional[Tuple[int, ...]] = None
        self._bindings: List[int] = []
        self._tensors: List[_Tensor] = []
        try:
            self._load(path)
            super().__init__(merge_spec(expected, self._spec_from_tensors(path, precision)))
            self._stream = self._cuda.stream_create()
        except BaseException:
            self.close()
            raise

    def _load(self, path: Path) -> None:
        """Deserialize the plan, create the execution context, read the I/O tensors."""
        self._logger = self._trt.Logger(self._trt.Logger.WARNING)
        self._runtime = self._trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise EngineError(
                f"TensorRT {self._trt.__version__} could not load {path.name} (built for another TensorRT "
                f"version or GPU?); rebuild it with `b2v-edge build-engine {path.parent}`"
            )
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise EngineError(f"TensorRT could not create an execution context for {path.name} (out of GPU memory?)")
        reader = _io_tensors_v8 if self._major < 10 else _io_tensors_v10
        self._tensors = reader(self._engine, self._trt)

    def _spec_from_tensors(self, path: Path, precision: str) -> EngineSpec:
        inputs = [t for t in self._tensors if t.is_input]
        outputs = [t for t in self._tensors if not t.is_input]
        if len(inputs) != 1 or not outputs:
            raise EngineError(f"{path.name} must have one input and one output, has {len(inputs)} / {len(outputs)}")
        out_shape = _dims(outputs[0].shape)
        return EngineSpec(
            input_name=inputs[0].name,
            input_shape=_dims(inputs[0].shape),
            output_name=outputs[0].name,
            output_shape=out_shape,
            precision=precision,
            frames=int(out_shape[1] or 0) if len(out_shape) == 5 else 0,
            backend="tensorrt",
            provider=f"TensorRT {self._trt.__version__}",
            path=path,
        )

    # ---- buffers ------------------------------------------------------------------------
    def _allocate(self, input_shape: Tuple[int, ...]) -> None:
        """(Re)allocate pinned host + device buffers for ``input_shape``; set shapes/addresses."""
        self._free_buffers()
        ctx = self._context
        for t in self._tensors:
            if t.is_input:
                if self._major < 10:
                    ctx.set_binding_shape(t.index, input_shape)
                else:
                    ctx.set_input_shape(t.name, input_shape)
        for t in self._tensors:
            if t.is_input:
                shape = tuple(input_shape)
            elif self._major < 10:
                shape = tuple(ctx.get_binding_shape(t.index))
            else:
                shape = tuple(ctx.get_tensor_shape(t.name))
            if any(d < 0 for d in shape):
                raise EngineError(f"TensorRT could not resolve the shape of {t.name} for input {input_shape}")
            t.host = self._cuda.host_empty(shape, t.dtype)
            t.device = self._cuda.malloc(max(int(t.host.nbytes), 1))
            if self._major >= 10:
                ctx.set_tensor_address(t.name, t.device)
        self._bindings = [t.device for t in sorted(self._tensors, key=lambda t: t.index)]
        self._batch_shape = tuple(input_shape)

    def _free_buffers(self) -> None:
        for t in self._tensors:
            if t.host is not None:
                self._cuda.host_free(t.host)
                t.host = None
            if t.device:
                self._cuda.free(t.device)
                t.device = 0
        self._batch_shape = None

    # ---- inference ----------------------------------------------------------------------
    def _infer_impl(self, blurred: np.ndarray) -> np.ndarray:
        if self._context is None:
            raise EngineError("engine is closed")
        if self._batch_shape != blurred.shape:
            self._allocate(blurred.shape)
        inp = next(t for t in self._tensors if t.is_input)
        out = next(t for t in self._tensors if t.name == self.spec.output_name)
        if inp.host is None or out.host is None:
            raise EngineError("TensorRT buffers are not allocated")
        np.copyto(inp.host, blurred, casting="same_kind")
        handle = self._cuda.stream_handle(self._stream)
        self._cuda.htod_async(inp.device, inp.host, self._stream)
        if self._major < 10:
            ok = self._context.execute_async_v2(bindings=self._bindings, stream_handle=handle)
        else:
            ok = self._context.execute_async_v3(handle)
        if ok is False:
            raise EngineError(f"TensorRT execution failed for {self.spec.path.name}")
        self._cuda.dtoh_async(out.host, out.device, self._stream)
        self._cuda.synchronize(self._stream)
        return out.host.copy()

    def close(self) -> None:
        if self._tensors:
            self._free_buffers()
        if self._stream is not None:
            self._cuda.stream_destroy(self._stream)
            self._stream = None
        self._context = None
        self._engine = None
        self._runtime = None
        self._cuda.close()
        super().close()

    def buffers(self) -> Dict[str, Tuple[Tuple[int, ...], int]]:
        """``{tensor name: (host shape, device pointer)}`` of the current allocation (for tests/debug)."""
        return {t.name: (tuple(t.host.shape) if t.host is not None else (), t.device) for t in self._tensors}
