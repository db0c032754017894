"""Lower an opset-18 graph to opset 13..17 for older TensorRT parsers (8.0/8.2: 13, 8.5/8.6: 17).

The dynamo exporter writes opset 18. Its fallback converter (``onnx.version_converter``) fails on
these graphs (no Reshape 14->13 adapter; ReduceMean 18->17 keeps an attribute opset 17 rejects) and
torch then silently keeps opset 18. This pass rewrites only what differs between the opsets for the
ops such graphs use, refuses anything it does not know how to lower, and proves the result with
``onnx.checker`` (full check against the target opset's schemas); the pipeline then re-verifies the
numerics against PyTorch.

Rewrites (only when the target opset is below the change):
* Reduce* (except ReduceSum) 18: ``axes`` input -> attribute (needs a constant); ``noop_with_empty_axes``
  must be 0 and is dropped.
* Reshape 14: ``allowzero`` is dropped (it only matters for a 0 in the target shape).
* Resize 18 / 19: ``antialias``, ``axes``, ``keep_aspect_ratio_policy`` must be defaults and are dropped.
* Shape 15: ``start``/``end`` become Shape + Slice. GridSample needs opset 16. Pad 18 ``axes`` and
  Split 18 ``num_outputs`` are not allowed.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from b2v_edge.common.errors import B2VError

REDUCE_AXES_INPUT_FROM_18 = {
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
}
MIN_OPSET = 13


class OpsetError(B2VError, ValueError):
    """The graph cannot be lowered to the requested opset (names the node and why)."""


def _constant(model: onnx.ModelProto, name: str) -> Optional[np.ndarray]:
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def _drop_attr(node: onnx.NodeProto, name: str, default: object) -> None:
    for i, attr in enumerate(node.attribute):
        if attr.name == name:
            value = helper.get_attribute_value(attr)
            value = value.decode() if isinstance(value, bytes) else value
            if value != default and not (isinstance(value, list) and not value and default is None):
                raise OpsetError(
                    f"node {node.name!r} ({node.op_type}) uses {name}={value!r}, which the target opset lacks"
                )
            del node.attribute[i]
            return


def _reduce(model: onnx.ModelProto, node: onnx.NodeProto) -> None:
    _drop_attr(node, "noop_with_empty_axes", 0)
    if len(node.input) > 1 and node.input[1]:
        axes = _constant(model, node.input[1])
        if axes is None:
            raise OpsetError(f"node {node.name!r} ({node.op_type}) has run-time axes; simplify the graph first")
        node.attribute.append(helper.make_attribute("axes", [int(a) for a in np.ravel(axes)]))
        del node.input[1:]


def _reshape(model: onnx.ModelProto, node: onnx.NodeProto) -> None:
    """Drop ``allowzero``: it only changes a 0 in the target shape, which a constant shape must not
    contain and a run-time shape (from Shape of a non-empty tensor) cannot."""
    shape = _constant(model, node.input[1])
    if (
        shape is not None
        and np.any(np.asarray(shape) == 0)
        and any(a.name == "allowzero" and a.i for a in node.attribute)
    ):
        raise OpsetError(f"node {node.name!r} (Reshape) has a 0 in its shape with allowzero=1 (opset 14)")
    keep = [a for a in node.attribute if a.name != "allowzero"]
    del node.attribute[:]
    node.attribute.extend(keep)


def _split_shape_slices(model: onnx.ModelProto) -> None:
    """Shape(start, end) (opset 15) -> Shape + Slice on axis 0, same values."""
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: a.i for a in node.attribute}
        if node.op_type != "Shape" or not ({"start", "end"} & set(attrs)):
            nodes.append(node)
            continue
        full, name = f"{node.output[0]}__full", node.name
        consts = {"starts": attrs.get("start", 0), "ends": attrs.get("end", np.iinfo(np.int64).max), "axes": 0}
        for key, value in consts.items():
            model.graph.initializer.append(numpy_helper.from_array(np.array([value], np.int64), f"{name}__{key}"))
        nodes.append(helper.make_node("Shape", [node.input[0]], [full], name=f"{name}__shape"))
        nodes.append(
            helper.make_node(
                "Slice", [full, f"{name}__starts", f"{name}__ends", f"{name}__axes"], list(node.output), name=name
            )
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def _lower_node(model: onnx.ModelProto, node: onnx.NodeProto, target: int) -> None:
    op = node.op_type
    if op in REDUCE_AXES_INPUT_FROM_18 and target < 18:
        _reduce(model, node)
    elif op == "Reshape" and target < 14:
        _reshape(model, node)
    elif op == "Resize" and target < 18:
        _drop_attr(node, "antialias", 0)
        _drop_attr(node, "axes", None)
        _drop_attr(node, "keep_aspect_ratio_policy", "stretch")
    elif op == "GridSample" and target < 16:
        raise OpsetError(f"node {node.name!r}: GridSample needs opset >= 16; export with --warp gather")
    elif op == "Pad" and target < 18 and len(node.input) > 3 and node.input[3]:
        raise OpsetError(f"node {node.name!r} (Pad) uses the opset-18 axes input")
    elif op == "Split" and target < 18 and any(a.name == "num_outputs" for a in node.attribute):
        raise OpsetError(f"node {node.name!r} (Split) uses num_outputs (opset 18)")


def current_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset of ``model`` (:class:`OpsetError` when it imports none)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise OpsetError("the model does not import the ai.onnx domain")


def lower_opset(model: onnx.ModelProto, target: int) -> onnx.ModelProto:
    """A copy of ``model`` at ai.onnx opset ``target`` (13..current), checked with the full checker.

    Raises:
        OpsetError: a node uses a feature the target opset lacks, or the checker rejects the result.
    """
    source = current_opset(model)
    if target >= source:
        return model
    if target < MIN_OPSET:
        raise OpsetError(f"opset {target} is below {MIN_OPSET}, the lowest b2v-edge can produce")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    if target < 15:
        _split_shape_slices(out)
    for node in out.graph.node:
        if node.domain in ("", "ai.onnx"):
            _lower_node(out, node, target)
    _drop_unused_initializers(out)
    for entry in out.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = target
    out.ir_version = min(out.ir_version, _ir_version_for(target))
    try:
        onnx.checker.check_model(out, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = (str(exc).strip().splitlines() or ["invalid"])[0][:200]
        raise OpsetError(f"lowering to opset {target} produced an invalid graph: {first}") from exc
    return out


def _ir_version_for(opset: int) -> int:
    table: Dict[int, int] = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8}
    return table.get(opset, onnx.IR_VERSION)
