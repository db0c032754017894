"""Graph-level steps on an ONNX model: full check + shape inference, simplification, I/O description."""

from __future__ import annotations

import contextlib
import io
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import onnx

log = logging.getLogger(__name__)

Dim = Union[int, str, None]


@dataclass
class SimplifyResult:
    """Outcome of :func:`simplify`: the graph to keep and what happened."""

    model: onnx.ModelProto
    simplified: bool
    message: str
    nodes_before: int
    nodes_after: int


def check_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """``onnx.checker`` (full check) and strict shape inference; returns the shape-inferred model.

    Raises:
        onnx.checker.ValidationError / onnx.shape_inference.InferenceError: an invalid graph.
    """
    onnx.checker.check_model(model, full_check=True)
    return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)


#: Largest output change :func:`simplify` accepts. The outputs are images in [0, 1]; 1e-4 is 1/40 of an
#: 8-bit level. onnxsim's own check (rtol 1e-4, atol 1e-5) refuses the fp32 reordering noise of a
#: deep graph (1.5e-5 on the NAF demo) and would throw away a correct simplification.
SIMPLIFY_ATOL = 1e-4


def simplify(model: onnx.ModelProto, test_shape: Optional[List[int]] = None) -> SimplifyResult:
    """Run onnx-simplifier; keep its graph only when its outputs stay within :data:`SIMPLIFY_ATOL`.

    On any failure ``model`` is kept unchanged and the message says why. Graphs whose inputs are
    not all float32 with known dims (after ``test_shape``) fall back to onnxsim's own check.

    Args:
        model: the graph (single file, weights inline).
        test_shape: a concrete shape for the first input of a dynamic-shape graph, for the check
            (the symbolic dims stay symbolic).
    """
    before = len(model.graph.node)
    try:
        import onnxsim
    except ImportError:
        return SimplifyResult(
            model,
            False,
            "onnxsim is not installed (pip install 'b2v-edge[export]'): kept the unsimplified graph",
            before,
            before,
        )
    feeds = _check_inputs(model, test_shape)
    try:
        shapes = {model.graph.input[0].name: list(test_shape)} if test_shape else None
        with contextlib.redirect_stdout(io.StringIO()):  # onnxsim prints "Checking 0/1..."
            simplified, ok = onnxsim.simplify(model, check_n=0 if feeds else 1, test_input_shapes=shapes)
    except Exception as exc:  # onnxsim raises bare RuntimeError/ValueError/C++ errors: fall back
        return SimplifyResult(
            model, False, f"onnxsim failed ({_first_line(exc)}): kept the unsimplified graph", before, before
        )
    if not ok:
        return SimplifyResult(model, False, "onnxsim's self-check failed: kept the unsimplified graph", before, before)
    try:
        change = _max_change(model, simplified, feeds) if feeds else 0.0
    except Exception as exc:  # ONNX Runtime refuses one of the graphs
        message = f"the simplified graph does not run ({_first_line(exc)}): kept the unsimplified graph"
        return SimplifyResult(model, False, message, before, before)
    if not change <= SIMPLIFY_ATOL:
        message = (
            f"onnxsim changed the outputs by up to {change:.2g} (> {SIMPLIFY_ATOL:g}): kept the unsimplified graph"
        )
        return SimplifyResult(model, False, message, before, before)
    after = len(simplified.graph.node)
    return SimplifyResult(simplified, True, f"onnxsim: {before} -> {after} nodes", before, after)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _graph_inputs(model: onnx.ModelProto) -> List[onnx.ValueInfoProto]:
    initializers = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def _check_inputs(model: onnx.ModelProto, test_shape: Optional[List[int]]) -> Dict[str, Any]:
    """Seeded uniform [0, 1) inputs for the simplification check; {} when an input is not float32 or sized."""
    import numpy as np

    rng = np.random.default_rng(0)
    feeds: Dict[str, Any] = {}
    for k, value in enumerate(_graph_inputs(model)):
        shape = list(test_shape) if test_shape and k == 0 else _dims(value)
        if value.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or not all(isinstance(d, int) for d in shape):
            return {}
        feeds[value.name] = rng.random(shape, dtype=np.float32)
    return feeds


def _max_change(a: onnx.ModelProto, b: onnx.ModelProto, feeds: Dict[str, Any]) -> float:
    """Largest absolute difference between the outputs of ``a`` and ``b`` (ONNX Runtime CPU) on ``feeds``."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    outs = [
        ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feeds)
        for m in (a, b)
    ]
    if len(outs[0]) != len(outs[1]) or any(x.shape != y.shape for x, y in zip(*outs)):
        return float("inf")
    return max((float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in zip(*outs) if x.size), default=0.0)


def _dims(value: onnx.ValueInfoProto) -> List[Dim]:
    out: List[Dim] = []
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            out.append(int(dim.dim_value))
        elif dim.HasField("dim_param"):
            out.append(dim.dim_param)
        else:
            out.append(None)
    return out


def io_spec(model: onnx.ModelProto) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(input, output) descriptions: name, shape (ints, or names for dynamic axes), dtype."""

    def describe(value: onnx.ValueInfoProto) -> Dict[str, Any]:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
        return {"name": value.name, "shape": _dims(value), "dtype": dtype}

    inputs = _graph_inputs(model)
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise ValueError(f"expected one input and one output, got {len(inputs)} and {len(model.graph.output)}")
    return describe(inputs[0]), describe(model.graph.output[0])


def op_counts(model: onnx.ModelProto) -> Dict[str, int]:
    """``{op_type: count}`` over the main graph, most frequent first."""
    return dict(Counter(n.op_type for n in model.graph.node).most_common())


def onnx_opset(model: onnx.ModelProto) -> Optional[int]:
    """The ai.onnx opset of ``model`` (None if it does not import the default domain)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return None
