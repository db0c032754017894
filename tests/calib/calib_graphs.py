"""Small hand-built ONNX graphs with the network's structure (no torch, built in milliseconds).

``blurred [1,3,S,S]`` → first conv → conv (feature F) → an STN (ReduceMean → Gemm ``fc`` → affine
grid by MatMul) and a flow head (conv → flow grid), each warping F (GridSample, or the floor +
GatherElements bilinear warp) → concat → conv → image head (conv → 9 channels → ``[1,3,3,S,S]``)
added to the input → Clip → ``frames [1,3,3,S,S]``. Nodes carry the dynamo exporter's
``pkg.torch.onnx.name_scopes`` so scope rules are exercised; weights are seeded random.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from b2v_edge.common.manifest import Artifact, Manifest, sha256_file

SIZE = 32
FRAMES = 3


class _Builder:
    def __init__(self, seed: int = 0) -> None:
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def const(self, value: np.ndarray, name: Optional[str] = None) -> str:
        self.count += 1
        name = name or f"const_{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op: str, inputs: Sequence[str], scope: str = "", **attrs: object) -> str:
        self.count += 1
        name = f"node_{op}_{self.count}"
        out = f"t_{self.count}"
        node = helper.make_node(op, list(inputs), [out], name=name, **attrs)
        scopes = [""] + ([scope] if scope else []) + [f"{op.lower()}_{self.count}"]
        node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(scopes))
        self.nodes.append(node)
        return out

    def conv(self, x: str, cin: int, cout: int, scope: str, act: bool = True, std: float = 0.4) -> str:
        w = self.const(
            (self.rng.standard_normal((cout, cin, 3, 3)) * std / np.sqrt(cin)).astype(np.float32), f"{scope}.weight"
        )
        b = self.const((self.rng.standard_normal(cout) * 0.05).astype(np.float32), f"{scope}.bias")
        y = self.op("Conv", [x, w, b], scope, pads=[1, 1, 1, 1])
        return self.op("LeakyRelu", [y], scope, alpha=0.1) if act else y


def _base_grid(s: int) -> np.ndarray:
    c = (np.arange(s, dtype=np.float32) * 2 + 1) / s - 1
    gy, gx = np.meshgrid(c, c, indexing="ij")
    return np.stack([gx, gy, np.ones_like(gx)], -1).reshape(1, s * s, 3)


def _gather_warp(b: _Builder, feat: str, grid: str, ch: int, s: int, scope: str) -> str:
    """floor + GatherElements bilinear sampling (align_corners=False, border), as warp.py's gather mode."""
    gx = b.op("Gather", [grid, b.const(np.array(0, np.int64))], scope, axis=3)
    gy = b.op("Gather", [grid, b.const(np.array(1, np.int64))], scope, axis=3)
    half, one, size = b.const(np.float32(0.5)), b.const(np.float32(1.0)), b.const(np.float32(s))
    coords = []
    for g in (gx, gy):
        pix = b.op(
            "Mul", [b.op("Sub", [b.op("Mul", [b.op("Add", [g, one], scope), size], scope), one], scope), half], scope
        )
        coords.append(b.op("Clip", [pix, b.const(np.float32(0)), b.const(np.float32(s - 1))], scope))
    (ix, iy) = coords
    x0, y0 = b.op("Floor", [ix], scope), b.op("Floor", [iy], scope)
    wx1, wy1 = b.op("Sub", [ix, x0], scope), b.op("Sub", [iy, y0], scope)
    wx0, wy0 = b.op("Sub", [one, wx1], scope), b.op("Sub", [one, wy1], scope)
    flat = b.op("Reshape", [feat, b.const(np.array([1, ch, s * s], np.int64))], scope)
    out = None
    for dy, wy in ((0.0, wy0), (1.0, wy1)):
        for dx, wx in ((0.0, wx0), (1.0, wx1)):
            limit = b.const(np.float32(s - 1))
            xi = b.op("Clip", [b.op("Add", [x0, b.const(np.float32(dx))], scope), b.const(np.float32(0)), limit], scope)
            yi = b.op("Clip", [b.op("Add", [y0, b.const(np.float32(dy))], scope), b.const(np.float32(0)), limit], scope)
            idx = b.op("Cast", [b.op("Add", [b.op("Mul", [yi, size], scope), xi], scope)], scope, to=TensorProto.INT64)
            idx = b.op(
                "Expand",
                [
                    b.op("Reshape", [idx, b.const(np.array([1, 1, s * s], np.int64))], scope),
                    b.const(np.array([1, ch, s * s], np.int64)),
                ],
                scope,
            )
            weight = b.op("Reshape", [b.op("Mul", [wx, wy], scope), b.const(np.array([1, 1, s * s], np.int64))], scope)
            term = b.op("Mul", [b.op("GatherElements", [flat, idx], scope, axis=2), weight], scope)
            out = term if out is None else b.op("Add", [out, term], scope)
    return b.op("Reshape", [out, b.const(np.array([1, ch, s, s], np.int64))], scope)


def _sample(b: _Builder, feat: str, grid: str, ch: int, s: int, warp: str, scope: str) -> str:
    if warp == "native":
        return b.op("GridSample", [feat, grid], scope, mode="bilinear", padding_mode="border", align_corners=0)
    return _gather_warp(b, feat, grid, ch, s, scope)


