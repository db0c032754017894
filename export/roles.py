"""Warp roles on the exported graph: tagging at export time and the fp16 keep-fp32 set.

The dynamo exporter records, per node, the PyTorch module classes it was traced in
(``pkg.torch.onnx.class_hierarchy``) and the Python stack (``pkg.torch.onnx.stack_trace``).
:func:`tag_roles` turns that into one compact ``b2v_edge.role`` property per node
(``stn_regressor``, ``flow_head`` or ``warp``) and drops the bulky trace properties, so the saved
``model.onnx`` still says which nodes compute warp geometry after onnx-simplifier (which keeps node
names but drops properties; :func:`copy_roles` puts them back by name).

Which nodes are warp geometry is decided by one classifier,
:func:`b2v_edge.calib.geometry.geometry_nodes`: the fp16 graph keeps exactly those nodes in float32
(:func:`keep_fp32_nodes`), TensorRT 8.x pins them, and INT8 calibration keeps them out of INT8.
"""

from __future__ import annotations

from typing import Dict

import onnx

from b2v_edge.calib.geometry import ROLE_KEY, geometry_nodes, role_of

__all__ = ["ROLES", "ROLE_KEY", "copy_roles", "keep_fp32_nodes", "role_of", "tag_roles", "tagged_nodes"]

ROLES = ("stn_regressor", "flow_head", "warp")
_DROP_PREFIXES = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node", "pkg.torch.onnx.class_hierarchy", "namespace")


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


def keep_fp32_nodes(model: onnx.ModelProto) -> Dict[str, str]:
    """``{node_name: reason}`` of every node the fp16 graph must keep in fp32, in graph order.

    Reasons: ``warp``, ``coordinates``, ``stn_regressor``, ``flow_head``
    (:func:`b2v_edge.calib.geometry.geometry_nodes`).
    """
    return geometry_nodes(model)
