"""Replace every ONNX ``GridSample`` by the floor + GatherElements bilinear warp (no GridSample op).

Why a graph rewrite instead of tracing the model's ``gather`` warp: torch.export traces the gather
warp op by op (about 70 ONNX nodes per warp), which makes the export many times slower than the
native warp's. Emitting the same arithmetic here, vectorised over the 4 bilinear corners, is
immediate and gives about 25 nodes per warp. The numerics are those of
``b2v_edge.model.warp._gather_sample`` (align_corners=False; padding zeros or border); the export
verifies the rewritten graph against the PyTorch model in ``gather`` mode.

Per GridSample(X [B,C,H,W], G [B,Ho,Wo,2]) (coordinate math float32; indices int32: exact up to
2**31 pixels, half the memory traffic of int64, and TensorRT's native index type; per-pixel tensors
are laid out ``[B, k, N]`` with N = Ho*Wo innermost)::

    ix = ((G.x + 1) * W - 1) / 2 ; iy = ((G.y + 1) * H - 1) / 2     (border: clip to [0, size-1])
    x0 = floor(ix), fx = ix - x0 -> neighbours x0, x0+1 with weights 1-fx, fx (zeros: 0 outside)
    corners (y, x) = (0,0) (0,1) (1,0) (1,1): index = clip(y)*W + clip(x), weight = wy * wx
    out = sum over corners of GatherElements(X.reshape(B,C,H*W), index) * weight
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from b2v_edge.common.errors import B2VError

from .roles import ROLE_KEY


class RewriteError(B2VError, ValueError):
    """A GridSample this rewrite cannot express (mode, padding or align_corners the model never uses)."""


class _Builder:
    """Emits the nodes of one warp with unique names and the GridSample's properties."""

    def __init__(self, prefix: str, props: List[Tuple[str, str]]) -> None:
        self.prefix, self.props = prefix, props
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[onnx.TensorProto] = []
        self.count = 0

    def const(self, value: Any, dtype: Any = np.float32) -> str:
        full = f"{self.prefix}/c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), full))
        return full

    def op(self, op_type: str, inputs: List[str], outputs: int = 1, **attrs: Any) -> str:
        self.count += 1
        name = f"{self.prefix}/{op_type}_{self.count}"
        outs = [f"{name}:{i}" for i in range(outputs)]
        node = helper.make_node(op_type, inputs, outs, name=name, **attrs)
        for key, value in self.props:
            node.metadata_props.add(key=key, value=value)
        self.nodes.append(node)
        return outs[0]


