"""Graph edits and checks on Q/DQ (QuantizeLinear/DequantizeLinear) ONNX models.

* :func:`float_inputs` makes chosen nodes read float tensors again: an input coming from a
  ``DequantizeLinear`` is rewired to the tensor the FP32 graph's same-named node reads (the
  activation before its ``QuantizeLinear``, or the original float weight). Used to keep samplers and
  other float nodes free of Q/DQ, and to build "only this group quantized" models cheaply.
* :func:`prune` removes Q/DQ nodes and initializers nobody reads any more.
* :func:`nonzero_zero_points`, :func:`qdq_feeding` and :func:`activation_scales` check and read a
  Q/DQ graph (zero-point 0 for TensorRT, no Q/DQ into samplers, per-tensor activation scales).
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Sequence, Set, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["activation_scales", "float_inputs", "nonzero_zero_points", "prune", "qdq_feeding"]

Q_OPS = ("QuantizeLinear", "DequantizeLinear")


def _initializers(model: onnx.ModelProto) -> Dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def _const_value(model: onnx.ModelProto, name: str) -> np.ndarray:
    """Value of an initializer or Constant-node output."""
    init = _initializers(model).get(name)
    if init is not None:
        return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    raise KeyError(f"{name} is not a constant of the graph")


def float_inputs(qdq: onnx.ModelProto, fp32: onnx.ModelProto, names: Iterable[str]) -> int:
    """Rewire every DequantizeLinear-fed input of the nodes ``names`` to its FP32 tensor (in place).

    Args:
        qdq: the quantized graph (edited in place).
        fp32: the float graph it was made from (same node names).
        names: nodes that must compute in float.

    Returns:
        Number of inputs rewired.
    """
    wanted = set(names)
    fp32_nodes = {n.name: n for n in fp32.graph.node if n.name in wanted}
    fp32_inits = _initializers(fp32)
    have = set(_initializers(qdq)) | {i.name for i in qdq.graph.input}
    have |= {o for n in qdq.graph.node for o in n.output}
    dq_outputs = {n.output[0] for n in qdq.graph.node if n.op_type == "DequantizeLinear"}
    rewired = 0
    for node in qdq.graph.node:
        original = fp32_nodes.get(node.name)
        if original is None or node.op_type in Q_OPS:
            continue
        for i, name in enumerate(node.input):
            if name not in dq_outputs or i >= len(original.input):
                continue
            source = original.input[i]
            if source not in have:
                if source not in fp32_inits:
                    continue  # renamed graph output or similar: leave the DQ in place
                qdq.graph.initializer.append(fp32_inits[source])
                have.add(source)
            node.input[i] = source
            rewired += 1
    return rewired


def prune(model: onnx.ModelProto) -> int:
    """Drop Q/DQ nodes whose outputs nobody reads, then unused initializers (in place).

    Returns:
        Number of nodes removed.
    """
    outputs = {o.name for o in model.graph.output}
    removed = 0
    while True:
        used = {i for n in model.graph.node for i in n.input} | outputs
        dead = [n for n in model.graph.node if n.op_type in Q_OPS and not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            model.graph.node.remove(node)
        removed += len(dead)
    used = {i for n in model.graph.node for i in n.input} | outputs
    for init in [t for t in model.graph.initializer if t.name not in used]:
        model.graph.initializer.remove(init)
    return removed


def nonzero_zero_points(model: onnx.ModelProto) -> List[str]:
    """Names of Q/DQ nodes whose zero point is not all zeros (TensorRT needs 0 everywhere)."""
    bad = []
    for node in model.graph.node:
        if node.op_type not in Q_OPS or len(node.input) < 3 or not node.input[2]:
            continue  # a missing zero point means 0
        if np.any(_const_value(model, node.input[2]) != 0):
            bad.append(node.name)
    return bad


def qdq_feeding(model: onnx.ModelProto, op_types: Sequence[str]) -> List[Tuple[str, str]]:
    """``(consumer, q_or_dq_node)`` pairs where a Q/DQ output feeds a node of ``op_types``."""
    producer = {o: n for n in model.graph.node for o in n.output}
    pairs = []
    for node in model.graph.node:
        if node.op_type not in op_types:
            continue
        for name in node.input:
            src = producer.get(name)
            if src is not None and src.op_type in Q_OPS:
                pairs.append((node.name, src.name))
    return pairs


def activation_scales(model: onnx.ModelProto) -> Dict[str, Tuple[float, int]]:
    """``{tensor: (scale, zero_point)}`` of every per-tensor quantized activation (not weights).

    The tensor is the ``QuantizeLinear`` input, i.e. its name in the FP32 graph (ONNX Runtime's
    ``<name>_QuantizeInput`` renaming of graph outputs is undone).
    """
    consts: Set[str] = set(_initializers(model))
    consts |= {n.output[0] for n in model.graph.node if n.op_type == "Constant"}
    out: Dict[str, Tuple[float, int]] = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in consts:
            continue
        scale = np.asarray(_const_value(model, node.input[1]), np.float64)
        if scale.size != 1:
            continue
        zero = _const_value(model, node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(1)
        name = node.input[0]
        if name.endswith("_QuantizeInput"):
            name = name[: -len("_QuantizeInput")]
        out.setdefault(name, (float(scale.reshape(-1)[0]), int(np.asarray(zero).reshape(-1)[0])))
    return out
