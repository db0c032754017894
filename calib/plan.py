"""Warp-aware precision plan: which ONNX nodes stay in float, and the quantizable node groups.

Restoration networks lose their accuracy in INT8 where values are geometry or images, so by default
these node sets stay in float (reason keys in brackets):

* ``warp``, ``coordinates``, ``stn_regressor``, ``flow_head``: the warp geometry, from the one
  classifier the fp16 export and the TensorRT 8.x float32 pins use too
  (:func:`b2v_edge.calib.geometry.geometry_nodes`);
* ``first_conv``: convolutions reading the network input;
* ``image_path``: 3-channel image tensors: image heads, image up-sampling, residual image adds,
  the input pyramid and the output (plus the sub-pixel head feeding a DepthToSpace);
* ``deconvolution``: ConvTranspose nodes for TensorRT 8.x targets (their kernels assume
  per-input-channel INT8 scales; ONNX Runtime quantizes deconvolution weights per output channel);
* ``user``: ``--exclude`` patterns; ``target_psnr``: groups the greedy search kept in float.

Quantizable nodes are grouped by module (frame decoders merged: ``others.dense.1`` covers that
block of every non-middle frame).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set

import onnx

from .geometry import SAMPLERS, WEIGHTED, Graph, geometry_nodes, module_path, scoped_role

__all__ = ["DEFAULT_REASONS", "SAMPLERS", "PrecisionPlan", "precision_plan", "group_key", "module_path"]

DEFAULT_REASONS = {
    "warp": "GridSample/gather sampling (GridSample never runs in INT8 in TensorRT)",
    "coordinates": "sampling coordinates, indices and interpolation weights",
    "stn_regressor": "STN regressors (theta: a small error shifts the whole image)",
    "flow_head": "flow heads (per-pixel motion in pixels)",
    "first_conv": "first convolution (reads the 8-bit input image)",
    "image_path": "image heads, image up-sampling, residual image adds and the output",
}
EXTRA_REASONS = {
    "deconvolution": "ConvTranspose on TensorRT 8.x (no per-output-channel INT8 deconvolution)",
    "user": "kept in float by --exclude",
    "target_psnr": "kept in float to reach --target-psnr",
}


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


def _first_convs(g: Graph) -> Set[str]:
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


def _image_path(g: Graph) -> Set[str]:
    image = {n.name for n in g.nodes if any(g.is_image(o) for o in n.output)}
    for n in g.nodes:  # a head writing an image through a layout op (sub-pixel head, frame reshape)
        if n.op_type in ("DepthToSpace", "Reshape") and n.name in image:
            producer = g.producer.get(n.input[0])
            if producer is not None and producer.op_type in WEIGHTED:
                image.add(producer.name)
    return image


def _matches(patterns: Sequence[str], node: onnx.NodeProto, path: str, group: str) -> bool:
    return any(fnmatch.fnmatchcase(s, p) for p in patterns for s in (node.name, path, group))


def precision_plan(model: onnx.ModelProto, exclude: Sequence[str] = (), float_ops: Sequence[str] = ()) -> PrecisionPlan:
    """The default warp-aware plan of ``model`` (node names must be unique and non-empty).

    Args:
        model: the FP32 graph.
        exclude: extra fnmatch patterns on node name, module path or group, kept in float.
        float_ops: op types kept in float with reason ``deconvolution`` (``ConvTranspose`` for
            TensorRT 8.x targets).
    """
    g = Graph(model)
    geometry = geometry_nodes(model, g)
    first, image = _first_convs(g), _image_path(g)
    excluded: Dict[str, List[str]] = {r: [] for r in DEFAULT_REASONS}
    groups: Dict[str, List[str]] = {}
    for node in g.nodes:
        path = module_path(node)
        group = group_key(path)
        if node.name in geometry:
            reason: Optional[str] = geometry[node.name]
        elif node.name in first:
            reason = "first_conv"
        elif node.name in image or scoped_role(node, path) == "image_path":
            reason = "image_path"
        elif node.op_type in float_ops:
            reason = "deconvolution"
        elif _matches(exclude, node, path, group):
            reason = "user"
        else:
            reason = None
        if reason is None:
            groups.setdefault(group, []).append(node.name)
        else:
            excluded.setdefault(reason, []).append(node.name)
    return PrecisionPlan({k: v for k, v in excluded.items() if v}, groups)