def _attrs(node: onnx.NodeProto) -> Dict[str, Any]:
    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        out[attr.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _check(node: onnx.NodeProto) -> str:
    attrs = _attrs(node)
    if attrs.get("mode", "bilinear") not in ("bilinear", "linear") or attrs.get("align_corners", 0):
        raise RewriteError(f"GridSample {node.name!r}: only bilinear, align_corners=0 can be rewritten, got {attrs}")
    padding = attrs.get("padding_mode", "zeros")
    if padding not in ("zeros", "border"):
        raise RewriteError(f"GridSample {node.name!r}: padding_mode {padding!r} cannot be rewritten")
    return padding


def _clamp(b: _Builder, value: str, top: str) -> str:
    """``min(max(value, 0), top)`` with Max/Min: ``top`` may be a run-time tensor (dynamic shapes),
    which older TensorRT parsers do not accept as a Clip bound."""
    return b.op("Min", [b.op("Max", [value, b.const(0.0)]), top])


def _axis(b: _Builder, coords: str, axis: int, size_i: str, padding: str) -> Tuple[str, str]:
    """Both neighbours along one axis: (int32 indices [B,2,N], weights [B,2,N]).

    ``coords`` is the grid as ``[B,2,N]`` (x, y; N = Ho*Wo last: ONNX Runtime's broadcasting is
    slow when the innermost dimension is 1, so every per-pixel tensor keeps N innermost).
    """
    size = b.op("Cast", [size_i], to=TensorProto.FLOAT)
    top = b.op("Sub", [size, b.const(1.0)])
    g = b.op("Slice", [coords, b.const([axis], np.int64), b.const([axis + 1], np.int64), b.const([1], np.int64)])
    pix = b.op("Mul", [b.op("Sub", [b.op("Mul", [b.op("Add", [g, b.const(1.0)]), size]), b.const(1.0)]), b.const(0.5)])
    if padding == "border":
        pix = _clamp(b, pix, top)
    base = b.op("Floor", [pix])
    frac = b.op("Sub", [pix, base])  # [B,1,N]
    near = b.op("Add", [base, b.const(np.array([0.0, 1.0], np.float32).reshape(1, 2, 1))])  # [B,2,N]
    weight = b.op("Concat", [b.op("Sub", [b.const(1.0), frac]), frac], axis=1)
    if padding == "zeros":
        inside = b.op("And", [b.op("GreaterOrEqual", [near, b.const(0.0)]), b.op("LessOrEqual", [near, top])])
        weight = b.op("Mul", [weight, b.op("Cast", [inside], to=TensorProto.FLOAT)])
    return b.op("Cast", [_clamp(b, near, top)], to=TensorProto.INT32), weight


def _emit(node: onnx.NodeProto, padding: str) -> _Builder:
    props = [(p.key, p.value) for p in node.metadata_props if p.key != ROLE_KEY] + [(ROLE_KEY, "warp")]
    b = _Builder(f"{node.name}/gather", props)
    x, grid = node.input[0], node.input[1]
    shape_x = b.op("Shape", [x])
    h = b.op("Gather", [shape_x, b.const(2, np.int64)], axis=0)
    w = b.op("Gather", [shape_x, b.const(3, np.int64)], axis=0)
    b_only = b.op("Slice", [shape_x, b.const([0], np.int64), b.const([1], np.int64)])
    c_only = b.op("Slice", [shape_x, b.const([1], np.int64), b.const([2], np.int64)])
    coords = b.op(
        "Transpose",
        [b.op("Reshape", [grid, b.op("Concat", [b_only, b.const([-1, 2], np.int64)], axis=0)])],
        perm=[0, 2, 1],
    )  # [B, 2, N]
    xi, wx = _axis(b, coords, 0, w, padding)
    yi, wy = _axis(b, coords, 1, h, padding)
    rows, cols = b.const([0, 0, 1, 1], np.int64), b.const([0, 1, 0, 1], np.int64)  # corners (y, x)
    w32 = b.op("Cast", [w], to=TensorProto.INT32)
    index = b.op("Add", [b.op("Mul", [b.op("Gather", [yi, rows], axis=1), w32]), b.op("Gather", [xi, cols], axis=1)])
    weight = b.op("Mul", [b.op("Gather", [wy, rows], axis=1), b.op("Gather", [wx, cols], axis=1)])  # [B,4,N]
    bc = b.op("Concat", [b_only, c_only], axis=0)
    flat = b.op("Reshape", [x, b.op("Concat", [bc, b.const([-1], np.int64)], axis=0)])  # [B, C, H*W]
    idx = b.op("Reshape", [index, b.op("Concat", [b_only, b.const([1, -1], np.int64)], axis=0)])  # [B,1,4N]
    idx = b.op("Expand", [idx, b.op("Concat", [b.const([1], np.int64), c_only, b.const([1], np.int64)], axis=0)])
    picked = b.op("GatherElements", [flat, idx], axis=2)  # [B, C, 4N] (Gather on the last axis is slower)
    picked = b.op("Reshape", [picked, b.op("Concat", [bc, b.const([4, -1], np.int64)], axis=0)])  # [B,C,4,N]
    weight = b.op("Unsqueeze", [weight, b.const([1], np.int64)])  # [B,1,4,N]
    summed = b.op("ReduceSum", [b.op("Mul", [picked, weight]), b.const([2], np.int64)], keepdims=0)  # [B,C,N]
    hw_out = b.op("Slice", [b.op("Shape", [grid]), b.const([1], np.int64), b.const([3], np.int64)])
    b.op("Reshape", [summed, b.op("Concat", [bc, hw_out], axis=0)])
    b.nodes[-1].output[0] = node.output[0]
    return b


def rewrite_gridsample(model: onnx.ModelProto) -> int:
    """Replace, in place, every GridSample of ``model`` by the gather warp; returns how many.

    New nodes are named ``<GridSample name>/gather/<Op>_<k>`` and carry the GridSample's properties
    plus ``b2v_edge.role = warp``, so the fp16 conversion keeps them in float32.

    Raises:
        RewriteError: a GridSample with a mode / padding / align_corners the model never uses.
    """
    nodes: List[onnx.NodeProto] = []
    count = 0
    for node in model.graph.node:
        if node.op_type != "GridSample":
            nodes.append(node)
            continue
        built = _emit(node, _check(node))
        nodes.extend(built.nodes)
        model.graph.initializer.extend(built.inits)
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return count
