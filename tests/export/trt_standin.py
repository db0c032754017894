"""A stand-in for the ``tensorrt`` Python module (TESTS ONLY), gated by the real API surface.

Every public name the stand-in offers for TensorRT ``X.Y`` is checked, at access time, against the
surface extracted from NVIDIA's real bindings of that version (``tests/trt_api/surfaces``): a name
the real module lacks raises ``AttributeError`` exactly as the real one would, and enum values are
the real ones (``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` is 0 in 11.x). Every access is
recorded in ``touched`` as ``(real class, name)`` for the surface tests.

TensorRT 8.0 / 8.2 / 8.5 have no bindings wheel: their surface is 8.6.1's minus the names that
``python/src`` of ``release/8.0`` / ``8.2`` / ``8.4`` / ``8.5`` does not bind (``trt_surfaces.ADDED_IN``).

Behaviour mimicked from the real module:

* ``Builder(logger)`` / ``Runtime(logger)`` raise ``TypeError`` when no GPU is visible (pybind11's
  "factory function returned nullptr"), never a falsy object;
* the ONNX parser names layers as onnx-tensorrt does: a node's first layer gets the node name,
  helper layers (the bias add of a ``Gemm``, constants) are ``(Unnamed Layer* N) [Type]`` and
  produce the node's ONNX output tensor; integer tensors are ``int32`` with INT32 layers, ``Shape``
  outputs are shape tensors;
* ``BuilderFlag.TF32`` exists and is on by default; ``clear_flag`` is recorded;
* a version-compatible plan deserializes only with ``Runtime.engine_host_code_allowed = True`` and
  only in the same or a newer TensorRT;
* ``set_timing_cache`` returns False for a cache from another device (blob ``FOREIGN...``) and
  ``create_timing_cache`` returns None for a corrupt blob (``CORRUPT...``).

Re-exported from ``cuda_standin.py``: :class:`StandInCuda` simulates device memory for the runtime;
:class:`FakePyCuda` is a ``pycuda.driver`` with PyCUDA's context stack (abort at exit when it is not empty).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np


def _sibling(name: str) -> types.ModuleType:
    """``tests/export/<name>.py`` as ``sys.modules[name]`` (this file is loaded by path, not as a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


StandInCuda = _sibling("cuda_standin").StandInCuda
FakePyCuda = _sibling("cuda_standin").FakePyCuda
_surfaces = _sibling("trt_surfaces")
Surface, _key = _surfaces.Surface, _surfaces.version_key

NO_GPU = "pybind11::init(): factory function returned nullptr"
PLAN_MAGIC = b"STANDIN-PLAN\n"
#: Public names that are the stand-in's own test controls, not TensorRT API.
TEST_API = frozenset(
    {
        "calls",
        "parsed",
        "touched",
        "no_gpu",
        "fail_parse",
        "fail_build",
        "fast_int8",
        "names",
        "surface",
        "version",
        "memory",
        "engine",
        "plan_bytes",
    }
)


def _dt(trt: "StandIn", name: str) -> Any:
    """A dtype of the stand-in without recording it as touched (internal use)."""
    return trt.__dict__[name]


# ---- gating ------------------------------------------------------------------------------------
class _Gated:
    """Base of stand-in objects: public attribute access is checked against the real surface."""

    _real = ""

    def __init__(self, trt: "StandIn") -> None:
        object.__setattr__(self, "_trt", trt)

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            object.__getattribute__(self, "_trt")._touch(type(self)._real, name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_"):
            self._trt._touch(type(self)._real, name)
            layer = self.__dict__.get("name") if type(self)._real == "ILayer" else None
            record = (
                (f"{self._real}.{name}", layer, _describe(value))
                if layer
                else (f"{self._real}.{name}", _describe(value))
            )
            self._trt.calls.append(record)
        object.__setattr__(self, name, value)


def _describe(value: Any) -> Any:
    if isinstance(value, _Member):
        return value.name
    if isinstance(value, (int, float, str, bool, type(None))):
        return value
    return type(value).__name__


class _Member(int):
    """An enum member: an int with the real value and its name."""

    def __new__(cls, value: int, name: str) -> "_Member":
        member = super().__new__(cls, value)
        member.name = name
        return member

    def __repr__(self) -> str:
        return self.name


class _Enum(_Gated):
    def __init__(self, trt: "StandIn", real: str) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_members", trt.surface.enums.get(real, {}))
        object.__setattr__(self, "_name", real)

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        trt, real = object.__getattribute__(self, "_trt"), object.__getattribute__(self, "_name")
        trt._touch(real, name)
        return _Member(object.__getattribute__(self, "_members")[name], f"{real}.{name}")


# ---- network, parser, builder ------------------------------------------------------------------
class _Tensor(_Gated):
    _real = "ITensor"

    def __init__(self, trt: "StandIn", name: str, shape: Sequence[int], dtype: Any, shape_tensor: bool = False):
        super().__init__(trt)
        for key, value in (("name", name), ("shape", tuple(shape)), ("dtype", dtype)):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "is_shape_tensor", shape_tensor)


class _Layer(_Gated):
    _real = "ILayer"

    def __init__(self, trt: "StandIn", name: str, kind: str, inputs: List[_Tensor], outputs: List[_Tensor]) -> None:
        super().__init__(trt)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", _Member(trt.surface.enums["LayerType"][kind], f"LayerType.{kind}"))
        object.__setattr__(self, "_inputs", inputs)
        object.__setattr__(self, "_outputs", outputs)
        object.__setattr__(self, "num_inputs", len(inputs))
        object.__setattr__(self, "num_outputs", len(outputs))
        ints = (_dt(trt, "int32"), _dt(trt, "bool"))
        int_only = bool(outputs) and all(object.__getattribute__(o, "dtype") in ints for o in outputs)
        object.__setattr__(self, "precision", _dt(trt, "int32") if int_only else _dt(trt, "float32"))

    def get_input(self, i: int) -> _Tensor:
        return self._inputs[i]

    def get_output(self, i: int) -> _Tensor:
        return self._outputs[i]

    def set_output_type(self, i: int, dtype: Any) -> None:
        self._trt.calls.append(("ILayer.set_output_type", self.name, i, _describe(dtype)))


class _Network(_Gated):
    _real = "INetworkDefinition"

    def __init__(self, trt: "StandIn", flags: int) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_flags", flags)
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_inputs", [])
        object.__setattr__(self, "_io", {})

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def get_layer(self, i: int) -> _Layer:
        return self._layers[i]

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    def get_input(self, i: int) -> _Tensor:
        return self._inputs[i]


_ONNX_DTYPES = {1: "float32", 10: "float16", 6: "int32", 7: "int32", 9: "bool"}
_LAYER_TYPES = {
    "Conv": "CONVOLUTION",
    "ConvTranspose": "DECONVOLUTION",
    "MatMul": "MATRIX_MULTIPLY",
    "Shape": "SHAPE",
    "Cast": "CAST",
    "Gather": "GATHER",
    "GatherElements": "GATHER",
    "GridSample": "GRID_SAMPLE",
    "Reshape": "SHUFFLE",
    "Transpose": "SHUFFLE",
    "Concat": "CONCATENATION",
    "Slice": "SLICE",
    "Resize": "RESIZE",
    "Floor": "UNARY",
    "Relu": "ACTIVATION",
}


class _Parser(_Gated):
    """``OnnxParser``: one TensorRT layer per ONNX node named as onnx-tensorrt names them."""

    _real = "OnnxParser"

    def __init__(self, trt: "StandIn", network: _Network) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_network", network)
        object.__setattr__(self, "_errors", [])
        object.__setattr__(self, "_unnamed", itertools.count())

    def parse(self, data: bytes) -> bool:
        import onnx

        trt = self._trt
        trt.calls.append(("OnnxParser.parse", len(data)))
        trt.parsed.append(bytes(data))
        if trt.fail_parse:
            self._errors.append(_ParserError(trt, "stand-in parse error: unsupported node"))
            return False
        model = onnx.shape_inference.infer_shapes(onnx.load_from_string(data))
        types_of = {
            v.name: _ONNX_DTYPES.get(v.type.tensor_type.elem_type, "float32")
            for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)
        }
        types_of.update({t.name: _ONNX_DTYPES.get(t.data_type, "float32") for t in model.graph.initializer})
        first, last = model.graph.input[0], model.graph.output[0]
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in first.type.tensor_type.shape.dim]
        out_dims = [d.dim_value if d.HasField("dim_value") else -1 for d in last.type.tensor_type.shape.dim]
        self._network._io.update(input=first.name, size=dims[2:], frames=out_dims[1] if len(out_dims) == 5 else 3)
        tensors = {first.name: _Tensor(trt, first.name, dims, _dt(trt, "float32"))}
        inits = {t.name for t in model.graph.initializer}
        for node in model.graph.node:
            self._import(node, types_of, tensors, inits)
        self._network._inputs.append(tensors[first.name])
        return True

    def _unnamed_name(self, kind: str) -> str:
        return f"(Unnamed Layer* {next(self._unnamed)}) [{kind}]"

    def _tensor(self, tensors: Dict[str, _Tensor], name: str, dtype: str, inits: Set[str]) -> _Tensor:
        if name not in tensors:  # an initializer used as a tensor: an unnamed constant layer makes it
            trt = self._trt
            tensor = _Tensor(trt, name, (1,), _dt(trt, dtype))
            layer = _Layer(trt, self._unnamed_name("Constant"), "CONSTANT", [], [tensor])
            self._network._layers.append(layer)
            tensors[name] = tensor
        return tensors[name]

    def _import(self, node: Any, types_of: Dict[str, str], tensors: Dict[str, _Tensor], inits: Set[str]) -> None:
        trt = self._trt
        if node.op_type == "Constant":  # weights, not a layer
            for out in node.output:
                tensors[out] = _Tensor(trt, out, (1,), _dt(trt, types_of.get(out, "float32")))
            return
        inputs = [self._tensor(tensors, i, types_of.get(i, "float32"), inits) for i in node.input if i]
        shape_out = node.op_type == "Shape"
        outs = [_Tensor(trt, o, (1,), _dt(trt, types_of.get(o, "float32")), shape_out) for o in node.output]
        if node.op_type == "Gemm" and len(node.input) > 2:  # MatMul (registered) + bias add (unnamed)
            product = _Tensor(trt, self._unnamed_name("Matrix Multiply") + "_output", (1,), _dt(trt, "float32"))
            self._network._layers.append(_Layer(trt, node.name, "MATRIX_MULTIPLY", inputs[:2], [product]))
            bias = inputs[2]
            add = _Layer(trt, self._unnamed_name("ElementWise"), "ELEMENTWISE", [product, bias], outs)
            self._network._layers.append(add)
        else:
            kind = _LAYER_TYPES.get(node.op_type, "ELEMENTWISE")
            self._network._layers.append(_Layer(trt, node.name, kind, inputs, outs))
        for out in outs:
            tensors[out.name] = out

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, i: int) -> "_ParserError":
        return self._errors[i]


