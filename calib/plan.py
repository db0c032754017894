"""Warp-aware precision plan: which ONNX nodes stay in float, and the quantizable node groups.

Restoration networks lose their accuracy in INT8 where values are geometry or images, so by default
these node sets stay in float (reason keys in brackets):

* ``warp``: GridSample / GatherElements samplers and the gather warp's weighted sum;
* ``coordinates``: everything computing a sampling grid, gather index or interpolation weight
  (backward from the sampler's grid/index input to the producing layer, then forward over the
  weight arithmetic);
* ``stn_regressor``: the STN localisation nets (``AffineRegressor``, incl. their Gemm/MatMul);
* ``flow_head``: the local-warping flow heads (``FlowHead``);
* ``first_conv``: convolutions reading the network input;
* ``image_path``: 3-channel image tensors: image heads, image up-sampling, residual image adds,
  the input pyramid and the output (plus the sub-pixel head feeding a DepthToSpace);
* ``user``: ``--exclude`` patterns; ``target_psnr``: groups the greedy search kept in float.

Node identity comes from the graph itself (op types, shapes, traversal) and, where the exporter left
them, from node properties: ``b2v_edge.role`` (written by ``b2v_edge.export``) and the dynamo
exporter's ``pkg.torch.onnx.name_scopes`` / ``class_hierarchy``; TorchScript-style node names
(``/others.0/ftn.0/stn/fc/Gemm``) also work. Quantizable nodes are grouped by module (frame
decoders merged: ``others.dense.1`` covers that block of every non-middle frame).
"""

from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set

import onnx

__all__ = ["DEFAULT_REASONS", "PrecisionPlan", "build_plan", "group_key", "module_path"]

