"""Target lint: node, reason and fix for what a TensorRT parser cannot (or silently mis-) read."""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from b2v_edge.export.lint import LintError, ensure_lint, lint_model


def _model(
    nodes: List[onnx.NodeProto],
    opset: int = 18,
    inits: Optional[list] = None,
    x_shape=(1, 4, 8, 8),
    extra_inputs: Optional[list] = None,
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x] + (extra_inputs or []), [y], initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _grid_sample(opset: int = 18, rank: int = 4, **attrs) -> onnx.ModelProto:
    shape = (1, 4, 8, 8) if rank == 4 else (1, 4, 4, 8, 8)
    grid = helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 8, 8, 2] if rank == 4 else [1, 4, 8, 8, 3])
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="warp0", **attrs)
    return _model([node], opset, x_shape=shape, extra_inputs=[grid])


def test_native_graph_rejected_for_trt82_gather_accepted(onnx_files):
    report = lint_model(onnx_files["native"], "trt8.2")
    assert not report
    grid = [f for f in report.errors if f.op == "GridSample"]
    assert len(grid) == 2 and grid[0].node.startswith("node_grid_sample") and "--warp gather" in grid[0].fix
    assert lint_model(onnx_files["gather13"], "trt8.2")
    assert lint_model(onnx_files["gather13"], "trt8.0")


def test_opset18_gather_graph_needs_the_target_opset(onnx_files):
    report = lint_model(onnx_files["gather"], "trt8.2")
    assert [f.op for f in report.errors] == ["opset"]
    assert "--target trt8.2" in report.errors[0].fix and "opset 13" in report.errors[0].fix


@pytest.mark.parametrize("target", ["trt8.5", "trt8.6", "trt10", "trt11"])
def test_native_gridsample_accepted_from_85(onnx_files, target):
    model = onnx.load(str(onnx_files["native"]))
    if target.startswith("trt8"):
        from b2v_edge.export.opset import lower_opset

        model = lower_opset(model, 17)
    assert lint_model(model, target), lint_model(model, target).errors


@pytest.mark.parametrize("target", ["trt8.5", "trt10", "trt11"])
def test_opset20_gridsample_rejected_for_tensorrt(target):
    report = lint_model(_grid_sample(20, mode="linear"), target)
    modes = [f for f in report.errors if "mode" in f.reason]
    assert modes and modes[0].node == "warp0" and "#4646" in modes[0].reason


def test_gridsample_without_mode_gets_the_parsers_bilinear_default():
    """onnx-tensorrt reads a missing mode as "bilinear": right, whatever the opset's own default."""
    assert not [f for f in lint_model(_grid_sample(20), "trt10").errors if "mode" in f.reason]


def test_opset20_gridsample_fine_for_onnxruntime():
    assert lint_model(_grid_sample(20, mode="linear"), "onnxruntime")


def test_gridsample_5d_and_padding():
    assert any("5-D" in f.reason for f in lint_model(_grid_sample(18, rank=5), "trt10").errors)
    assert not lint_model(_grid_sample(18, padding_mode="mirror"), "trt10")


def test_slow_gridsample_warning_only_for_exact_versions():
    model = _grid_sample(18)
    assert not lint_model(model, "trt10").warnings
    warn = lint_model(model, "trt10", trt_version="10.1.0").warnings
    assert warn and "slower" in warn[0].reason
    assert not lint_model(model, "trt10", trt_version="10.3.0").warnings


def test_affinegrid_rejected_everywhere():
    theta = helper.make_tensor_value_info("theta", TensorProto.FLOAT, [1, 2, 3])
    size = numpy_helper.from_array(np.array([1, 4, 8, 8], np.int64), "size")
    node = helper.make_node("AffineGrid", ["theta", "size"], ["y"], name="ag")
    model = _model([node], 20, inits=[size], extra_inputs=[theta])
    for target in ("trt8.6", "trt10", "trt11"):
        errors = lint_model(model, target).errors
        assert any(f.node == "ag" and "dynamo" in f.fix for f in errors)


def _qdq(zero_point: int, around_gridsample: bool = False) -> onnx.ModelProto:
    inits = [
        numpy_helper.from_array(np.array(0.1, np.float32), "s"),
        numpy_helper.from_array(np.array(zero_point, np.int8), "zp"),
    ]
    grid = helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 8, 8, 2])
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="q0"),
        helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["dq"], name="dq0"),
    ]
    if around_gridsample:
        nodes += [
            helper.make_node("GridSample", ["dq", "grid"], ["g"], name="gs"),
            helper.make_node("QuantizeLinear", ["g", "s", "zp"], ["q2"], name="q1"),
            helper.make_node("DequantizeLinear", ["q2", "s", "zp"], ["y"], name="dq1"),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["dq"], ["y"], name="id"))
    return _model(nodes, 18, inits=inits, extra_inputs=[grid] if around_gridsample else None)


