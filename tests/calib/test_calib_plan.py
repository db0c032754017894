"""Warp-aware precision plan on hand-built graphs (native GridSample and gather warps)."""

from __future__ import annotations

import onnx
import pytest

from b2v_edge.calib.plan import group_key, module_path, precision_plan


def _ops(model, names):
    by = {n.name: n.op_type for n in model.graph.node}
    return sorted(by[n] for n in names)


@pytest.mark.parametrize("warp", ["native", "gather"])
def test_default_plan_keeps_geometry_and_images_in_float(graphs, warp):
    model = graphs.build_graph(warp)
    plan = precision_plan(model)
    ex = plan.excluded
    sampler = "GridSample" if warp == "native" else "GatherElements"
    assert _ops(model, ex["warp"]).count(sampler) == (2 if warp == "native" else 8)
    assert "MatMul" in _ops(model, ex["coordinates"])  # the affine grid
    assert _ops(model, ex["coordinates"]).count("Reshape") >= 2  # incl. the constant base-grid subgraph
    assert _ops(model, ex["stn_regressor"]) == ["Gemm", "ReduceMean"]
    assert _ops(model, ex["flow_head"]) == ["Conv"]
    assert _ops(model, ex["first_conv"]) == ["Conv"]
    assert "Conv" in _ops(model, ex["image_path"]) and "Clip" in _ops(model, ex["image_path"])
    assert set(plan.groups) == {"encoder.0", "encoder.1", "others.ftn", "others.dense.0"}
    every = [n.name for n in model.graph.node]
    assert sorted(plan.float_nodes() + [n for v in plan.groups.values() for n in v]) == sorted(every)


def test_gather_weights_are_coordinates(graphs):
    model = graphs.build_graph("gather")
    plan = precision_plan(model)
    floats = set(plan.float_nodes())
    assert all(n.name in floats for n in model.graph.node if n.op_type in ("Floor", "Cast", "Expand", "Sub"))


def test_structural_rules_work_without_metadata(graphs):
    model = graphs.build_graph("native")
    for node in model.graph.node:
        del node.metadata_props[:]
    plan = precision_plan(model)
    assert "Gemm" in _ops(model, plan.excluded["stn_regressor"])  # head found by traversal from the grid
    assert _ops(model, plan.excluded["flow_head"]) == ["Conv"]
    assert set(plan.groups) == {"top"}


def test_user_exclude_and_exclude_groups(graphs):
    model = graphs.build_graph("native")
    plan = precision_plan(model, exclude=["others.dense.*"])
    assert "others.dense.0" not in plan.groups and len(plan.excluded["user"]) == 4
    moved = precision_plan(model).exclude_groups(["encoder.1"], "target_psnr")
    assert "encoder.1" not in moved.groups and len(moved.excluded["target_psnr"]) == 2
    assert {r["reason"] for r in moved.summary()} >= {"warp", "target_psnr"}


@pytest.mark.parametrize(
    "path, key",
    [
        ("others.3.dense.1.convs.0.0", "others.dense.1"),
        ("middle.up_feat.2.0", "middle.up_feat"),
        ("others.0.ftn.2.stn.features.0", "others.ftn.stn"),
        ("encoder.3.1.0", "encoder.3"),
        ("", "top"),
        ("middle.refine.body.0", "middle.refine"),
        ("others.1.itn.4.fc", "others.itn"),
    ],
)
def test_group_key(path, key):
    assert group_key(path) == key


def test_module_path_from_torchscript_names():
    node = onnx.helper.make_node("Gemm", ["a", "b"], ["c"], name="/others.0/ftn.0/stn/fc/Gemm")
    assert module_path(node) == "others.0.ftn.0.stn.fc"
    assert module_path(onnx.helper.make_node("Relu", ["a"], ["b"], name="relu")) == ""


@pytest.mark.parametrize("strip", [False, True])
def test_export_gather_rewrite_is_recognised(graphs, strip):
    """b2v_edge.export rewrites GridSample into a vectorised gather warp with Shape-based reshapes:
    shape computations must not lead the backward slice into the feature network."""
    rewrite = pytest.importorskip("b2v_edge.export.gather_rewrite")
    model = graphs.build_graph("native")
    assert rewrite.rewrite_gridsample(model) == 2
    if strip:
        for node in model.graph.node:
            del node.metadata_props[:]
    plan = precision_plan(model)
    floats = set(plan.float_nodes())
    by_op = {}
    for n in model.graph.node:
        by_op.setdefault(n.op_type, []).append(n.name)
    for op in ("GatherElements", "ReduceSum", "Floor", "MatMul", "Gemm"):
        assert all(name in floats for name in by_op[op]), op
    assert _ops(model, plan.excluded["flow_head"]) == ["Conv"]  # not the encoder convs behind Shape(x)
    quantizable = [n for names in plan.groups.values() for n in names]
    assert sum(1 for n in quantizable if n in by_op["Conv"]) == 3  # encoder.1 + the two dense convs
