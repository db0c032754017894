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


def simplify(model: onnx.ModelProto, test_shape: Optional[List[int]] = None) -> SimplifyResult:
    """Run onnx-simplifier; on any failure keep ``model`` unchanged and say why.

    Args:
        model: the graph (single file, weights inline).
        test_shape: a concrete input shape for onnxsim's self-check of a dynamic-shape graph
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
    try:
        shapes = {model.graph.input[0].name: list(test_shape)} if test_shape else None
        with contextlib.redirect_stdout(io.StringIO()):  # onnxsim prints "Checking 0/1..."
            simplified, ok = onnxsim.simplify(model, check_n=1, test_input_shapes=shapes)
    except Exception as exc:  # onnxsim raises bare RuntimeError/ValueError/C++ errors: fall back
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return SimplifyResult(model, False, f"onnxsim failed ({first}): kept the unsimplified graph", before, before)
    if not ok:
        return SimplifyResult(model, False, "onnxsim's self-check failed: kept the unsimplified graph", before, before)
    after = len(simplified.graph.node)
    return SimplifyResult(simplified, True, f"onnxsim: {before} -> {after} nodes", before, after)


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

    inputs = [v for v in model.graph.input if v.name not in {i.name for i in model.graph.initializer}]
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