def build_graph(warp: str = "native", s: int = SIZE, seed: int = 0) -> onnx.ModelProto:
    """The test network as an ONNX model (opset 18)."""
    b, ch = _Builder(seed), 6
    x = b.conv("blurred", 3, ch, "encoder.0.0.0")
    feat = b.conv(x, ch, ch, "encoder.1.0.0")
    pooled = b.op("ReduceMean", [feat, b.const(np.array([2, 3], np.int64))], "others.0.ftn.0.stn", keepdims=0)
    fc_w = b.const((b.rng.standard_normal((6, ch)) * 0.05).astype(np.float32), "others.0.ftn.0.stn.fc.weight")
    fc_b = b.const(np.array([1, 0, 0, 0, 1, 0], np.float32), "others.0.ftn.0.stn.fc.bias")
    theta = b.op("Gemm", [pooled, fc_w, fc_b], "others.0.ftn.0.stn.fc", transB=1)
    theta_t = b.op(
        "Transpose",
        [b.op("Reshape", [theta, b.const(np.array([1, 2, 3], np.int64))], "others.0.ftn.0.stn")],
        "others.0.ftn.0",
        perm=[0, 2, 1],
    )
    base = b.op(
        "Reshape",
        [b.const(_base_grid(s).reshape(s, s, 3)), b.const(np.array([1, s * s, 3], np.int64))],
        "others.0.ftn.0",
    )  # a constant subgraph, as the exporter leaves the base grid
    grid_a = b.op(
        "Reshape",
        [b.op("MatMul", [base, theta_t], "others.0.ftn.0"), b.const(np.array([1, s, s, 2], np.int64))],
        "others.0.ftn.0",
    )
    flow = b.conv(feat, ch, 2, "others.0.ftn.0.lw.head", act=False, std=0.2)
    scale = b.const(np.array([2.0 / s, 2.0 / s], np.float32))
    grid_f = b.op(
        "Add",
        [
            b.const(_base_grid(s)[..., :2].reshape(1, s, s, 2)),
            b.op("Mul", [b.op("Transpose", [flow], "others.0.ftn.0", perm=[0, 2, 3, 1]), scale], "others.0.ftn.0"),
        ],
        "others.0.ftn.0",
    )
    glob = _sample(b, feat, grid_a, ch, s, warp, "others.0.ftn.0")
    local = _sample(b, feat, grid_f, ch, s, warp, "others.0.ftn.0")
    mixed = b.op("Concat", [glob, local], "others.0.ftn.0", axis=1)
    dense = b.conv(b.conv(mixed, 2 * ch, ch, "others.0.dense.0.convs.0.0"), ch, ch, "others.0.dense.0.fuse.0")
    head = b.conv(dense, ch, 3 * FRAMES, "others.0.heads.0", act=False, std=0.3)
    images = b.op("Reshape", [head, b.const(np.array([1, FRAMES, 3, s, s], np.int64))], "")
    base = b.op("Unsqueeze", ["blurred", b.const(np.array([1], np.int64))], "")
    out = b.op("Clip", [b.op("Add", [base, images], ""), b.const(np.float32(0)), b.const(np.float32(1))], "")
    b.nodes[-1].output[0] = "frames"
    graph = helper.make_graph(
        b.nodes,
        "tiny-b2v",
        [helper.make_tensor_value_info("blurred", TensorProto.FLOAT, [1, 3, s, s])],
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, FRAMES, 3, s, s])],
        b.inits,
    )
    del out
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def make_deploy(root: Path, model: onnx.ModelProto, warp: str = "native", target: str = "trt10") -> Path:
    """A deploy dir with ``model.onnx`` and a manifest listing it as the FP32 artifact."""
    root.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(root / "model.onnx"))
    dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    out = dims(model.graph.output[0])
    Manifest(
        root=root,
        model={"name": "tiny", "frames": out[1]},
        input={"name": "blurred", "shape": dims(model.graph.input[0])},
        output={"name": "frames", "shape": out},
        artifacts=[
            Artifact("model.onnx", "onnx", "fp32", sha256_file(root / "model.onnx"), warp=warp, opset=18, target=target)
        ],
    ).save()
    return root


def deconv_graph(size: int = 16) -> onnx.ModelProto:
    """blurred -> Conv (stride 2) -> ConvTranspose (x2) -> Conv -> frames [1, 2, 3, H, W]."""
    rng = np.random.default_rng(0)

    def w(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["blurred", "w0"], ["a"], name="down", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["b"], name="act"),
        helper.make_node("ConvTranspose", ["b", "w1"], ["c"], name="up", strides=[2, 2]),
        helper.make_node("Conv", ["c", "w2"], ["d"], name="mix", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d"], ["e"], name="act2"),
        helper.make_node("Conv", ["e", "w3"], ["f"], name="heads.0", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["f"], ["g"], name="squash"),
        helper.make_node("Reshape", ["g", "shape"], ["frames"], name="frames_reshape"),
    ]
    inits = [w("w0", 8, 3, 3, 3), w("w1", 8, 8, 2, 2), w("w2", 8, 8, 3, 3), w("w3", 6, 8, 3, 3)]
    inits.append(numpy_helper.from_array(np.array([1, 2, 3, size, size], np.int64), "shape"))
    graph = helper.make_graph(
        nodes,
        "deconv",
        [helper.make_tensor_value_info("blurred", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, 2, 3, size, size])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
