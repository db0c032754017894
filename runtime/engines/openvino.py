"""OpenVINO backend: an ONNX graph compiled by OpenVINO's CPU plugin (x86 CPUs; extra ``[openvino]``).

OpenVINO reads the deploy dir's ONNX graph directly (no conversion step, no cache) and compiles it
for the CPU. Its inference precision is always passed explicitly (``INFERENCE_PRECISION_HINT``):
on CPUs that report BF16 the plugin's own default is bf16, which moves this model's outputs far
beyond the fp32 pass bar. ``f32`` is the default here; ``bf16`` is a precision of its own
(vocabulary row ``bf16``, with its own parity threshold) that runs the same fp32 graph.

``openvino`` is imported inside :class:`OpenVinoEngine`: importing this module never needs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from .base import Engine, EngineError, EngineSpec, dims, merge_spec

__all__ = ["INFERENCE_HINTS", "OPENVINO_INSTALL_HINT", "OpenVinoEngine", "available", "import_openvino"]

OPENVINO_INSTALL_HINT = (
    "OpenVINO is not installed: pip install 'b2v-edge[openvino]' (x86 CPUs), or use --backend onnxruntime"
)

#: Engine precision → OpenVINO ``INFERENCE_PRECISION_HINT`` (both run the fp32 ONNX graph).
INFERENCE_HINTS: Dict[str, str] = {"fp32": "f32", "bf16": "bf16"}


def available() -> bool:
    """Whether ``openvino`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec("openvino") is not None
    except (ImportError, ValueError):
        return False


def import_openvino() -> Any:
    """``import openvino`` or an :class:`EngineError` that names the extra to install."""
    try:
        import openvino
    except ImportError as exc:
        raise EngineError(OPENVINO_INSTALL_HINT) from exc
    return openvino


def compile_config(precision: str, threads: Optional[int]) -> Dict[str, str]:
    """The CPU plugin properties of one engine: explicit precision, latency mode, fixed threads.

    Args:
        precision: ``fp32`` or ``bf16`` (:data:`INFERENCE_HINTS`).
        threads: inference threads (None or 0 = OpenVINO's default, one per physical core).

    Raises:
        EngineError: a precision OpenVINO does not run here, or negative threads.
    """
    if precision not in INFERENCE_HINTS:
        raise EngineError(
            f"OpenVINO runs the fp32 ONNX graph at {' or '.join(INFERENCE_HINTS)}, not {precision!r}; "
            "use --precision fp32 (default) or bf16"
        )
    config = {"INFERENCE_PRECISION_HINT": INFERENCE_HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
    if threads is not None:
        if threads < 0:
            raise EngineError(f"threads must be >= 0, got {threads}")
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
    return config


def _static(partial: Any) -> tuple:
    """An OpenVINO PartialShape as dims (None for dynamic axes)."""
    return dims([d.get_length() if d.is_static else None for d in partial])


class OpenVinoEngine(Engine):
    """The fp32 ONNX graph run by OpenVINO on the CPU.

    Args:
        path: the ``.onnx`` file (a float32 graph: fp16 and Q/DQ graphs are for ONNX Runtime/TensorRT).
        precision: ``fp32`` (``INFERENCE_PRECISION_HINT=f32``) or ``bf16``.
        threads: inference threads (None = OpenVINO's default).
        expected: the manifest's spec, cross-checked against the graph.

    Raises:
        EngineError: OpenVINO missing (names the extra), an unsupported precision, or a graph it
            cannot read or compile.
    """

    def __init__(
        self,
        path: Union[str, Path],
        precision: str = "fp32",
        threads: Optional[int] = None,
        expected: Optional[EngineSpec] = None,
    ) -> None:
        ov = import_openvino()
        path = Path(path)
        config = compile_config(precision, threads)
        core = ov.Core()
        try:
            model = core.read_model(str(path))
            compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise EngineError(f"OpenVINO cannot load {path.name}: {reason}") from exc
        inputs, outputs = compiled.inputs, compiled.outputs
        if len(inputs) != 1 or not outputs:
            raise EngineError(
                f"{path.name} must have one input and at least one output, has {len(inputs)} / {len(outputs)}"
            )
        out_shape = _static(outputs[0].get_partial_shape())
        actual = EngineSpec(
            input_name=inputs[0].get_any_name(),
            input_shape=_static(inputs[0].get_partial_shape()),
            output_name=outputs[0].get_any_name(),
            output_shape=out_shape,
            precision=precision,
            frames=int(out_shape[1] or 0) if len(out_shape) == 5 else 0,
            backend="openvino",
            provider=f"CPU (OpenVINO {ov.__version__.split('-')[0]})",
            path=path,
        )
        super().__init__(merge_spec(expected, actual))
        if len(self.spec.input_shape) != 4 or len(self.spec.output_shape) != 5:
            raise EngineError(
                f"{path.name} maps {actual.input_shape} -> {actual.output_shape}; expected [B,3,H,W] -> [B,N,3,H,W]"
            )
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
        #: the inference precision the compiled model reports (``f32`` / ``bf16``)
        self.hint = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        self._compiled = compiled
        self._request = compiled.create_infer_request()

    def _infer_impl(self, blurred: np.ndarray) -> np.ndarray:
        if self._request is None:
            raise EngineError("engine is closed")
        result = self._request.infer({0: blurred})
        return np.array(result[self._compiled.outputs[0]], copy=True)

    def close(self) -> None:
        self._request = None
        self._compiled = None
        super().close()
