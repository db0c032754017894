"""calib/geometry.py: the one classifier of warp-geometry nodes, and ConvTranspose on TensorRT 8.x."""

from __future__ import annotations

from collections import Counter

import onnx
import pytest

from b2v_edge.calib.api import _float_ops, run_calibration
from b2v_edge.calib.geometry import GEOMETRY_REASONS, geometry_nodes
from b2v_edge.calib.plan import precision_plan


@pytest.mark.parametrize("warp", ["native", "gather"])
def test_geometry_is_the_plans_float_geometry(graphs, warp):
    model = graphs.build_graph(warp)
    geometry = geometry_nodes(model)
    plan = precision_plan(model)
    assert set(geometry.values()) <= set(GEOMETRY_REASONS)
    for reason in GEOMETRY_REASONS:
        assert sorted(n for n, r in geometry.items() if r == reason) == sorted(plan.excluded.get(reason, []))
    ops = Counter(n.op_type for n in model.graph.node if n.name in geometry)
    assert ops["Gemm"] == 1 and ops["MatMul"] == 1 and ops["GridSample" if warp == "native" else "GatherElements"] > 0


def test_geometry_without_metadata_still_finds_heads(graphs):
    model = graphs.build_graph("gather")
    for node in model.graph.node:
        del node.metadata_props[:]
    geometry = geometry_nodes(model)
    by_op = Counter((n.op_type, geometry.get(n.name)) for n in model.graph.node)
    assert by_op[("Gemm", "stn_regressor")] == 1 and by_op[("Conv", "flow_head")] == 1
    assert by_op[("Floor", "coordinates")] > 0 and by_op[("GatherElements", "warp")] > 0


def test_float_ops_per_tensorrt_version(graphs):
    assert _float_ops("tensorrt", "8.5.2") == ("ConvTranspose",) and _float_ops("tensorrt", "8.6.1") == (
        "ConvTranspose",
    )
    assert _float_ops("tensorrt", "10.3.0") == () and _float_ops("onnxruntime", "8.6.1") == ()
    plan = precision_plan(graphs.deconv_graph(), float_ops=("ConvTranspose",))
    assert plan.excluded["deconvolution"] == ["up"]


@pytest.mark.parametrize("version, quantized", [("8.6.1", False), ("10.3.0", True)])
def test_convtranspose_weights_stay_float_for_trt8(tmp_path, graphs, fast, version, quantized):
    """TensorRT 8.x has no per-output-channel INT8 deconvolution (NVIDIA/TensorRT#2380); ORT uses axis 1."""
    from dataclasses import replace

    deploy = graphs.make_deploy(tmp_path / "d", graphs.deconv_graph(), "native", target="trt8.6")
    run_calibration(deploy, replace(fast, trt_version=version))
    qdq = onnx.load(str(deploy / "model.int8.onnx"))
    producer = {o: n for n in qdq.graph.node for o in n.output}
    up = next(n for n in qdq.graph.node if n.op_type == "ConvTranspose")
    fed = [producer[i].op_type for i in up.input if i in producer]
    assert ("DequantizeLinear" in fed) == quantized
    mix = next(n for n in qdq.graph.node if n.name == "mix")
    assert "DequantizeLinear" in [producer[i].op_type for i in mix.input if i in producer]  # Conv still INT8
