"""ONNX Runtime backend: providers TensorRT EP → CUDA EP → CPU, each fallback with a one-line notice.

On a Jetson with ``onnxruntime-gpu`` (Jetson Zoo wheels) the TensorRT EP builds and caches an
engine on first run in ``~/.cache/b2v-edge/ort-trt/<sha256 of the ONNX file>/`` (created here: ORT
creates only the last folder of the path, and keys its cache by file and tensor *names*, not
weights, so one shared folder would hand a re-exported model the old engine). On a plain
``onnxruntime`` install only the CPU provider exists and the model runs there.

Precision: the graph carries it. The fp16 graph keeps its warp geometry in float32 by explicit
casts, so the TensorRT EP runs it *without* ``trt_fp16_enable`` (which would build a weakly typed
network free to run those casts in fp16); the INT8 Q/DQ graph keeps ``trt_int8_enable``. The CUDA
EP runs float32 MatMul/Gemm/Conv without TF32 (``use_tf32=0``, ONNX Runtime >= 1.18), because TF32
rounds the sampling-coordinate math to 10 mantissa bits. The TensorRT EP has no such option: set
``NVIDIA_TF32_OVERRIDE=0`` in the environment to keep TF32 out of its engines.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.manifest import sha256_file
from b2v_edge.common.paths import cache_dir

from .base import Engine, EngineError, EngineSpec, dims, merge_spec

__all__ = ["DEFAULT_PROVIDERS", "OrtEngine", "session_options", "trt_cache_dir"]

log = logging.getLogger("b2v_edge.runtime")

DEFAULT_PROVIDERS: Tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)
_GPU_PROVIDERS = frozenset(DEFAULT_PROVIDERS[:2])


def _short(provider: str) -> str:
    return provider.replace("ExecutionProvider", "")


def session_options(threads: Optional[int] = None, inter_threads: Optional[int] = None) -> Any:
    """ONNX Runtime ``SessionOptions`` for low-latency single-stream inference.

    Args:
        threads: intra-op threads (None = ORT default, one per physical core).
        inter_threads: inter-op threads (None = ORT default).
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spin while Run() works, not after: between frames the capture, preview and writer threads (and
    # any other process on the device) get the cores instead of ORT workers busy-waiting for work.
    so.add_session_config_entry("session.force_spinning_stop", "1")
    if threads is not None:
        if threads < 0:
            raise EngineError(f"threads must be >= 0, got {threads}")
        so.intra_op_num_threads = threads
    if inter_threads is not None:
        so.inter_op_num_threads = inter_threads
    return so


def trt_cache_dir(sha256: str) -> Path:
    """The TensorRT EP engine cache of one ONNX file (by content), created with its parents."""
    folder = cache_dir("ort-trt") / sha256[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _cuda_tf32_option() -> Dict[str, Any]:
    """``{"use_tf32": 0}`` where this ONNX Runtime knows the option (1.18+; unknown keys are errors)."""
    import onnxruntime as ort

    parts = str(getattr(ort, "__version__", "0.0")).split(".")[:2]
    try:
        known = (int(parts[0]), int(parts[1])) >= (1, 18)
    except (ValueError, IndexError):
        known = False
    return {"use_tf32": 0} if known else {}


def _provider_entry(name: str, precision: str, sha256: str) -> Union[str, Tuple[str, Dict[str, Any]]]:
    if name == "TensorrtExecutionProvider":
        return name, {
            "trt_fp16_enable": False,  # the fp16 graph's types decide; the flag would loosen them
            "trt_int8_enable": precision == "int8",
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(trt_cache_dir(sha256)),
        }
    if name == "CUDAExecutionProvider":
        options = _cuda_tf32_option()
        return (name, options) if options else name
    return name


def choose_providers(wanted: Sequence[str], available: Sequence[str]) -> List[str]:
    """Keep the wanted providers this ONNX Runtime build has, in order (CPU always last resort).

    Raises:
        EngineError: an explicitly requested provider list that this build cannot satisfy at all.
    """
    have = set(available)
    chosen = [p for p in wanted if p in have]
    missing = [_short(p) for p in wanted if p not in have and p in _GPU_PROVIDERS]
    if missing and tuple(wanted) == DEFAULT_PROVIDERS:
        log.info("ONNX Runtime has no %s provider (install onnxruntime-gpu for GPUs)", "/".join(missing))
    if not chosen:
        raise EngineError(
            f"none of the providers {', '.join(wanted)} is in this ONNX Runtime (it has {', '.join(available)})"
        )
    return chosen


def _create_session(path: Path, so: Any, providers: List[str], precision: str, sha256: str) -> Tuple[Any, str]:
    """Create a session, dropping the first provider (one-line notice) while it fails."""
    import onnxruntime as ort

    remaining = list(providers)
    while True:
        entries = [_provider_entry(p, precision, sha256) for p in remaining]
        try:
            session = ort.InferenceSession(str(path), sess_options=so, providers=entries)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            if len(remaining) == 1:
                raise EngineError(f"ONNX Runtime cannot load {path.name}: {reason}") from exc
            log.warning("%s failed (%s); falling back to %s", _short(remaining[0]), reason, _short(remaining[1]))
            remaining = remaining[1:]
            continue
        actual = session.get_providers()
        used = actual[0] if actual else remaining[0]
        if used != remaining[0]:
            log.warning("%s could not start; running on %s", _short(remaining[0]), _short(used))
        return session, used


class OrtEngine(Engine):
    """An ONNX model run by ONNX Runtime.

    Args:
        path: the ``.onnx`` file (single file, no external data needed).
        precision: for the spec/overlay (the graph itself decides what runs in fp16/int8).
        threads: intra-op threads (None = ORT default).
        providers: providers to try in order (None = TensorRT EP → CUDA EP → CPU).
        expected: the manifest's spec, cross-checked against the graph.
        sha256: the file's SHA-256 (from the manifest; None = hashed here when the TensorRT EP is
            tried), naming its TensorRT EP engine cache.
    """

    def __init__(
        self,
        path: Union[str, Path],
        precision: str = "unknown",
        threads: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
        expected: Optional[EngineSpec] = None,
        sha256: Optional[str] = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(path)
        chosen = choose_providers(tuple(providers or DEFAULT_PROVIDERS), ort.get_available_providers())
        if sha256 is None and "TensorrtExecutionProvider" in chosen:
            sha256 = sha256_file(path)
        self._session, used = _create_session(path, session_options(threads), chosen, precision, sha256 or "")
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise EngineError(
                f"{path.name} must have one input and at least one output, has {len(inputs)} / {len(outputs)}"
            )
        out_shape = dims(outputs[0].shape)
        actual = EngineSpec(
            input_name=inputs[0].name,
            input_shape=dims(inputs[0].shape),
            output_name=outputs[0].name,
            output_shape=out_shape,
            precision=precision,
            frames=int(out_shape[1] or 0) if len(out_shape) == 5 else 0,
            backend="onnxruntime",
            provider=used,
            path=path,
        )
        super().__init__(merge_spec(expected, actual))
        if len(self.spec.input_shape) != 4 or len(self.spec.output_shape) != 5:
            raise EngineError(
                f"{path.name} maps {inputs[0].shape} -> {outputs[0].shape}; expected [B,3,H,W] -> [B,N,3,H,W]"
            )
        self._input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32

    def _infer_impl(self, blurred: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise EngineError("engine is closed")
        x = blurred if self._input_dtype == np.float32 else blurred.astype(self._input_dtype)
        return self._session.run([self.spec.output_name], {self.spec.input_name: x})[0]

    def close(self) -> None:
        """Release the ONNX Runtime session (idempotent)."""
        self._session = None
        super().close()
