"""export/graph.py: onnx-simplifier kept only when the outputs stay put, on small hand-built graphs."""

from __future__ import annotations

import sys
from typing import List, Optional

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from b2v_edge.export import graph
from b2v_edge.export.graph import SIMPLIFY_ATOL, simplify


def _model(shift: float = 0.0, dims: Optional[List] = None, elem: int = TensorProto.FLOAT) -> onnx.ModelProto:
    """``y = x + (a + b)``: ``a + b`` is constant, so onnxsim folds it (3 nodes -> 1 with the Cast)."""
    dims = dims or [1, 3, 8, 8]
    a = numpy_helper.from_array(np.full((1, 3, 1, 1), 0.25, np.float32), "a")
    b = numpy_helper.from_array(np.full((1, 3, 1, 1), 0.5 + shift, np.float32), "b")
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["a", "b"], ["ab"]),
        helper.make_node("Add", ["xf", "ab"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", elem, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)],
        [a, b],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _fake_onnxsim(monkeypatch, result: onnx.ModelProto, ok: bool = True) -> list:
    """Replace ``onnxsim.simplify`` by one that returns ``result``; the list records each call's check_n."""
    import onnxsim

    calls: list = []

    def fake(model, check_n=0, **kwargs):
        calls.append(check_n)
        return result, ok

    monkeypatch.setattr(onnxsim, "simplify", fake)
    return calls


def test_a_foldable_graph_is_simplified_and_computes_the_same():
    model = _model()
    result = simplify(model)
    assert result.simplified and result.nodes_before == 3 and result.nodes_after < 3
    assert result.message == f"onnxsim: 3 -> {result.nodes_after} nodes"
    x = np.random.default_rng(1).random((1, 3, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(_run(result.model, x), _run(model, x))


def test_a_dynamic_graph_is_checked_at_the_test_shape():
    result = simplify(_model(dims=["N", 3, 8, 8]), [2, 3, 8, 8])
    assert result.simplified
    dims = result.model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N"  # the symbolic dim stays symbolic


def test_reordering_noise_below_the_tolerance_is_accepted(monkeypatch):
    """onnxsim's own check (atol 1e-5) would refuse this change; images do not care about it."""
    calls = _fake_onnxsim(monkeypatch, _model(shift=5e-5))
    result = simplify(_model())
    assert result.simplified and calls == [0]


def test_a_change_above_the_tolerance_keeps_the_unsimplified_graph(monkeypatch):
    original = _model()
    _fake_onnxsim(monkeypatch, _model(shift=10 * SIMPLIFY_ATOL))
    result = simplify(original)
    assert not result.simplified and result.model is original
    assert result.message == "onnxsim changed the outputs by up to 0.001 (> 0.0001): kept the unsimplified graph"


def test_a_changed_output_shape_keeps_the_unsimplified_graph(monkeypatch):
    reduced = _model()
    reduced.graph.node.append(helper.make_node("ReduceMean", ["y"], ["z"], axes=[3], keepdims=1))
    reduced.graph.output[0].CopyFrom(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3, 8, 1]))
    _fake_onnxsim(monkeypatch, reduced)
    result = simplify(_model())
    assert not result.simplified and "changed the outputs by up to inf" in result.message


def test_a_simplified_graph_that_does_not_run_keeps_the_unsimplified_graph(monkeypatch):
    _fake_onnxsim(monkeypatch, _model(dims=[1, 3, 4, 4]))
    result = simplify(_model())
    assert not result.simplified and result.message.startswith("the simplified graph does not run (")


def test_a_graph_with_a_non_float_input_falls_back_to_onnxsims_check(monkeypatch):
    other = _model(elem=TensorProto.INT64)
    calls = _fake_onnxsim(monkeypatch, other, ok=False)
    result = simplify(other)
    assert calls == [1] and not result.simplified
    assert result.message == "onnxsim's self-check failed: kept the unsimplified graph"


def test_an_onnxsim_error_keeps_the_unsimplified_graph_with_its_first_line(monkeypatch):
    import onnxsim

    def broken(model, **kwargs):
        raise RuntimeError("bad node\nmore detail")

    monkeypatch.setattr(onnxsim, "simplify", broken)
    model = _model()
    result = simplify(model)
    assert not result.simplified and result.model is model
    assert result.message == "onnxsim failed (bad node): kept the unsimplified graph"


def test_without_onnxsim_the_message_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxsim", None)
    result = simplify(_model())
    assert not result.simplified and "pip install 'b2v-edge[export]'" in result.message


@pytest.mark.parametrize("shape", [[1, 3, 8, 8], [2, 3, 8, 8]])
def test_check_inputs_are_seeded_uniform_floats(shape):
    feeds = graph._check_inputs(_model(dims=["N", 3, 8, 8]), shape)
    again = graph._check_inputs(_model(dims=["N", 3, 8, 8]), shape)
    x = feeds["x"]
    assert x.shape == tuple(shape) and x.dtype == np.float32 and 0 <= x.min() and x.max() < 1
    np.testing.assert_array_equal(x, again["x"])
    assert graph._check_inputs(_model(dims=["N", 3, 8, 8]), None) == {}  # unsized: onnxsim's check instead
