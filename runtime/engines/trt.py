"""TensorRT backend: the one module that runs serialized plans (``model.<precision>.plan``).

Each TensorRT API generation is one visible branch (:attr:`TrtVersion.named_io`):

* **TensorRT 8.x** (JetPack 4.6 / 5.1 / 6.0): bindings by index — ``num_bindings``,
  ``get_binding_name``, ``binding_is_input``, ``set_binding_shape`` and
  ``execute_async_v2(bindings, stream_handle)``.
* **TensorRT 10.x / 11.x** (JetPack 6.1+, desktop): named I/O tensors — ``num_io_tensors``,
  ``get_tensor_name``, ``get_tensor_mode``, ``set_input_shape``, ``set_tensor_address`` and
  ``execute_async_v3(stream_handle)``.

:class:`TrtEngine` runs an already deserialized engine or calls a loader that returns one
(Polygraphy's ``TrtRunner(engine_or_callable)``); :class:`PlanLoader` is the loader for a plan file
and :meth:`TrtEngine.from_plan` the usual entry point. Pinned host and device buffers are allocated
once per input shape and reused for every frame; all copies and the execution go through one CUDA
stream (:mod:`.cuda`). ``tensorrt`` and the CUDA binding are imported inside functions: importing
this module never needs them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from b2v_edge.common.trt_version import TrtVersion, TrtVersionError

from .base import Engine, EngineError, EngineSpec, dims, merge_spec
from .cuda import CudaApi, load_cuda, query_device

__all__ = ["PlanLoader", "TrtEngine", "device_info", "import_tensorrt", "trt_version"]

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


def trt_version(trt: Any) -> TrtVersion:
    """The version of the imported ``tensorrt`` module (:class:`EngineError` when unreadable)."""
    try:
        return TrtVersion.of(trt)
    except TrtVersionError as exc:
        raise EngineError(f"cannot read the TensorRT version ({getattr(trt, '__version__', None)!r})") from exc


def device_info(cuda: Optional[CudaApi] = None) -> Tuple[str, str, str]:
    """``(tensorrt_version, compute_capability, gpu_name)`` of this machine (device 0).

    A CUDA binding loaded for the query is closed again (no context stays pushed).
    """
    trt = import_tensorrt()
    name, cc = query_device(cuda)
    return str(trt.__version__), cc, name


@dataclass
class PlanLoader:
    """Deserializes a raw plan file; call it to get the ``ICudaEngine``.

    Args:
        path: the plan file.
        trt: the ``tensorrt`` module.
        host_code_allowed: trust the plan's embedded lean runtime (version-compatible plans need
            it; TensorRT >= 8.6: ``Runtime.engine_host_code_allowed``).

    The ``Runtime`` stays referenced here as long as the loader lives (the engine needs it).
    """

    path: Path
    trt: Any
    host_code_allowed: bool = False
    runtime: Any = None
    logger: Any = None

    def __call__(self) -> Any:
        """Deserialise the plan: returns the ``ICudaEngine`` (keeps runtime and logger alive).

        Raises:
            EngineError: the plan cannot be read or TensorRT refuses it.
        """
        trt, version = self.trt, trt_version(self.trt)
        self.logger = trt.Logger(trt.Logger.WARNING)
        try:
            self.runtime = trt.Runtime(self.logger)
        except TypeError as exc:  # pybind11: "factory function returned nullptr" (no GPU / driver)
            raise EngineError(
                f"TensorRT {version} could not create a runtime (no CUDA GPU or driver visible?): {exc}"
            ) from exc
        if self.host_code_allowed and version.host_code_opt_in:
            self.runtime.engine_host_code_allowed = True
        engine = self.runtime.deserialize_cuda_engine(Path(self.path).read_bytes())
        if engine is None:
            hint = (
                " (a version-compatible plan must be opened through its deploy dir)"
                if not self.host_code_allowed
                else ""
            )
            raise EngineError(
                f"TensorRT {version} could not load {Path(self.path).name} (built for another TensorRT "
                f"version or GPU?{hint}); rebuild it with `b2v-edge build-engine {Path(self.path).parent}`"
            )
        return engine


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
    """A deserialized TensorRT engine run through one CUDA stream.

    Args:
        engine: an ``ICudaEngine``, or a callable returning one (e.g. a :class:`PlanLoader`),
            called once here.
        path: the plan file it came from (for the spec and messages).
        trt: the ``tensorrt`` module (None = import it).
        precision: for the spec/overlay (``"fp16"``, ``"int8"``, ...).
        expected: the manifest's spec, cross-checked against the engine's I/O tensors.
        cuda: a CUDA binding (default: :func:`~b2v_edge.runtime.engines.cuda.load_cuda`); closed
            with the engine.

    Raises:
        EngineError: TensorRT/CUDA binding missing, the engine is None, or it has no context.
    """

    def __init__(
        self,
        engine: Union[Any, Callable[[], Any]],
        path: Union[str, Path],
        *,
        trt: Any = None,
        precision: str = "unknown",
        expected: Optional[EngineSpec] = None,
        cuda: Optional[CudaApi] = None,
    ) -> None:
        path = Path(path)
        self._trt = trt if trt is not None else import_tensorrt()
        self._version = trt_version(self._trt)
        self._cuda = cuda or load_cuda()
        self._stream: Any = None
        self._loader: Any = engine if callable(engine) else None
        self._engine: Any = None
        self._context: Any = None
        self._batch_shape: Optional[Tuple[int, ...]] = None
        self._bindings: List[int] = []
        self._tensors: List[_Tensor] = []
        try:
            self._engine = engine() if callable(engine) else engine
            self._prepare(path)
            super().__init__(merge_spec(expected, self._spec_from_tensors(path, precision)))
            self._stream = self._cuda.stream_create()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_plan(
        cls,
        path: Union[str, Path],
        precision: str = "unknown",
        expected: Optional[EngineSpec] = None,
        cuda: Optional[CudaApi] = None,
        trt: Any = None,
        host_code_allowed: bool = False,
    ) -> "TrtEngine":
        """Open a raw plan file (see :class:`PlanLoader` for ``host_code_allowed``)."""
        trt = trt if trt is not None else import_tensorrt()
        loader = PlanLoader(Path(path), trt, host_code_allowed)
        return cls(loader, path, trt=trt, precision=precision, expected=expected, cuda=cuda)

    def _prepare(self, path: Path) -> None:
        """Create the execution context and read the I/O tensors."""
        if self._engine is None:
            raise EngineError(f"no TensorRT engine for {path.name}; rebuild it with `b2v-edge build-engine`")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise EngineError(f"TensorRT could not create an execution context for {path.name} (out of GPU memory?)")
        reader = _io_tensors_v10 if self._version.named_io else _io_tensors_v8
        self._tensors = reader(self._engine, self._trt)

    def _spec_from_tensors(self, path: Path, precision: str) -> EngineSpec:
        inputs = [t for t in self._tensors if t.is_input]
        outputs = [t for t in self._tensors if not t.is_input]
        if len(inputs) != 1 or not outputs:
            raise EngineError(f"{path.name} must have one input and one output, has {len(inputs)} / {len(outputs)}")
        out_shape = dims(outputs[0].shape)
        return EngineSpec(
            input_name=inputs[0].name,
            input_shape=dims(inputs[0].shape),
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
        ctx, named = self._context, self._version.named_io
        for t in self._tensors:
            if t.is_input:
                if named:
                    ctx.set_input_shape(t.name, input_shape)
                else:
                    ctx.set_binding_shape(t.index, input_shape)
        for t in self._tensors:
            if t.is_input:
                shape = tuple(input_shape)
            elif named:
                shape = tuple(ctx.get_tensor_shape(t.name))
            else:
                shape = tuple(ctx.get_binding_shape(t.index))
            if any(d < 0 for d in shape):
                raise EngineError(f"TensorRT could not resolve the shape of {t.name} for input {input_shape}")
            t.host = self._cuda.host_empty(shape, t.dtype)
            t.device = self._cuda.malloc(max(int(t.host.nbytes), 1))
            if named:
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
        if self._version.named_io:
            ok = self._context.execute_async_v3(handle)
        else:
            ok = self._context.execute_async_v2(bindings=self._bindings, stream_handle=handle)
        if ok is False:
            raise EngineError(f"TensorRT execution failed for {self.spec.path.name}")
        self._cuda.dtoh_async(out.host, out.device, self._stream)
        self._cuda.synchronize(self._stream)
        return out.host.copy()

    def close(self) -> None:
        """Free device and pinned buffers, the stream, context and engine (idempotent)."""
        if self._tensors:
            self._free_buffers()
        if self._stream is not None:
            self._cuda.stream_destroy(self._stream)
            self._stream = None
        self._context = None
        self._engine = None
        self._loader = None
        self._cuda.close()
        super().close()

    def buffers(self) -> Dict[str, Tuple[Tuple[int, ...], int]]:
        """``{tensor name: (host shape, device pointer)}`` of the current allocation (for tests/debug)."""
        return {t.name: (tuple(t.host.shape) if t.host is not None else (), t.device) for t in self._tensors}
