"""INT8 Q/DQ quantization: activation ranges from calibration data, then a Q/DQ graph.

Backends:

* ``onnxruntime`` (default): ``onnxruntime.quantization`` calibrators collect per-tensor ranges
  (``minmax``, ``entropy`` or ``percentile``), streamed sample by sample (histogram methods in
  small chunks, so memory stays bounded); ``quantize_static`` then writes a ``QuantFormat.QDQ``
  graph from those ranges via its ``calibration_cache_path``.

  - target ``tensorrt``: int8 activations *and* weights, both symmetric (zero-point 0, as
    TensorRT requires), per-channel weights kept as float + Q/DQ pairs (the form every TensorRT
    8.x-11 parser reads), float bias, Q/DQ only in front of weighted layers and pooling
    (TensorRT's recommended placement: it fuses the rest).
  - target ``onnxruntime``: uint8 asymmetric activations / int8 symmetric per-channel weights on
    every op ONNX Runtime can quantize (its recommended CPU format).

* ``modelopt``: NVIDIA ModelOpt ONNX PTQ (``pip install 'b2v-edge[modelopt]'``), only if installed.

Nodes of the precision plan are excluded, then :func:`b2v_edge.calib.qdq.float_inputs` rewires
their inputs to float tensors so no Q/DQ feeds a sampler or any other float node.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import logging
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import onnx

from .options import CalibError
from .progress import Advance
from .qdq import float_inputs, prune

__all__ = [
    "METHOD_NAMES",
    "TRT_OP_TYPES",
    "compute_ranges",
    "load_ranges",
    "op_types_for",
    "quantize_modelopt",
    "quantize_ort",
    "save_ranges",
]

METHOD_NAMES = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
TRT_OP_TYPES = ("Conv", "ConvTranspose", "Gemm", "MatMul", "AveragePool", "MaxPool", "GlobalAveragePool")
HISTOGRAM_CHUNK = 4  # samples per histogram update: bounds the intermediate tensors held at once


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence onnxruntime.quantization's prints and pre-processing advice (progress is ours)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def _quant() -> Any:
    try:
        return importlib.import_module("onnxruntime.quantization")
    except ImportError as exc:  # pragma: no cover - onnxruntime is a base dependency
        raise CalibError(f"onnxruntime.quantization is unavailable ({exc}); pip install -U onnxruntime onnx") from exc


def _check_ort() -> Any:
    q = _quant()
    if "calibration_cache_path" not in inspect.signature(q.quantize_static).parameters:
        raise CalibError(
            "this onnxruntime is too old: b2v-edge calibrate needs quantize_static("
            "calibration_cache_path=...) (tested with 1.32); pip install -U onnxruntime"
        )
    return q


class _Feed:
    """``CalibrationDataReader`` over an iterator, yielding at most ``limit`` items per pass."""

    def __init__(self, name: str, items: Iterator[np.ndarray], advance: Advance) -> None:
        self.name, self.items, self.advance = name, items, advance
        self.limit: Optional[int] = None
        self.count = 0
        self.exhausted = False

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        if self.limit is not None and self.limit <= 0:
            return None
        x = next(self.items, None)
        if x is None:
            self.exhausted = True
            return None
        if self.limit is not None:
            self.limit -= 1
        self.count += 1
        self.advance(1)
        return {self.name: x}


def _op_types(q: Any) -> List[str]:
    return sorted(set(q.registry.QLinearOpsRegistry) | set(q.registry.QDQRegistry))


def op_types_for(target: str) -> List[str]:
    """Op types quantized (and therefore calibrated) for ``target``."""
    return list(TRT_OP_TYPES) if target == "tensorrt" else _op_types(_quant())


def _calibrator(model_path: Path, method: str, percentile: float, target: str, augmented: str) -> Any:
    """An onnxruntime calibrator over the tensors that get Q/DQ for ``target``.

    For TensorRT only the *inputs* of the quantized op types carry Q/DQ (outputs are excluded), so
    only those are calibrated: half the tensors of onnxruntime's default input+output selection.
    """
    cal = _quant().calibrate
    base = {"minmax": cal.MinMaxCalibrater, "entropy": cal.EntropyCalibrater, "percentile": cal.PercentileCalibrater}[
        method
    ]
    inputs_only = target == "tensorrt"

    class Selected(base):  # type: ignore[misc, valid-type]
        def select_tensors_to_calibrate(self, model: onnx.ModelProto) -> Any:
            tensors, infos = super().select_tensors_to_calibrate(model)
            if inputs_only:
                wanted = {i for n in model.graph.node if n.op_type in self.op_types_to_calibrate for i in n.input}
                tensors = {t for t in tensors if t in wanted}
            return tensors, infos

    kwargs: Dict[str, Any] = {"symmetric": target == "tensorrt"}
    if method == "percentile":
        kwargs["percentile"] = percentile
    calibrator = Selected(model_path, op_types_for(target), augmented_model_path=augmented, **kwargs)
    calibrator.augment_graph()
    calibrator.execution_providers = ["CPUExecutionProvider"]
    calibrator.create_inference_session()
    return calibrator


def compute_ranges(
    model_path: Path,
    input_name: str,
    inputs: Iterator[np.ndarray],
    method: str,
    percentile: float,
    target: str,
    advance: Advance,
) -> Any:
    """Calibrate the tensors quantized for ``target`` on ``inputs``; returns ``TensorsData``.

    Args:
        model_path: FP32 ONNX file.
        input_name: graph input name.
        inputs: ``float32 [1, 3, H, W]`` arrays (consumed once, streamed).
        method: ``minmax``, ``entropy`` or ``percentile``.
        percentile: kept percentile for ``percentile``.
        target: ``tensorrt`` (ranges symmetric around 0) or ``onnxruntime``.
        advance: progress callback, called once per sample.

    Raises:
        CalibError: no input was given.
    """
    _check_ort()
    feed = _Feed(input_name, inputs, advance)
    with tempfile.TemporaryDirectory(prefix="b2v-calib-") as tmp:
        calibrator = _calibrator(Path(model_path), method, percentile, target, str(Path(tmp) / "augmented.onnx"))
        with _quiet():
            while not feed.exhausted:
                feed.limit = None if method == "minmax" else HISTOGRAM_CHUNK  # histograms: bounded memory
                start = feed.count
                try:
                    calibrator.collect_data(feed)
                except ValueError:  # onnxruntime: "No data is collected" (an empty last chunk)
                    if feed.count != start:
                        raise
            if feed.count == 0:
                raise CalibError("no calibration input was given")
            ranges = calibrator.compute_data()
        del calibrator
    return ranges


def save_ranges(ranges: Any, path: Path) -> None:
    """Write ``TensorsData`` as JSON (onnxruntime's own cache format, atomic)."""
    _quant().calibrate.save_tensors_data(ranges, Path(path))


def load_ranges(path: Path) -> Any:
    """Read ``TensorsData`` written by :func:`save_ranges`."""
    return _quant().calibrate.load_tensors_data(Path(path))


def _extra_options(target: str) -> Dict[str, Any]:
    if target == "tensorrt":
        return {
            "ActivationSymmetric": True,
            "WeightSymmetric": True,
            "AddQDQPairToWeight": True,
            "QuantizeBias": False,
            "DedicatedQDQPair": False,
            "MinimumRealRange": 1e-4,
            "OpTypesToExcludeOutputQuantization": list(TRT_OP_TYPES),
        }
    return {"ActivationSymmetric": False, "WeightSymmetric": True, "MinimumRealRange": 1e-4}


def quantize_ort(fp32: onnx.ModelProto, ranges: Any, float_nodes: Sequence[str], target: str) -> onnx.ModelProto:
    """Q/DQ graph of ``fp32`` with ``ranges``, keeping ``float_nodes`` (and their inputs) in float.

    Args:
        fp32: the float graph (unique node names).
        ranges: ``TensorsData`` from :func:`compute_ranges` over the same graph.
        float_nodes: node names kept in float (the precision plan).
        target: ``tensorrt`` (S8S8 symmetric) or ``onnxruntime`` (U8S8).
    """
    q = _check_ort()
    int8, uint8 = q.QuantType.QInt8, q.QuantType.QUInt8
    ops = op_types_for(target)
    with tempfile.TemporaryDirectory(prefix="b2v-quant-") as tmp:
        src, dst, cache = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx", Path(tmp) / "ranges.json"
        onnx.save(fp32, str(src))
        save_ranges(ranges, cache)
        with _quiet():
            q.quantize_static(
                str(src),
                str(dst),
                None,
                quant_format=q.QuantFormat.QDQ,
                op_types_to_quantize=ops,
                per_channel=True,
                activation_type=int8 if target == "tensorrt" else uint8,
                weight_type=int8,
                nodes_to_exclude=list(float_nodes),
                calibrate_method=ranges.calibration_method,
                calibration_cache_path=str(cache),
                extra_options=_extra_options(target),
            )
        model = onnx.load(str(dst))
    float_inputs(model, fp32, float_nodes)
    prune(model)
    return model


def quantize_modelopt(
    fp32_path: Path, out_path: Path, inputs: np.ndarray, method: str, float_nodes: Sequence[str]
) -> onnx.ModelProto:
    """NVIDIA ModelOpt ONNX PTQ (int8, TensorRT rules) keeping ``float_nodes`` in float.

    Raises:
        CalibError: ModelOpt is not installed (it is an optional extra, never a default).
    """
    try:
        from modelopt.onnx.quantization import quantize as mo_quantize
    except ImportError as exc:
        raise CalibError(
            "--quantizer modelopt needs NVIDIA ModelOpt: pip install 'b2v-edge[modelopt]' (it pins its own "
            f"onnx/onnxruntime-gpu; use a separate venv) [{exc.name or exc}]"
        ) from exc
    import re

    mo_quantize(
        onnx_path=str(fp32_path),
        quantize_mode="int8",
        calibration_data=inputs,
        calibration_method={"minmax": "max", "entropy": "entropy"}[method],
        calibration_eps=["cpu"],
        nodes_to_exclude=[f"^{re.escape(n)}$" for n in float_nodes],
        op_types_to_exclude=["GridSample"],
        output_path=str(out_path),
        high_precision_dtype="fp32",
    )
    model = onnx.load(str(out_path))
    float_inputs(model, onnx.load(str(fp32_path)), float_nodes)
    prune(model)
    return model
