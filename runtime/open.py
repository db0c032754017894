"""``open_engine``: pick an artifact from a deploy dir (or take one file) and open the right backend.

It never guesses file names: it reads ``manifest.json``, picks the artifact for the backend and
precision (:mod:`.engines.selection`), verifies its sha256, and for TensorRT plans checks that the
plan was built for this TensorRT version and GPU (plans are not portable) before loading it.
Backends are imported on use: opening an ONNX model never imports TensorRT, and the reverse.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from b2v_edge.common.manifest import MANIFEST_NAME, Artifact, Manifest, ManifestError

from .engines.base import Engine, EngineError, EngineSpec, dims
from .engines.selection import (
    GRAPH_OF,
    check_plan_compat,
    openvino_preferred,
    precision_order,
    select_artifact,
)

__all__ = ["BACKENDS", "open_engine"]

log = logging.getLogger("b2v_edge.runtime")

BACKENDS = ("auto", "tensorrt", "onnxruntime", "openvino")
_CUDA_BINDINGS = ("cuda.bindings", "cuda.cudart", "pycuda")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that is missing or half-installed
        return False


def _tensorrt_usable() -> bool:
    """``tensorrt`` and a CUDA binding are importable (a plan needs both to run)."""
    return _importable("tensorrt") and any(_importable(name) for name in _CUDA_BINDINGS)


def _ort_has_gpu() -> bool:
    import onnxruntime as ort

    gpu = {"TensorrtExecutionProvider", "CUDAExecutionProvider"}
    return bool(gpu & set(ort.get_available_providers()))


def _resolve(path: Union[str, Path]) -> Tuple[Optional[Manifest], Optional[Path]]:
    """(manifest, explicit file): a deploy dir, its manifest.json, or one artifact file."""
    p = Path(path).expanduser()
    if p.is_dir() or p.name == MANIFEST_NAME:
        return Manifest.load(p), None
    if not p.exists():
        raise ManifestError(f"{p} does not exist: give a deploy dir (with {MANIFEST_NAME}), an .onnx or a .plan")
    if (p.parent / MANIFEST_NAME).exists():
        return Manifest.load(p.parent), p
    return None, p


def open_engine(
    model: Union[str, Path],
    backend: str = "auto",
    precision: Optional[str] = None,
    *,
    threads: Optional[int] = None,
    providers: Optional[Sequence[str]] = None,
) -> Engine:
    """Open the right artifact of a deploy dir (or one artifact file) as an :class:`Engine`.

    Args:
        model: deploy dir, its ``manifest.json``, or an ``.onnx`` / ``.plan`` file (a file inside a
            deploy dir is checked against that dir's manifest).
        backend: ``"auto"`` (a TensorRT plan when ``tensorrt`` and a CUDA binding are importable and
            the manifest has one; else the fp32 graph via OpenVINO on an x86 CPU where it measured
            faster than ONNX Runtime (:func:`openvino_preferred`); else ONNX via ONNX Runtime),
            ``"tensorrt"``, ``"onnxruntime"`` or ``"openvino"``.
        precision: ``"fp32"``, ``"fp16"``, ``"int8"``, ``"bf16"`` (OpenVINO only, runs the fp32 graph)
            or None for the best available (:func:`precision_order`).
        threads: ONNX Runtime intra-op threads (None = ORT default).
        providers: ONNX Runtime providers to try, in order (None = TensorRT EP → CUDA EP → CPU).

    Raises:
        ManifestError: missing/unknown artifact, sha256 mismatch, plan for another TensorRT/GPU.
        EngineError: the backend cannot be loaded (message names what to install).
    """
    if backend not in BACKENDS:
        raise EngineError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if precision in GRAPH_OF and backend not in ("auto", "openvino"):
        raise EngineError(f"precision {precision} runs only with --backend openvino, not {backend}")
    manifest, file = _resolve(model)
    if file is not None or manifest is None:
        return _open_file(manifest, Path(file or model), backend, precision, threads, providers)
    if backend == "auto":
        backend = _auto_backend(manifest, precision, providers)
    if backend == "openvino":
        art = select_artifact(manifest, "onnx", GRAPH_OF.get(precision or "fp32", precision), ("fp32",), cpu=True)
        return _open_openvino(manifest, art, precision or "fp32", threads)
    if backend == "tensorrt":
        art = select_artifact(manifest, "tensorrt_plan", precision, precision_order("tensorrt", True))
    else:
        gpu = _ort_has_gpu() and not providers
        art = select_artifact(manifest, "onnx", precision, precision_order("onnxruntime", gpu), cpu=not gpu)
    return _open_artifact(manifest, art, backend, threads, providers)


def _auto_backend(manifest: Manifest, precision: Optional[str], providers: Optional[Sequence[str]]) -> str:
    """TensorRT when a usable plan exists, OpenVINO where it measured faster on this CPU, else ONNX Runtime."""
    if precision in GRAPH_OF:
        return "openvino"
    if manifest.find("tensorrt_plan", precision) and _tensorrt_usable():
        return "tensorrt"
    if precision in (None, "fp32") and not providers and not _ort_has_gpu():
        fp32 = manifest.find("onnx", "fp32")
        if fp32 and openvino_preferred(fp32[-1].warp, _importable("openvino")):
            return "openvino"
    return "onnxruntime"


def _open_openvino(
    manifest: Optional[Manifest], art: Optional[Artifact], precision: str, threads: Optional[int]
) -> Engine:
    from .engines.openvino import OpenVinoEngine

    if art is None or manifest is None:
        raise EngineError("OpenVINO needs an ONNX artifact")
    if art.precision != "fp32":
        raise EngineError(f"OpenVINO runs the fp32 graph, {art.path} is {art.precision}; pass --precision fp32 or bf16")
    manifest.verify(art)
    path = manifest.path_of(art)
    return OpenVinoEngine(path, precision, threads, _expected_spec(manifest, art, path, "openvino"))


def _open_file(
    manifest: Optional[Manifest],
    file: Path,
    backend: str,
    precision: Optional[str],
    threads: Optional[int],
    providers: Optional[Sequence[str]],
) -> Engine:
    kind = "tensorrt_plan" if file.suffix in (".plan", ".engine", ".trt") else "onnx"
    want = "tensorrt" if kind == "tensorrt_plan" else "onnxruntime"
    if kind == "onnx" and (backend == "openvino" or precision in GRAPH_OF):
        want = "openvino"
    if backend not in ("auto", want):
        raise EngineError(f"{file.name} is a {kind} file: it runs with --backend {want}, not {backend}")
    if manifest is not None:
        listed = [a for a in manifest.artifacts if (manifest.root / a.path).resolve() == file.resolve()]
        if listed and want == "openvino":
            return _open_openvino(manifest, listed[-1], precision or "fp32", threads)
        if listed:
            if precision is not None and listed[-1].precision != precision:
                raise ManifestError(f"{file.name} is {listed[-1].precision}, not {precision}")
            return _open_artifact(manifest, listed[-1], want, threads, providers)
    log.info("%s has no manifest entry: shapes come from the file, sha256 is not checked", file)
    if want == "openvino":
        from .engines.openvino import OpenVinoEngine

        return OpenVinoEngine(file, precision or "fp32", threads)
    if want == "tensorrt":
        from .engines.trt import TrtEngine

        return TrtEngine.from_plan(file, precision=precision or "unknown")
    from .engines.ort import OrtEngine

    return OrtEngine(file, precision=precision or "unknown", threads=threads, providers=providers)


def _open_artifact(
    manifest: Manifest, art: Artifact, backend: str, threads: Optional[int], providers: Optional[Sequence[str]]
) -> Engine:
    manifest.verify(art)
    path = manifest.path_of(art)
    expected = _expected_spec(manifest, art, path, backend)
    if backend == "tensorrt":
        from .engines.trt import TrtEngine, device_info

        trt_version, cc, gpu = device_info()
        warning = check_plan_compat(art, manifest.root, trt_version, cc, gpu)
        if warning:
            log.warning(warning)
        version_compatible = art.plan.version_compatible
        # the sha256 just verified vouches for the plan: its embedded lean runtime may run
        return TrtEngine.from_plan(
            path, precision=art.precision, expected=expected, host_code_allowed=version_compatible
        )
    from .engines.ort import OrtEngine

    return OrtEngine(
        path, precision=art.precision, threads=threads, providers=providers, expected=expected, sha256=art.sha256
    )


def _expected_spec(manifest: Manifest, art: Artifact, path: Path, backend: str) -> Optional[EngineSpec]:
    """The spec the manifest promises (backends check the real graph against it)."""
    inp: Dict[str, Any] = manifest.input or {}
    out: Dict[str, Any] = manifest.output or {}
    if not inp.get("name") or not out.get("name"):
        return None
    out_shape = dims(out.get("shape"))
    frames = manifest.model.get("frames") or (out_shape[1] if len(out_shape) > 1 else None)
    profile = art.plan.profile if art.kind == "tensorrt_plan" else {}
    return EngineSpec(
        input_name=str(inp["name"]),
        input_shape=dims(inp.get("shape")),
        output_name=str(out["name"]),
        output_shape=out_shape,
        precision=art.precision,
        frames=int(frames or 0),
        backend=backend,
        provider="",
        path=path,
        pad_multiple=int(inp.get("pad_multiple") or 0),
        min_input_shape=tuple(int(d) for d in profile["min"]) if profile.get("min") else None,
        max_input_shape=tuple(int(d) for d in profile["max"]) if profile.get("max") else None,
    )