class _ParserError(_Gated):
    _real = "ParserError"

    def __init__(self, trt: "StandIn", text: str) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_text", text)

    def desc(self) -> str:
        return self._text


class _Profile(_Gated):
    _real = "IOptimizationProfile"

    def set_shape(self, name: str, low: Sequence[int], opt: Sequence[int], high: Sequence[int]) -> None:
        self._trt.calls.append(("IOptimizationProfile.set_shape", name, tuple(low), tuple(opt), tuple(high)))


class _TimingCache(_Gated):
    _real = "ITimingCache"

    def __init__(self, trt: "StandIn", data: bytes) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_data", data)

    def serialize(self) -> bytes:
        return b"TUNED:" + self._trt.version.encode()


class _HostMemory(_Gated):
    _real = "IHostMemory"

    def __init__(self, trt: "StandIn", data: bytes) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_data", data)

    def __bytes__(self) -> bytes:
        return self._data


class _Config(_Gated):
    _real = "IBuilderConfig"

    def __init__(self, trt: "StandIn") -> None:
        super().__init__(trt)
        object.__setattr__(self, "_flags", {"TF32"})  # TF32 is on by default in every version
        object.__setattr__(self, "_cache", None)

    def set_flag(self, flag: _Member) -> None:
        self._trt.calls.append(("IBuilderConfig.set_flag", flag.name.split(".")[-1]))
        self._flags.add(flag.name.split(".")[-1])

    def clear_flag(self, flag: _Member) -> None:
        self._trt.calls.append(("IBuilderConfig.clear_flag", flag.name.split(".")[-1]))
        self._flags.discard(flag.name.split(".")[-1])

    def get_flag(self, flag: _Member) -> bool:
        return flag.name.split(".")[-1] in self._flags

    def set_memory_pool_limit(self, pool: _Member, size: int) -> None:
        self._trt.calls.append(("IBuilderConfig.set_memory_pool_limit", pool.name, size))

    def add_optimization_profile(self, profile: _Profile) -> int:
        self._trt.calls.append(("IBuilderConfig.add_optimization_profile",))
        return 0

    def create_timing_cache(self, data: bytes) -> Optional[_TimingCache]:
        self._trt.calls.append(("IBuilderConfig.create_timing_cache", bytes(data)))
        return None if bytes(data).startswith(b"CORRUPT") else _TimingCache(self._trt, bytes(data))

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        if not isinstance(cache, _TimingCache):
            raise TypeError("set_timing_cache(): incompatible function arguments")
        accepted = ignore_mismatch or not cache._data.startswith(b"FOREIGN")
        self._trt.calls.append(("IBuilderConfig.set_timing_cache", ignore_mismatch, accepted))
        if accepted:
            object.__setattr__(self, "_cache", cache)
        return accepted

    def get_timing_cache(self) -> Optional[_TimingCache]:
        return self._cache


