"""Which ONNX nodes compute warp geometry: the one classifier behind every float island.

Three consumers read it and so always agree: the fp16 export keeps these nodes in float32
(:func:`b2v_edge.export.roles.keep_fp32_nodes`), TensorRT 8.x pins the same nodes to float32 (the
manifest's list, :mod:`b2v_edge.export.trt_build`), and INT8 calibration keeps them out of INT8
(:func:`b2v_edge.calib.plan.precision_plan`). Reasons, in priority order:

* ``warp``: GridSample / GatherElements samplers, the gather warp's weighted sums of gathered values
  and the data-side reshapes that feed only samplers;
* ``coordinates``: everything computing a sampling grid, gather index or interpolation weight —
  backward from the sampler's grid/index input to the layer (Conv/ConvTranspose/Gemm) that produced
  the raw theta or flow, then forward over the arithmetic derived from those coordinates — and every
  node the exporter traced inside ``model/warp.py`` (``b2v_edge.role`` = ``warp``);
* ``stn_regressor`` / ``flow_head``: the STN localisation nets and flow heads, by role property,
  traced module class (``AffineRegressor`` / ``FlowHead``), module path (``stn``, ``itn.N``, ``lw``)
  or as the layer the backward walk from a grid stopped at (Gemm: regressor, else flow head).

Node identity comes from the graph (op types, shapes, traversal) and, where the exporter left them,
node properties: ``b2v_edge.role`` (written by :func:`b2v_edge.export.roles.tag_roles`), the dynamo
exporter's ``pkg.torch.onnx.class_hierarchy`` / ``name_scopes`` / ``stack_trace``; TorchScript-style
node names (``/others.0/ftn.0/stn/fc/Gemm``) also work.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Set

import onnx

__all__ = ["GEOMETRY_REASONS", "ROLE_KEY", "Graph", "geometry_nodes", "module_path", "role_of", "scoped_role"]

ROLE_KEY = "b2v_edge.role"
GEOMETRY_REASONS = ("warp", "coordinates", "stn_regressor", "flow_head")
SAMPLERS = ("GridSample", "GatherElements")
WEIGHTED = ("Conv", "ConvTranspose", "Gemm")
_CLASS_ROLES = (("AffineRegressor", "stn_regressor"), ("FlowHead", "flow_head"))
# The recorded stack ends at the caller's line (``glob = affine_warp(...)``), not inside warp.py.
_WARP_MARKERS = (
    "affine_warp(",
    "flow_warp(",
    "grid_sample(",
    "warp_shared(",
    "affine_grids(",
    "flow_grids(",
    "model/warp.py",
    "model\\warp.py",
)
_IMAGE_SCOPE = re.compile(r"(^|\.)(heads\.\d+|start_head|up_img\.\d+|refine\.head)(\.|$)")
_FORWARD_OPS = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Neg",
        "Floor",
        "Ceil",
        "Clip",
        "Min",
        "Max",
        "Cast",
        "Reshape",
        "Expand",
        "Unsqueeze",
        "Squeeze",
        "Where",
        "Equal",
        "Less",
        "Greater",
        "LessOrEqual",
        "GreaterOrEqual",
        "And",
        "Or",
        "Not",
        "Gather",
        "Slice",
        "Transpose",
        "ReduceSum",
    }
)


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


def module_path(node: onnx.NodeProto) -> str:
    """Dotted module path of a node (``others.0.ftn.1.stn.fc``), ``""`` when unknown/top level."""
    scopes = _props(node).get("pkg.torch.onnx.name_scopes")
    if scopes:
        try:
            parts = ast.literal_eval(scopes)
        except (ValueError, SyntaxError):
            parts = []
        if isinstance(parts, list) and len(parts) >= 2:
            return str(parts[-2])
        return ""
    if node.name.startswith("/"):
        return ".".join(p for p in node.name.strip("/").split("/")[:-1])
    return ""


def scoped_role(node: onnx.NodeProto, path: Optional[str] = None) -> Optional[str]:
    """``stn_regressor`` / ``flow_head`` / ``image_path`` / ``warp`` from properties and module path."""
    path = module_path(node) if path is None else path
    role = role_of(node)
    if role in ("stn_regressor", "flow_head"):
        return role
    if re.search(r"(^|\.)(stn|itn\.\d+)(\.|$)", path):
        return "stn_regressor"
    if re.search(r"(^|\.)lw(\.|$)", path):
        return "flow_head"
    if _IMAGE_SCOPE.search(path):
        return "image_path"
    return "warp" if role == "warp" else None


class Graph:
    """Producer/consumer maps, constants and shapes of one graph."""

    def __init__(self, model: onnx.ModelProto) -> None:
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:  # a graph shape inference cannot read still has its structure
            inferred = model
        g = inferred.graph
        self.nodes = list(model.graph.node)
        self.inputs = {i.name for i in g.input} - {t.name for t in g.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: Dict[str, List[onnx.NodeProto]] = {}
        for n in self.nodes:
            for name in n.input:
                self.consumers.setdefault(name, []).append(n)
        self.shapes = {
            v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output)
        }
        self.const = {t.name for t in g.initializer} | {""}
        for n in self.nodes:  # Constant nodes and anything computed from constants only
            if all(i in self.const for i in n.input):
                self.const.update(n.output)
        self.static = set(self.const)  # plus shapes: values that do not depend on pixel data
        for n in self.nodes:
            if n.op_type in ("Shape", "Size") or all(i in self.static for i in n.input):
                self.static.update(n.output)

    def is_image(self, name: str) -> bool:
        shape = self.shapes.get(name) or []
        return (len(shape) in (3, 4) and shape[1] == 3) or (len(shape) == 5 and shape[2] == 3)


def _samplers_and_coordinates(g: Graph) -> Dict[str, Set[str]]:
    """Sampler nodes, coordinate nodes (backward from grid/index, forward over weights), heads hit."""
    warp = {n.name for n in g.nodes if n.op_type in SAMPLERS}
    coords: Set[str] = set()
    heads: Set[str] = set()
    todo = [n.input[1] for n in g.nodes if n.op_type in SAMPLERS]
    while todo:
        node = g.producer.get(todo.pop())
        if node is None or node.name in coords or node.name in heads or node.name in warp:
            continue
        if node.op_type in WEIGHTED:
            heads.add(node.name)
            continue
        coords.add(node.name)
        if node.op_type not in ("Shape", "Size"):  # constant subgraphs (base grids) are coordinates too;
            todo.extend(node.input)  # a shape is not a dependency on pixel values
    derived = {o for n in g.nodes if n.name in coords for o in n.output}
    gathered = {n.output[0] for n in g.nodes if n.op_type == "GatherElements"}
    for n in g.nodes:  # graph order is topological: one forward pass
        if n.name in warp or n.name in coords or n.op_type not in _FORWARD_OPS | {"Concat"}:
            continue
        live = [i for i in n.input if i not in g.static]
        if n.op_type == "Concat" and not all(i in derived for i in live):
            continue  # stacked coordinates/weights only (a concat of warped features is a feature)
        if live and all(i in derived or i in gathered for i in live):
            (warp if any(i in gathered for i in live) else coords).add(n.name)
            (gathered if any(i in gathered for i in live) else derived).update(n.output)
    for n in g.nodes:  # data-side reshapes that only feed samplers
        users = g.consumers.get(n.output[0], [])
        if n.op_type in ("Reshape", "Flatten") and users and all(c.name in warp for c in users):
            warp.add(n.name)
    return {"warp": warp, "coordinates": coords, "heads": heads}


def geometry_nodes(model: onnx.ModelProto, graph: Optional[Graph] = None) -> Dict[str, str]:
    """``{node_name: reason}`` of every warp-geometry node, in graph order (see the module doc).

    Args:
        model: the float32 graph (node names unique and non-empty).
        graph: its :class:`Graph`, when the caller built one already.
    """
    g = graph or Graph(model)
    structural = _samplers_and_coordinates(g)
    out: Dict[str, str] = {}
    for node in g.nodes:
        scoped = scoped_role(node)
        if node.name in structural["warp"]:
            out[node.name] = "warp"
        elif node.name in structural["coordinates"]:
            out[node.name] = "coordinates"
        elif scoped in ("stn_regressor", "flow_head"):
            out[node.name] = scoped
        elif node.name in structural["heads"]:
            out[node.name] = "stn_regressor" if node.op_type == "Gemm" else "flow_head"
        elif scoped == "warp":
            out[node.name] = "coordinates"
    return out
