"""FP16 graph: float32 I/O, warp geometry kept in float32, parity with PyTorch on ORT CPU."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from b2v_edge.calib.geometry import geometry_nodes
from b2v_edge.common.metrics import psnr
from b2v_edge.export import fp16 as fp16_mod
from b2v_edge.export.fp16 import convert_fp16, unshare_initializers
from b2v_edge.export.graph import check_model, simplify
from b2v_edge.export.roles import ROLE_KEY, copy_roles, keep_fp32_nodes, tag_roles


def _prepared(path) -> onnx.ModelProto:
    model = onnx.load(str(path))
    tag_roles(model)
    result = simplify(model)
    copy_roles(result.model, model)
    return check_model(result.model)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(
        None, {"blurred": x}
    )[0]


@pytest.mark.parametrize("kind", ["native", "gather"])
def test_roles_tagged_and_bulky_trace_dropped(onnx_files, kind):
    model = onnx.load(str(onnx_files[kind]))
    roles = tag_roles(model)
    assert {"stn_regressor", "flow_head", "warp"} <= set(roles.values())
    keys = {p.key for n in model.graph.node for p in n.metadata_props}
    assert ROLE_KEY in keys and "pkg.torch.onnx.stack_trace" not in keys
    gemm = [n.name for n in model.graph.node if n.op_type == "Gemm"]
    assert all(roles.get(name) == "stn_regressor" for name in gemm)  # the STN's fc layer


@pytest.mark.parametrize("kind,sampler", [("native", "GridSample"), ("gather", "GatherElements")])
def test_fp16_keeps_warp_geometry_fp32(onnx_files, warp_net, kind, sampler):
    model = _prepared(onnx_files[kind])
    result = convert_fp16(model, "onnxconverter")
    ops = {n.name: n.op_type for n in model.graph.node}
    kept_ops = Counter(ops[n] for n in result.kept_fp32)
    assert kept_ops[sampler] == Counter(ops.values())[sampler]  # every sampler
    assert kept_ops["Gemm"] == 1 and kept_ops["MatMul"] == 1  # theta regressor + affine grid MatMul
    if kind == "gather":
        assert kept_ops["Floor"] == 4 and kept_ops["Cast"] == Counter(ops.values())["Cast"]
    converted = result.model
    assert [i.type.tensor_type.elem_type for i in converted.graph.input] == [onnx.TensorProto.FLOAT]
    assert [o.type.tensor_type.elem_type for o in converted.graph.output] == [onnx.TensorProto.FLOAT]
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in converted.graph.initializer)
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        ref = warp_net.set_warp_mode(kind)(torch.from_numpy(x)).numpy()
    assert psnr(ref, _run(converted, x)) >= 40.0
    assert psnr(ref, _run(model, x)) >= 60.0


@pytest.mark.parametrize("kind", ["native", "gather"])
def test_no_fp16_round_trip_inside_the_fp32_region(onnx_files, kind):
    """onnxconverter-common casts every edge between two blocked nodes to fp16 and back; we bypass those."""
    model = _prepared(onnx_files[kind])
    result = convert_fp16(model, "onnxconverter")
    converted = onnx.shape_inference.infer_shapes(result.model)
    producer = {o: n for n in converted.graph.node for o in n.output}
    dtypes = {
        v.name: v.type.tensor_type.elem_type for v in list(converted.graph.value_info) + list(converted.graph.input)
    }
    for node in converted.graph.node:
        if node.name not in result.kept_fp32 or node.op_type == "Cast":
            continue
        for name in node.input:
            src = producer.get(name)
            if src is not None and src.op_type == "Cast":
                up = producer.get(src.input[0])
                assert not (up is not None and up.op_type == "Cast"), f"{node.name} reads a fp16 round trip"
    coords = [n.input[1] for n in converted.graph.node if n.op_type == "GridSample"]
    coords += [n.input[0] for n in converted.graph.node if n.op_type == "Floor"]
    assert coords and all(dtypes[name] == onnx.TensorProto.FLOAT for name in coords)  # coordinates stay fp32


def test_remove_cast_roundtrips_unit():
    from b2v_edge.export.fp16 import remove_cast_roundtrips

    make = onnx.helper.make_node
    nodes = [
        make("Floor", ["x"], ["a"], name="kept1"),
        make("Cast", ["a"], ["a16"], name="c16", to=onnx.TensorProto.FLOAT16),
        make("Cast", ["a16"], ["a32"], name="c32", to=onnx.TensorProto.FLOAT),
        make("Floor", ["a32"], ["y"], name="kept2"),
        make("Relu", ["a16"], ["z"], name="converted"),
    ]
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    outs = [
        onnx.helper.make_tensor_value_info(n, t, [1])
        for n, t in (("y", onnx.TensorProto.FLOAT), ("z", onnx.TensorProto.FLOAT16))
    ]
    model = onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", [x], outs))
    assert remove_cast_roundtrips(model) == 1
    names = [n.name for n in model.graph.node]
    assert names == ["kept1", "c16", "kept2", "converted"] and list(model.graph.node[2].input) == ["a"]
    del model.graph.node[3]
    del model.graph.output[1]
    assert remove_cast_roundtrips(model) == 0 and [n.name for n in model.graph.node] == ["kept1", "kept2"]


def test_structural_rule_without_tags(onnx_files):
    model = _prepared(onnx_files["gather"])
    for node in model.graph.node:
        del node.metadata_props[:]
    structural = geometry_nodes(model)
    ops = Counter(n.op_type for n in model.graph.node if n.name in structural)
    assert ops["GatherElements"] >= 2 and ops["Floor"] == 4 and ops["Gemm"] == 1
    assert keep_fp32_nodes(model) == structural


def test_summary_lists_kept_nodes(onnx_files):
    result = convert_fp16(_prepared(onnx_files["native"]), "onnxconverter")
    summary = result.summary()
    assert summary["kept_fp32_count"] == len(summary["kept_fp32_nodes"]) > 0
    assert summary["converter"] == "onnxconverter" and summary["total_nodes"] > summary["kept_fp32_count"]
    assert set(summary["kept_fp32_by_role"]) <= {"stn_regressor", "flow_head", "warp", "coordinates", "no_fp16_kernel"}
    assert summary["kept_fp32_tensors"] and len(summary["kept_fp32_tensors"]) >= summary["kept_fp32_count"]


def test_unshare_initializers_gives_converted_nodes_a_copy():
    one = onnx.numpy_helper.from_array(np.array(1.0, np.float32), "one")
    nodes = [
        onnx.helper.make_node("Add", ["x", "one"], ["a"], name="kept"),
        onnx.helper.make_node("Mul", ["a", "one"], ["y"], name="converted"),
    ]
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    model = onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", [x], [y], [one]))
    assert unshare_initializers(model, {"kept"}) == 1
    assert list(model.graph.node[0].input) == ["x", "one"] and list(model.graph.node[1].input) == ["a", "one__fp16"]
    assert unshare_initializers(model, {"kept"}) == 0


def test_modelopt_requested_but_missing(onnx_files, monkeypatch):
    monkeypatch.setattr(fp16_mod.importlib.util, "find_spec", lambda name: None)
    assert fp16_mod.resolve_tool("auto") == "onnxconverter"
    with pytest.raises(RuntimeError, match="ModelOpt is not installed"):
        convert_fp16(_prepared(onnx_files["native"]), "modelopt")