class _Builder(_Gated):
    _real = "Builder"

    def create_network(self, flags: int = 0) -> _Network:
        self._trt.calls.append(("Builder.create_network", int(flags)))
        return _Network(self._trt, int(flags))

    def create_builder_config(self) -> _Config:
        self._trt.calls.append(("Builder.create_builder_config",))
        return _Config(self._trt)

    def create_optimization_profile(self) -> _Profile:
        return _Profile(self._trt)

    @property
    def platform_has_fast_int8(self) -> bool:
        return self._trt.fast_int8

    def build_serialized_network(self, network: _Network, config: _Config) -> Optional[_HostMemory]:
        trt = self._trt
        trt.calls.append(("Builder.build_serialized_network",))
        if trt.fail_build:
            return None
        plan = {
            "tensorrt": trt.version,
            "version_compatible": "VERSION_COMPATIBLE" in config._flags,
            "tf32": "TF32" in config._flags,
            **network._io,
        }
        return _HostMemory(trt, PLAN_MAGIC + json.dumps(plan).encode())


# ---- runtime -----------------------------------------------------------------------------------
class _Context(_Gated):
    _real = "IExecutionContext"

    def __init__(self, trt: "StandIn", engine: "_Engine") -> None:
        super().__init__(trt)
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_shapes", dict(engine._shapes))
        object.__setattr__(self, "_addr", {})

    def _resolve(self, shape: Sequence[int]) -> None:
        self._shapes[self._engine._names[0]] = tuple(shape)
        self._shapes[self._engine._names[1]] = (shape[0], self._engine._frames, *tuple(shape)[1:])

    def set_binding_shape(self, i: int, shape: Sequence[int]) -> bool:
        self._trt.calls.append(("IExecutionContext.set_binding_shape", i, tuple(shape)))
        self._resolve(shape)
        return True

    def get_binding_shape(self, i: int) -> Tuple[int, ...]:
        return self._shapes[self._engine._names[i]]

    def set_input_shape(self, name: str, shape: Sequence[int]) -> bool:
        self._trt.calls.append(("IExecutionContext.set_input_shape", name, tuple(shape)))
        self._resolve(shape)
        return True

    def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
        return self._shapes[name]

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self._trt.calls.append(("IExecutionContext.set_tensor_address", name))
        self._addr[name] = ptr
        return True

    def _run(self, x_ptr: int, y_ptr: int) -> bool:
        shape = self._shapes[self._engine._names[0]]
        self._trt.memory.frames(x_ptr, y_ptr, shape, self._engine._frames)
        return True

    def execute_async_v2(self, bindings: Sequence[int], stream_handle: int) -> bool:
        self._trt.calls.append(("IExecutionContext.execute_async_v2", len(bindings), stream_handle))
        return self._run(bindings[0], bindings[1])

    def execute_async_v3(self, stream_handle: int) -> bool:
        self._trt.calls.append(("IExecutionContext.execute_async_v3", stream_handle))
        names = self._engine._names
        return self._run(self._addr[names[0]], self._addr[names[1]])


