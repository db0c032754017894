"""A stand-in for the ``tensorrt`` Python module (TESTS ONLY): records the build call sequence.

It mimics the API surface ``b2v_edge.export.trt_build`` uses for one TensorRT line (8.0, 8.2, 8.5,
8.6, 10.x, 11.x): enums that exist or not per version, attributes removed in later versions, a
parser that "parses" the ONNX file into layers named after its nodes. No GPU, no real plan.
"""

from __future__ import annotations

import types
from typing import Any, List, Optional, Sequence, Tuple

import onnx


class _Enum:
    def __init__(self, **members: int) -> None:
        for name, value in members.items():
            setattr(self, name, value)


class _Tensor:
    def __init__(self, name: str, shape: Sequence[int], dtype: str = "float32") -> None:
        self.name, self.shape, self.dtype = name, tuple(shape), dtype


class _Layer:
    def __init__(self, trt: "StandIn", name: str) -> None:
        self._trt, self.name, self.num_outputs = trt, name, 1
        self._outputs = [_Tensor(name + ":0", (1,), "float32")]
        self._precision: Optional[str] = None

    @property
    def precision(self) -> Optional[str]:
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        self._precision = value
        self._trt.calls.append(("layer.precision", self.name, value))

    def get_output(self, i: int) -> _Tensor:
        return self._outputs[i]

    def set_output_type(self, i: int, dtype: str) -> None:
        self._trt.calls.append(("layer.set_output_type", self.name, i, dtype))


class _Network:
    def __init__(self, trt: "StandIn", flags: int) -> None:
        self.trt, self.flags, self.layers, self.inputs = trt, flags, [], []

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def get_layer(self, i: int) -> _Layer:
        return self.layers[i]

    def get_input(self, i: int) -> _Tensor:
        return self.inputs[i]


class _Parser:
    def __init__(self, network: _Network, logger: Any) -> None:
        self.network, self.errors = network, []

    def parse(self, data: bytes) -> bool:
        trt = self.network.trt
        trt.calls.append(("parser.parse", len(data)))
        trt.parsed.append(data)
        if trt.fail_parse:
            self.errors.append(types.SimpleNamespace(desc=lambda: "stand-in parse error: unsupported node"))
            return False
        model = onnx.load_from_string(data)
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in model.graph.input[0].type.tensor_type.shape.dim]
        self.network.inputs = [_Tensor(model.graph.input[0].name, dims)]
        self.network.layers = [_Layer(trt, n.name) for n in model.graph.node]
        return True

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    def get_error(self, i: int) -> Any:
        return self.errors[i]


class _Profile:
    def __init__(self, trt: "StandIn") -> None:
        self.trt = trt

    def set_shape(self, name: str, low: Tuple[int, ...], opt: Tuple[int, ...], high: Tuple[int, ...]) -> None:
        self.trt.calls.append(("profile.set_shape", name, tuple(low), tuple(opt), tuple(high)))


class _TimingCache:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self) -> bytes:
        return self.data + b"+tuned"


class _Config:
    def __init__(self, trt: "StandIn") -> None:
        object.__setattr__(self, "trt", trt)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "max_workspace_size" and self.trt.major >= 10:
            raise AttributeError("max_workspace_size was removed in TensorRT 10")
        self.trt.calls.append((f"config.{name}", value if name != "int8_calibrator" else type(value).__name__))
        object.__setattr__(self, name, value)

    def set_flag(self, flag: int) -> None:
        self.trt.calls.append(("config.set_flag", self.trt.flag_name(flag)))

    def set_memory_pool_limit(self, pool: int, size: int) -> None:
        if (self.trt.major, self.trt.minor) < (8, 4):
            raise AttributeError("set_memory_pool_limit is new in 8.4")
        self.trt.calls.append(("config.set_memory_pool_limit", pool, size))

    def add_optimization_profile(self, profile: _Profile) -> int:
        self.trt.calls.append(("config.add_optimization_profile",))
        return 0

    def create_timing_cache(self, data: bytes) -> _TimingCache:
        self.trt.calls.append(("config.create_timing_cache", bytes(data)))
        return _TimingCache(bytes(data))

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        self.trt.calls.append(("config.set_timing_cache", ignore_mismatch))
        return True


class _Builder:
    def __init__(self, trt: "StandIn") -> None:
        self.trt = trt

    def __bool__(self) -> bool:
        return not self.trt.no_gpu

    def create_network(self, flags: int = 0) -> _Network:
        self.trt.calls.append(("builder.create_network", flags))
        return _Network(self.trt, flags)

    def create_builder_config(self) -> _Config:
        self.trt.calls.append(("builder.create_builder_config",))
        return _Config(self.trt)

    def create_optimization_profile(self) -> _Profile:
        return _Profile(self.trt)

    def build_serialized_network(self, network: _Network, config: _Config) -> Optional[bytes]:
        self.trt.calls.append(("builder.build_serialized_network",))
        return None if self.trt.fail_build else b"RAWPLAN" + self.trt.__version__.encode()


class StandIn(types.ModuleType):
    """``tensorrt`` look-alike for one version; ``calls`` is the recorded API sequence."""

    def __init__(self, version: str, strongly_typed_enum: bool = True) -> None:
        super().__init__("tensorrt")
        self.__version__ = version
        self.major, self.minor = (int(v) for v in version.split(".")[:2])
        self.calls: List[tuple] = []
        self.parsed: List[bytes] = []
        self.no_gpu = self.fail_parse = self.fail_build = False
        flags = {"EXPLICIT_BATCH": 0}
        if self.major >= 10 and strongly_typed_enum:
            flags["STRONGLY_TYPED"] = 1
        self.NetworkDefinitionCreationFlag = _Enum(**flags)
        self._flags = {"FP16": 0, "INT8": 1}
        if self.major == 8 and self.minor < 2:
            self._flags["STRICT_TYPES"] = 5
        elif self.major == 8:
            self._flags["OBEY_PRECISION_CONSTRAINTS"] = 6
        if (self.major, self.minor) >= (8, 6):
            self._flags["VERSION_COMPATIBLE"] = 7
        if self.major >= 11:  # precision flags are gone: precision comes from the graph
            self._flags = {k: v for k, v in self._flags.items() if k not in ("FP16", "INT8")}
        self.BuilderFlag = _Enum(**self._flags)
        self.MemoryPoolType = _Enum(WORKSPACE=0)
        self.HardwareCompatibilityLevel = _Enum(NONE=0, AMPERE_PLUS=1)
        self.float32, self.float16 = "float32", "float16"
        trt = self

        class Logger:
            WARNING = 2

            def __init__(self, level: int = 2) -> None:
                trt.calls.append(("Logger", level))

        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                trt.calls.append(("IInt8EntropyCalibrator2",))

        self.Logger = Logger
        self.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    def flag_name(self, value: int) -> str:
        return next(k for k, v in self._flags.items() if v == value)

    def Builder(self, logger: Any) -> _Builder:  # noqa: N802 - mirrors tensorrt.Builder
        self.calls.append(("Builder",))
        return _Builder(self)

    def OnnxParser(self, network: _Network, logger: Any) -> _Parser:  # noqa: N802
        self.calls.append(("OnnxParser",))
        return _Parser(network, logger)

    def names(self) -> List[str]:
        """The recorded call names, in order."""
        return [c[0] for c in self.calls]


class StandInCuda:
    """``CudaApi`` look-alike for device facts."""

    def device_info(self) -> Tuple[str, str]:
        return "Orin (stand-in)", "8.7"
