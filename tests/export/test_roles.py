"""export/roles.py: one classifier of warp geometry behind the fp16 keep-fp32 set, the TensorRT 8.x
float32 pins and the INT8 float set — checked on a real export of the network."""

from __future__ import annotations

import onnx

from b2v_edge.calib.geometry import GEOMETRY_REASONS, geometry_nodes
from b2v_edge.calib.plan import precision_plan
from b2v_edge.common.manifest import Manifest
from b2v_edge.common.trt_version import TrtVersion
from b2v_edge.export.fp16 import ORT_FP32_OPS
from b2v_edge.export.trt_recipe import BuildOptions, plan_recipe


def test_fp16_keep_set_trt8_pins_and_int8_float_set_agree_on_a_real_export(tiny_deploy):
    deploy = tiny_deploy.deploy_dir
    manifest = Manifest.load(deploy)
    model = onnx.load(str(deploy / "model.onnx"))
    geometry = geometry_nodes(model)
    assert {"warp", "coordinates", "stn_regressor", "flow_head"} == set(geometry.values())

    record = manifest.get("onnx", "fp16").extra["fp16"]
    kept = set(record["kept_fp32_nodes"])
    no_kernel = {n.name for n in model.graph.node if n.op_type in ORT_FP32_OPS and n.name not in geometry}
    assert kept == set(geometry) | no_kernel  # 1. the fp16 graph keeps exactly the geometry in float32

    recipe = plan_recipe(manifest, BuildOptions(precision="fp16"), TrtVersion.parse("8.6.1"))
    assert set(recipe.keep_fp32) == kept  # 2. TensorRT 8.x pins the same nodes
    outputs = {o for n in model.graph.node if n.name in kept for o in n.output}
    assert set(recipe.keep_tensors) == outputs

    plan = precision_plan(model)
    int8_geometry = {n for reason in GEOMETRY_REASONS for n in plan.excluded.get(reason, [])}
    assert int8_geometry == set(geometry)  # 3. INT8 keeps the same nodes in float
    assert all(plan.excluded[geometry[n]].count(n) == 1 for n in geometry)