class _Engine(_Gated):
    """``ICudaEngine`` with one input ``[B,3,H,W]`` and one output ``[B,N,3,H,W]``."""

    _real = "ICudaEngine"

    def __init__(self, trt: "StandIn", frames: int = 3, size: Tuple[int, int] = (8, 8), batch: int = -1) -> None:
        super().__init__(trt)
        names = ["blurred", "frames"]
        shapes = {"blurred": (batch, 3, *size), "frames": (batch, frames, 3, *size)}
        for key, value in (("_names", names), ("_shapes", shapes), ("_frames", frames)):
            object.__setattr__(self, key, value)

    def create_execution_context(self) -> _Context:
        self._trt.calls.append(("ICudaEngine.create_execution_context",))
        return _Context(self._trt, self)

    # 8.x bindings
    @property
    def num_bindings(self) -> int:
        return 2

    def get_binding_name(self, i: int) -> str:
        return self._names[i]

    def binding_is_input(self, i: int) -> bool:
        return i == 0

    def get_binding_shape(self, i: int) -> Tuple[int, ...]:
        return self._shapes[self._names[i]]

    def get_binding_dtype(self, i: int) -> _Member:
        return _dt(self._trt, "float32")

    # 8.5+ named tensors
    @property
    def num_io_tensors(self) -> int:
        return 2

    def get_tensor_name(self, i: int) -> str:
        return self._names[i]

    def get_tensor_mode(self, name: str) -> _Member:
        modes = self._trt.surface.enums["TensorIOMode"]
        mode = "INPUT" if name == self._names[0] else "OUTPUT"
        return _Member(modes[mode], f"TensorIOMode.{mode}")

    def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
        return self._shapes[name]

    def get_tensor_dtype(self, name: str) -> _Member:
        return _dt(self._trt, "float32")


