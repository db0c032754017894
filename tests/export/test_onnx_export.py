"""export_onnx: single-file graphs with the blurred -> frames contract, both warps, dynamic axes, opset lowering."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_helpers import TinyWarpNet, perturb

from b2v_edge.export.onnx_export import ExportError, export_onnx
from b2v_edge.export.opset import OpsetError, lower_opset


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(None, {"blurred": x})[0]


def _ops(path: Path) -> Counter:
    return Counter(n.op_type for n in onnx.load(str(path)).graph.node)


def _torch(net: torch.nn.Module, x: np.ndarray, mode: str) -> np.ndarray:
    with torch.no_grad():
        return net.set_warp_mode(mode)(torch.from_numpy(x)).numpy()


def test_native_graph_contract(onnx_files, warp_net):
    path = onnx_files["native"]
    model = onnx.load(str(path))
    assert not list(path.parent.glob("native.onnx.data")), "weights must be inline (no external data)"
    assert [i.name for i in model.graph.input] == ["blurred"]
    assert [o.name for o in model.graph.output] == ["frames"]
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 64, 64]
    assert {e.version for e in model.opset_import if e.domain in ("", "ai.onnx")} == {18}
    ops = _ops(path)
    assert ops["GridSample"] == 2 and "AffineGrid" not in ops and "ReduceSum" not in ops
    attrs = [
        {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        for n in model.graph.node
        if n.op_type == "GridSample"
    ]
    assert {a["mode"] for a in attrs} == {b"bilinear"} and {a["align_corners"] for a in attrs} == {0}
    assert sorted(a["padding_mode"] for a in attrs) == [b"border", b"zeros"]  # TinyWarpNet: affine border, flow zeros


@pytest.mark.parametrize("kind,mode", [("native", "native"), ("gather", "gather"), ("gather13", "gather")])
def test_graph_matches_pytorch(onnx_files, warp_net, kind, mode):
    x = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
    out = _run(onnx_files[kind], x)
    np.testing.assert_allclose(out, _torch(warp_net, x, mode), atol=2e-5)


def test_gather_graph_has_no_gridsample(onnx_files):
    ops = _ops(onnx_files["gather"])
    assert "GridSample" not in ops and ops["GatherElements"] == 2 and ops["Floor"] == 4  # 4 corners in one gather
    names = [n.name for n in onnx.load(str(onnx_files["gather"])).graph.node if n.op_type == "GatherElements"]
    assert all("/gather/" in name for name in names)


def test_rewrite_matches_the_traced_gather_warp(warp_net, tmp_path):
    """The GridSample rewrite and torch's trace of the model's own gather warp agree (and the rewrite is smaller)."""
    x = torch.rand(1, 3, 64, 64)
    traced = torch.onnx.export(
        warp_net.set_warp_mode("gather"), (x,), input_names=["blurred"], dynamo=True, opset_version=18
    ).model_proto
    rewritten = onnx.load(str(export_onnx(warp_net, tmp_path / "g.onnx", 64, 64, warp="gather")))
    assert len(rewritten.graph.node) < len(traced.graph.node)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    a = ort.InferenceSession(traced.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(
        None, {"blurred": x.numpy()}
    )[0]
    b = _run(tmp_path / "g.onnx", x.numpy())
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_rewrite_of_a_dynamic_graph(onnx_files, warp_net):
    from b2v_edge.export.gather_rewrite import rewrite_gridsample

    model = onnx.load(str(onnx_files["dynamic"]))
    assert rewrite_gridsample(model) == 2
    onnx.checker.check_model(model, full_check=True)
    path = onnx_files["dynamic"].parent / "dynamic_gather.onnx"
    onnx.save(model, str(path))
    for shape in [(2, 3, 64, 64), (1, 3, 96, 128)]:
        x = np.random.default_rng(3).random(shape, dtype=np.float32)
        np.testing.assert_allclose(_run(path, x), _torch(warp_net, x, "gather"), atol=2e-5)


def test_rewrite_refuses_unsupported_modes():
    from b2v_edge.export.gather_rewrite import RewriteError, rewrite_gridsample

    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 4, 4])
    g = onnx.helper.make_tensor_value_info("g", onnx.TensorProto.FLOAT, [1, 4, 4, 2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    for attrs in (dict(mode="nearest"), dict(align_corners=1), dict(padding_mode="reflection")):
        node = onnx.helper.make_node("GridSample", ["x", "g"], ["y"], name="gs", **attrs)
        model = onnx.helper.make_model(onnx.helper.make_graph([node], "g", [x, g], [y]))
        with pytest.raises(RewriteError, match="gs"):
            rewrite_gridsample(model)


def test_opset13_graph_is_really_opset13(onnx_files):
    model = onnx.load(str(onnx_files["gather13"]))
    assert {e.version for e in model.opset_import if e.domain in ("", "ai.onnx")} == {13}
    onnx.checker.check_model(model, full_check=True)
    assert all(len(n.input) == 1 for n in model.graph.node if n.op_type == "ReduceMean")


def test_dynamic_axes_run_at_other_shapes(onnx_files, warp_net):
    model = onnx.load(str(onnx_files["dynamic"]))
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    for shape in [(1, 3, 64, 64), (3, 3, 96, 128)]:
        x = np.random.default_rng(2).random(shape, dtype=np.float32)
        np.testing.assert_allclose(_run(onnx_files["dynamic"], x), _torch(warp_net, x, "native"), atol=2e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(height=0),
        dict(width=-3),
        dict(height=5000),
        dict(batch=0),
        dict(dynamic=True, height=70),
        dict(opset=12),
        dict(opset=20),
    ],
)
def test_bad_arguments(tmp_path, warp_net, kwargs):
    with pytest.raises(ValueError):
        export_onnx(warp_net, tmp_path / "x.onnx", **{"height": 64, "width": 64, **kwargs})
    assert not (tmp_path / "x.onnx").exists()


def test_native_warp_cannot_be_lowered_below_16(onnx_files):
    with pytest.raises(OpsetError, match="GridSample needs opset >= 16"):
        lower_opset(onnx.load(str(onnx_files["native"])), 13)


def test_lower_opset_refuses_runtime_axes():
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    axes = onnx.helper.make_tensor_value_info("axes", onnx.TensorProto.INT64, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    node = onnx.helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="rm")
    model = onnx.helper.make_model(
        onnx.helper.make_graph([node], "g", [x, axes], [y]), opset_imports=[onnx.helper.make_opsetid("", 18)]
    )
    with pytest.raises(OpsetError, match="run-time axes"):
        lower_opset(model, 17)


def test_export_is_atomic_on_failure(tmp_path):
    class Broken(TinyWarpNet):
        def forward(self, x):  # data-dependent control flow: torch.export cannot trace it
            if float(x.mean()) > 2:
                return x
            return super().forward(x)

    torch.manual_seed(0)
    with pytest.raises(ExportError, match="torch.onnx.export failed"):
        export_onnx(perturb(Broken()), tmp_path / "x.onnx", 64, 64)
    assert list(tmp_path.iterdir()) == []


def test_export_leaves_the_model_as_it_was(tmp_path):
    from export_helpers import tiny_blur2video

    from b2v_edge.model import warp

    net = tiny_blur2video(3)
    inplace = [m for m in net.modules() if getattr(m, "inplace", False)]
    assert inplace, "the tiny model has in-place activations (traced out of place)"
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = net(x)
    path = export_onnx(net, tmp_path / "m.onnx", 64, 64, warp="native")
    assert all(m.inplace for m in inplace)
    assert warp._native_sampler is warp.torch_grid_sample
    with torch.no_grad():
        assert torch.equal(net(x), before)
    np.testing.assert_allclose(_run(path, x.numpy()), before.numpy(), atol=2e-5)
