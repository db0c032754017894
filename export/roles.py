"""Which ONNX nodes compute warp geometry: the STN regressors, the flow heads and the sampling math.

The dynamo exporter records, per node, the PyTorch module classes it was traced in
(``pkg.torch.onnx.class_hierarchy``) and the Python stack (``pkg.torch.onnx.stack_trace``).
:func:`tag_roles` turns that into one compact ``b2v_edge.role`` property per node
(``stn_regressor``, ``flow_head`` or ``warp``) and drops the bulky trace properties, so the saved
``model.onnx`` still says which nodes must stay fp32 after onnx-simplifier (which keeps node names
but drops properties; :func:`copy_roles` puts them back by name).

:func:`sampling_nodes` adds a structural rule that needs no properties: every node on the path that
computes a GridSample grid or a GatherElements index / interpolation weight, back to the layer
(Conv/ConvTranspose/Gemm) that produced the raw theta or flow.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Set

import onnx

ROLE_KEY = "b2v_edge.role"
ROLES = ("stn_regressor", "flow_head", "warp")
_CLASS_ROLES = (("AffineRegressor", "stn_regressor"), ("FlowHead", "flow_head"))
# The recorded stack ends at the caller's line (``glob = affine_warp(...)``), not inside warp.py.
_WARP_MARKERS = ("affine_warp(", "flow_warp(", "grid_sample(", "model/warp.py", "model\\warp.py")
_DROP_PREFIXES = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node", "pkg.torch.onnx.class_hierarchy", "namespace")
_STOP_OPS = {"Conv", "ConvTranspose", "Gemm"}
_SHAPE_OPS = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten"}


def _props(node: onnx.NodeProto) -> Dict[str, str]:
    return {p.key: p.value for p in node.metadata_props}


def role_of(node: onnx.NodeProto) -> Optional[str]:
    """The node's role from ``b2v_edge.role`` or, on a fresh export, from the trace properties."""
    props = _props(node)
    if props.get(ROLE_KEY):
        return props[ROLE_KEY]
    hierarchy = props.get("pkg.torch.onnx.class_hierarchy", "") + props.get("namespace", "")
    for cls, role in _CLASS_ROLES:
        if f".{cls}" in hierarchy:
            return role
    trace = props.get("pkg.torch.onnx.stack_trace", "")
    if any(marker in trace for marker in _WARP_MARKERS):
        return "warp"
    return None


def tag_roles(model: onnx.ModelProto) -> Dict[str, str]:
    """Write ``b2v_edge.role`` on every warp-geometry node and drop bulky trace properties.

    Returns:
        ``{node_name: role}`` of the tagged nodes.
    """
    roles: Dict[str, str] = {}
    for node in model.graph.node:
        role = role_of(node)
        keep = [
            (p.key, p.value) for p in node.metadata_props if not p.key.startswith(_DROP_PREFIXES) and p.key != ROLE_KEY
        ]
        del node.metadata_props[:]
        for key, value in keep:
            node.metadata_props.add(key=key, value=value)
        if role:
            node.metadata_props.add(key=ROLE_KEY, value=role)
            roles[node.name] = role
    return roles


def copy_roles(target: onnx.ModelProto, source: onnx.ModelProto) -> int:
    """Copy every node's properties from ``source`` to the same-named node of ``target``.

    Returns:
        How many nodes got properties back.
    """
    by_name = {n.name: list(n.metadata_props) for n in source.graph.node if n.metadata_props}
    copied = 0
    for node in target.graph.node:
        props = by_name.get(node.name)
        if props and not node.metadata_props:
            node.metadata_props.extend(props)
            copied += 1
    return copied


def tagged_nodes(model: onnx.ModelProto) -> Dict[str, str]:
    """``{node_name: role}`` of nodes carrying ``b2v_edge.role`` (or trace properties)."""
    return {n.name: r for n in model.graph.node if (r := role_of(n))}


def _backward_slice(model: onnx.ModelProto, tensors: Iterable[str], stop: Set[str]) -> Set[str]:
    """Names of nodes computing ``tensors``; stops after Conv/ConvTranspose/Gemm and ``stop`` nodes."""
    producer = {out: node for node in model.graph.node for out in node.output}
    seen: Set[str] = set()
    todo = list(tensors)
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type in _STOP_OPS or node.name in stop:
            continue
        todo.extend(i for i in node.input if i)
    return seen


def sampling_nodes(model: onnx.ModelProto, stop: Optional[Set[str]] = None) -> Set[str]:
    """Nodes computing GridSample grids and GatherElements indices/weights, plus the samplers.

    Args:
        model: the graph.
        stop: node names not to traverse beyond (e.g. already-kept regressor nodes).
    """
    stop = stop or set()
    consumers: Dict[str, List[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    roots: List[str] = []
    keep: Set[str] = set()
    for node in model.graph.node:
        if node.op_type == "GridSample":
            keep.add(node.name)
            roots.append(node.input[1])
        elif node.op_type == "GatherElements":
            keep.add(node.name)
            roots.append(node.input[1])
            roots.extend(_weight_inputs(node, consumers, keep))
    return keep | _backward_slice(model, roots, stop)


def _weight_inputs(gather: onnx.NodeProto, consumers: Dict[str, List[onnx.NodeProto]], keep: Set[str]) -> List[str]:
    """Interpolation-weight tensors multiplied with a GatherElements result (through reshapes)."""
    weights: List[str] = []
    todo = [gather.output[0]]
    while todo:
        tensor = todo.pop()
        for user in consumers.get(tensor, []):
            if user.op_type in _SHAPE_OPS:
                keep.add(user.name)
                todo.append(user.output[0])
            elif user.op_type == "Mul":  # gathered value x interpolation weight
                keep.add(user.name)
                weights.extend(i for i in user.input if i != tensor)
    return weights


def keep_fp32_nodes(model: onnx.ModelProto) -> Dict[str, str]:
    """``{node_name: reason}`` of every node the fp16 graph must keep in fp32, in graph order."""
    tagged = tagged_nodes(model)
    regressors = {name for name, role in tagged.items() if role in ("stn_regressor", "flow_head")}
    structural = sampling_nodes(model, stop=regressors)  # walks through warp nodes up to the regressors
    out: Dict[str, str] = {}
    for node in model.graph.node:
        if node.name in tagged:
            out[node.name] = tagged[node.name]
        elif node.name in structural:
            out[node.name] = "sampling_coordinates"
    return out