class _Runtime(_Gated):
    _real = "Runtime"

    def __init__(self, trt: "StandIn") -> None:
        super().__init__(trt)
        if trt.surface.has("Runtime", "engine_host_code_allowed"):
            object.__setattr__(self, "engine_host_code_allowed", False)

    def deserialize_cuda_engine(self, data: bytes) -> Optional[_Engine]:
        trt = self._trt
        trt.calls.append(("Runtime.deserialize_cuda_engine", len(data)))
        if not bytes(data).startswith(PLAN_MAGIC):
            return None
        plan = json.loads(bytes(data)[len(PLAN_MAGIC) :])
        built, here = _key(plan["tensorrt"])[:3], _key(trt.version)[:3]
        compatible = bool(plan.get("version_compatible"))
        if compatible and not self.__dict__.get("engine_host_code_allowed", False):
            return None  # the embedded lean runtime is host code: TensorRT refuses it unless trusted
        if built != here and not (compatible and here > built):
            return None
        return _Engine(trt, frames=int(plan.get("frames", 3)), size=tuple(plan.get("size", (8, 8))))


# ---- the module --------------------------------------------------------------------------------
class StandIn(types.ModuleType):
    """``tensorrt`` look-alike for one version; ``calls`` is the recorded API sequence."""

    def __init__(self, version: str) -> None:
        super().__init__("tensorrt")
        d = self.__dict__
        d["__version__"] = d["version"] = version
        d["surface"] = Surface(version)
        d["calls"], d["parsed"], d["touched"] = [], [], []
        d["no_gpu"] = d["fail_parse"] = d["fail_build"] = False
        d["fast_int8"] = True
        d["memory"] = None
        for name in self.surface.enums:
            if name[0].isupper() and self.surface.has("module", name):
                d[name] = _Enum(self, name)
        dtypes = self.surface.enums["DataType"]
        for short, member in (("float32", "FLOAT"), ("float16", "HALF"), ("int32", "INT32"), ("bool", "BOOL")):
            d[short] = _Member(dtypes[member], f"DataType.{member}")
        d["Logger"] = _logger_class(self)
        if self.surface.has("module", "IInt8EntropyCalibrator2"):
            d["IInt8EntropyCalibrator2"] = _calibrator_class(self)

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name not in TEST_API:
            object.__getattribute__(self, "_touch")("module", name)
        return object.__getattribute__(self, name)

    def _touch(self, owner: str, name: str) -> None:
        d = object.__getattribute__(self, "__dict__")
        d["touched"].append((owner, name))
        if not d["surface"].has(owner, name):
            raise AttributeError(f"{owner!r} has no attribute {name!r} in TensorRT {d['version']}")

    def Builder(self, logger: Any) -> _Builder:  # noqa: N802 - mirrors tensorrt.Builder
        self.calls.append(("Builder",))
        if self.no_gpu:
            raise TypeError(NO_GPU)
        return _Builder(self)

    def Runtime(self, logger: Any) -> _Runtime:  # noqa: N802
        self.calls.append(("Runtime",))
        if self.no_gpu:
            raise TypeError(NO_GPU)
        return _Runtime(self)

    def OnnxParser(self, network: _Network, logger: Any) -> _Parser:  # noqa: N802
        self.calls.append(("OnnxParser",))
        return _Parser(self, network)

    def nptype(self, dtype: _Member) -> type:
        return {"DataType.FLOAT": np.float32, "DataType.HALF": np.float16, "DataType.INT32": np.int32}[dtype.name]

    def names(self) -> List[str]:
        """The recorded call names, in order."""
        return [c[0] for c in self.calls]

    def engine(self, frames: int = 3, size: Tuple[int, int] = (8, 8), batch: int = -1) -> _Engine:
        """A deserialized-engine look-alike for :class:`TrtEngine` tests (loader seam)."""
        return _Engine(self, frames, size, batch)

    def plan_bytes(self, version: Optional[str] = None, version_compatible: bool = False, **extra: Any) -> bytes:
        """A serialized stand-in plan (what ``build_serialized_network`` writes)."""
        body = {"tensorrt": version or self.version, "version_compatible": version_compatible, **extra}
        return PLAN_MAGIC + json.dumps(body).encode()


class _GatedType(type):
    """Metaclass gating class-level attribute access (``trt.Logger.WARNING``)."""

    def __getattribute__(cls, name: str) -> Any:
        if not name.startswith("_"):
            trt = type.__getattribute__(cls, "_trt")
            trt._touch(type.__getattribute__(cls, "_real"), name)
        return type.__getattribute__(cls, name)


def _logger_class(trt: StandIn) -> type:
    severity = trt.surface.enums.get("Severity") or {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3}
    attrs = {"_trt": trt, "_real": "Logger", "__init__": lambda self, level=2: trt.calls.append(("Logger", int(level)))}
    attrs.update({k: _Member(v, f"Severity.{k}") for k, v in severity.items() if k in ("ERROR", "WARNING", "INFO")})
    return _GatedType("Logger", (), attrs)


def _calibrator_class(trt: StandIn) -> type:
    def __init__(self: Any) -> None:  # noqa: N807
        trt.calls.append(("IInt8EntropyCalibrator2",))

    return _GatedType(
        "IInt8EntropyCalibrator2", (), {"_trt": trt, "_real": "IInt8EntropyCalibrator2", "__init__": __init__}
    )
