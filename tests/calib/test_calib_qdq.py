"""Q/DQ graph edits and checks."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from b2v_edge.calib.qdq import activation_scales, float_inputs, nonzero_zero_points, prune, qdq_feeding


def _graphs(zero: int = 0):
    """fp32: x -> Conv(w) -> GridSample(., g) ; qdq: x -> Q -> DQ -> Conv(DQ(w)) and DQ -> GridSample."""
    w = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w")
    g = numpy_helper.from_array(np.zeros((1, 2, 2, 2), np.float32), "g")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 2])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])]
    fp32 = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("GridSample", ["x", "g"], ["s"], name="gs"),
            helper.make_node("Add", ["c", "s"], ["y"], name="add"),
        ],
        "f",
        inputs,
        outputs,
        [w, g],
    )
    consts = [
        numpy_helper.from_array(np.float32(0.1), "sc"),
        numpy_helper.from_array(np.int8(zero), "zp"),
        numpy_helper.from_array(np.ones((2, 2, 1, 1), np.int8), "wq"),
        g,
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sc", "zp"], ["xq"], name="q"),
        helper.make_node("DequantizeLinear", ["xq", "sc", "zp"], ["xd"], name="dq"),
        helper.make_node("DequantizeLinear", ["wq", "sc", "zp"], ["wd"], name="wdq"),
        helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
        helper.make_node("GridSample", ["xd", "g"], ["s"], name="gs"),
        helper.make_node("Add", ["c", "s"], ["y"], name="add"),
    ]
    qdq = helper.make_graph(nodes, "q", inputs, outputs, consts)
    return helper.make_model(fp32), helper.make_model(qdq)


def test_checks_find_problems():
    _, qdq = _graphs(zero=3)
    assert qdq_feeding(qdq, ["GridSample"]) == [("gs", "dq")]
    assert sorted(nonzero_zero_points(qdq)) == ["dq", "q", "wdq"]
    assert activation_scales(qdq) == {"x": (np.float32(0.1), 3)}


def test_float_inputs_and_prune():
    fp32, qdq = _graphs()
    assert float_inputs(qdq, fp32, ["gs"]) == 1
    assert qdq_feeding(qdq, ["GridSample"]) == [] and prune(qdq) == 0
    assert float_inputs(qdq, fp32, ["conv"]) == 2  # activation and weight back to float
    assert prune(qdq) == 3  # q, dq and the weight's dq are unused now
    names = {t.name for t in qdq.graph.initializer}
    assert "w" in names and "wq" not in names
    assert not [n for n in qdq.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    onnx.checker.check_model(qdq)