DEFAULT_REASONS = {
    "warp": "GridSample/gather sampling (never INT8 in TensorRT)",
    "coordinates": "sampling coordinates, indices and interpolation weights",
    "stn_regressor": "STN regressors (theta: a small error shifts the whole image)",
    "flow_head": "flow heads (per-pixel motion in pixels)",
    "first_conv": "first convolution (reads the 8-bit input image)",
    "image_path": "image heads, image up-sampling, residual image adds and the output",
}
EXTRA_REASONS = {"user": "kept in float by --exclude", "target_psnr": "kept in float to reach --target-psnr"}
SAMPLERS = ("GridSample", "GatherElements")
_WEIGHTED = ("Conv", "ConvTranspose", "Gemm")
_FORWARD_OPS = {
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
_ROLE_KEY = "b2v_edge.role"
_IMAGE_SCOPE = re.compile(r"(^|\.)(heads\.\d+|start_head|up_img\.\d+|refine\.head)(\.|$)")


@dataclass
class PrecisionPlan:
    """Float node sets by reason, and quantizable node groups.

    Attributes:
        excluded: ``{reason: [node names]}`` kept in float (graph order).
        groups: ``{group: [node names]}`` of the remaining (quantizable) nodes.
    """

    excluded: Dict[str, List[str]] = field(default_factory=dict)
    groups: Dict[str, List[str]] = field(default_factory=dict)

    def float_nodes(self) -> List[str]:
        """Every node kept in float."""
        return [n for names in self.excluded.values() for n in names]

    def exclude_groups(self, names: Iterable[str], reason: str) -> "PrecisionPlan":
        """A copy with the groups ``names`` moved to ``excluded[reason]``."""
        names = set(names)
        excluded = {k: list(v) for k, v in self.excluded.items()}
        moved = [n for g, nodes in self.groups.items() if g in names for n in nodes]
        if moved:
            excluded.setdefault(reason, []).extend(moved)
        groups = {g: list(v) for g, v in self.groups.items() if g not in names}
        return PrecisionPlan(excluded, groups)

    def summary(self) -> List[Dict[str, object]]:
        """``[{reason, description, nodes}]`` for the manifest."""
        text = {**DEFAULT_REASONS, **EXTRA_REASONS}
        return [{"reason": r, "description": text.get(r, r), "nodes": len(v)} for r, v in self.excluded.items() if v]

    def to_dict(self) -> Dict[str, object]:
        return {"excluded": self.excluded, "groups": self.groups}


def module_path(node: onnx.NodeProto) -> str:
    """Dotted module path of a node (``others.0.ftn.1.stn.fc``), ``""`` when unknown/top level."""
    props = {p.key: p.value for p in node.metadata_props}
    scopes = props.get("pkg.torch.onnx.name_scopes")
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


def group_key(path: str) -> str:
    """Group name of a module path; frame decoders ``others.<k>`` are merged into ``others``."""
    parts = [p for p in path.split(".") if p]
    if len(parts) > 1 and parts[0] == "others" and parts[1].isdigit():
        parts = ["others"] + parts[2:]
    if not parts:
        return "top"
    head, rest = parts[0], parts[1:]
    if head == "encoder":
        return ".".join(parts[:2])
    if head not in ("middle", "others") or not rest:
        return head
    if rest[0] == "dense" and len(rest) > 1:
        return f"{head}.dense.{rest[1]}"
    if rest[0] == "ftn" and len(rest) > 2:
        return f"{head}.ftn.{rest[2]}"
    return f"{head}.{rest[0]}"


class _Graph:
    """Producer/consumer maps, constants and shapes of one graph."""

    def __init__(self, model: onnx.ModelProto) -> None:
        inferred = onnx.shape_inference.infer_shapes(model)
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


def _samplers_and_coordinates(g: _Graph) -> Dict[str, Set[str]]:
    """Sampler nodes, coordinate nodes (backward from grid/index, forward over weights), heads hit."""
    warp = {n.name for n in g.nodes if n.op_type in SAMPLERS}
    coords: Set[str] = set()
    heads: Set[str] = set()
    todo = [n.input[1] for n in g.nodes if n.op_type in SAMPLERS]
    while todo:
        node = g.producer.get(todo.pop())
        if node is None or node.name in coords or node.name in heads or node.name in warp:
            continue
        if node.op_type in _WEIGHTED:
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


def _first_convs(g: _Graph) -> Set[str]:
    out: Set[str] = set()
    todo = list(g.inputs)
    seen: Set[str] = set()
    while todo:
        name = todo.pop()
        for c in g.consumers.get(name, []):
            if c.op_type == "Conv" and c.input[0] == name:
                out.add(c.name)
            elif c.op_type in ("Pad", "Identity", "Cast", "Slice", "Reshape") and c.name not in seen:
                seen.add(c.name)
                todo.extend(c.output)
    return out


def _image_path(g: _Graph) -> Set[str]:
    image = {n.name for n in g.nodes if any(g.is_image(o) for o in n.output)}
    for n in g.nodes:  # a head writing an image through a layout op (sub-pixel head, frame reshape)
        if n.op_type in ("DepthToSpace", "Reshape") and n.name in image:
            producer = g.producer.get(n.input[0])
            if producer is not None and producer.op_type in _WEIGHTED:
                image.add(producer.name)
    return image


def _scoped_role(node: onnx.NodeProto, path: str) -> Optional[str]:
    props = {p.key: p.value for p in node.metadata_props}
    role = props.get(_ROLE_KEY)
    if role in ("stn_regressor", "flow_head"):
        return role
    hierarchy = props.get("pkg.torch.onnx.class_hierarchy", "") + props.get("namespace", "")
    if ".AffineRegressor" in hierarchy or re.search(r"(^|\.)(stn|itn\.\d+)(\.|$)", path):
        return "stn_regressor"
    if ".FlowHead" in hierarchy or re.search(r"(^|\.)lw(\.|$)", path):
        return "flow_head"
    if _IMAGE_SCOPE.search(path):
        return "image_path"
    if role == "warp":
        return "coordinates"
    return None


def _matches(patterns: Sequence[str], node: onnx.NodeProto, path: str, group: str) -> bool:
    return any(fnmatch.fnmatchcase(s, p) for p in patterns for s in (node.name, path, group))


def build_plan(model: onnx.ModelProto, exclude: Sequence[str] = ()) -> PrecisionPlan:
    """The default warp-aware plan of ``model`` (node names must be unique and non-empty).

    Args:
        model: the FP32 graph.
        exclude: extra fnmatch patterns on node name, module path or group, kept in float.
    """
    g = _Graph(model)
    structural = _samplers_and_coordinates(g)
    first, image = _first_convs(g), _image_path(g)
    excluded: Dict[str, List[str]] = {r: [] for r in DEFAULT_REASONS}
    groups: Dict[str, List[str]] = {}
    for node in g.nodes:
        path = module_path(node)
        group = group_key(path)
        scoped = _scoped_role(node, path)
        if node.name in structural["warp"]:
            reason: Optional[str] = "warp"
        elif node.name in structural["coordinates"]:
            reason = "coordinates"
        elif scoped in ("stn_regressor", "flow_head"):
            reason = scoped
        elif node.name in structural["heads"]:
            reason = "stn_regressor" if node.op_type == "Gemm" else "flow_head"
        elif node.name in first:
            reason = "first_conv"
        elif node.name in image or scoped == "image_path":
            reason = "image_path"
        elif scoped == "coordinates":
            reason = "coordinates"
        elif _matches(exclude, node, path, group):
            reason = "user"
        else:
            reason = None
        if reason is None:
            groups.setdefault(group, []).append(node.name)
        else:
            excluded.setdefault(reason, []).append(node.name)
    return PrecisionPlan({k: v for k, v in excluded.items() if v}, groups)