def test_qdq_zero_point_must_be_zero():
    assert lint_model(_qdq(0), "trt10")
    errors = lint_model(_qdq(3), "trt10").errors
    assert {f.node for f in errors} == {"q0", "dq0"} and "zero-point 0" in errors[0].reason


def test_int8_gridsample_rejected():
    errors = lint_model(_qdq(0, around_gridsample=True), "trt10").errors
    assert [f.node for f in errors] == ["gs"] and "INT8" in errors[0].reason


def test_unknown_custom_and_resize_rules():
    custom = helper.make_node("MyOp", ["x"], ["y"], name="c0", domain="com.example")
    model = _model([custom])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    assert "plugin" in lint_model(model, "trt10").errors[0].reason
    roi = numpy_helper.from_array(np.array([], np.float32), "roi")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    resize = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], name="r0", mode="cubic")
    assert "Resize mode" in lint_model(_model([resize], 18, inits=[roi, scales]), "trt10").errors[0].reason
    mod = helper.make_node("Mod", ["x", "x"], ["y"], name="m0", fmod=1)
    assert lint_model(_model([mod], 13), "trt8.2").errors[0].node == "m0"
    assert lint_model(_model([mod], 17), "trt8.5")


def test_runtime_axes_flagged():
    axes = helper.make_tensor_value_info("axes", TensorProto.INT64, [1])
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="rm")
    errors = lint_model(_model([node], 18, extra_inputs=[axes]), "trt10").errors
    assert errors[0].node == "rm" and "axes" in errors[0].reason


def test_ensure_lint_message_has_node_reason_fix(onnx_files):
    with pytest.raises(LintError) as info:
        ensure_lint(onnx_files["native"], "trt8.0", "model.onnx")
    msg = str(info.value)
    assert "model.onnx fails the trt8.0 lint" in msg and "node_grid_sample" in msg and "fix: use --warp gather" in msg
    assert len(info.value.report.grouped()) == 2  # GridSample x2 merged, opset


def test_unknown_target():
    with pytest.raises(ValueError, match="unknown target"):
        lint_model(_grid_sample(), "trt7")


def _pad(mode: str = "constant", value: Optional[float] = None) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 16, 16], np.int64), "pads")]
    inputs = ["x", "pads"]
    if value is not None:
        inits.append(numpy_helper.from_array(np.array(value, np.float32), "cval"))
        inputs.append("cval")
    return _model([helper.make_node("Pad", inputs, ["y"], name="node_pad", mode=mode)], 13, inits=inits)


def test_trt80_pads_only_with_constant_zero():
    """A static export whose size is not a multiple of 32 edge-pads; TensorRT 8.0's parser rejects it."""
    report = lint_model(_pad("edge"), "trt8.0")
    assert [f.node for f in report.errors] == ["node_pad"] and "constant 0" in report.errors[0].reason
    assert "multiples of 32" in report.errors[0].fix
    assert not lint_model(_pad("constant", 1.0), "trt8.0", trt_version="8.0.1.6")
    assert lint_model(_pad("constant", 0.0), "trt8.0") and lint_model(_pad("constant"), "trt8.0")
    assert lint_model(_pad("edge"), "trt8.2")  # 8.2 maps edge to SliceMode::kCLAMP


def test_real_static_export_with_edge_padding_fails_the_trt80_lint(tmp_path):
    from export_helpers import tiny_blur2video

    from b2v_edge.export.onnx_export import export_onnx

    path = export_onnx(tiny_blur2video(), tmp_path / "pad.onnx", 48, 80, warp="gather", opset=13)
    assert any(n.op_type == "Pad" for n in onnx.load(str(path)).graph.node)
    assert any(f.op == "Pad" for f in lint_model(path, "trt8.0").errors)


def test_zero_point_from_a_constant_node_is_read():
    zero = helper.make_node("Constant", [], ["zp"], value=numpy_helper.from_array(np.array(0, np.int8)))
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    q = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"], name="q")
    assert lint_model(_model([zero, q], 13, inits=[scale]), "trt10")


@pytest.mark.parametrize(
    "version, op, supported",
    [
        ("8.0", "Einsum", False),
        ("8.2", "Einsum", True),
        ("8.2", "Xor", False),
        ("8.5", "Xor", True),
        ("8.5", "GroupNormalization", False),
        ("8.6", "GroupNormalization", True),
        ("8.6", "IsInf", True),
        ("10.0", "STFT", False),
        ("10.3", "HannWindow", False),
        ("10.0", "DeformConv", False),
        ("10.1", "DeformConv", True),
    ],
)
def test_op_table_per_version_matches_operators_md(version, op, supported):
    from b2v_edge.export.targets import supported_ops

    assert (op in supported_ops(version)) == supported
