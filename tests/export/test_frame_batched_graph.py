"""Every downstream stage on the real frame-batched graph: fp16 keep set, INT8 plan, lint per target, Triton.

The non-middle decoders run all N-1 frames in one pass: each of their sampling calls samples one
input at the N-1 frames' grids stacked along the grid height (``[B, (N-1)*H, W, 2]``). These tests export the real (tiny) network
and check that the rules built for per-frame warps still hold on the batched ones: every sampler
and every node computing its coordinates stays float32 in the fp16 graph and float in the INT8
plan, the graphs lint clean for the TensorRT lines they target (the gather graph at opset 13 for
TensorRT 8.0/8.2 included), and the deploy dir becomes a Triton repository.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from export_helpers import parse_config, tiny_blur2video

from b2v_edge.calib.plan import precision_plan
from b2v_edge.common.trt_version import LINES
from b2v_edge.export.fp16 import convert_fp16
from b2v_edge.export.lint import lint_model
from b2v_edge.export.roles import keep_fp32_nodes
from b2v_edge.export.triton import write_repository

SAMPLERS = ("GridSample", "GatherElements")
FLOAT = onnx.TensorProto.FLOAT
FRAMES = 3  # tiny_blur2video(): the middle frame + N-1 = 2 batched frames


@pytest.fixture(scope="module")
def gather13(tmp_path_factory) -> Path:
    """The real tiny network, gather warp, opset 13 (what TensorRT 8.0 / 8.2 get), 64x64."""
    from b2v_edge.export.onnx_export import export_onnx

    return export_onnx(
        tiny_blur2video(FRAMES), tmp_path_factory.mktemp("g13") / "g.onnx", 64, 64, warp="gather", opset=13
    )


def _types(model: onnx.ModelProto) -> dict:
    inferred = onnx.shape_inference.infer_shapes(model)
    vis = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    out = {v.name: v.type.tensor_type for v in vis}
    out.update({t.name: _Init(t) for t in inferred.graph.initializer})
    return out


class _Init:
    def __init__(self, t: onnx.TensorProto) -> None:
        self.elem_type, self.shape = t.data_type, None


def _samplers(model: onnx.ModelProto):
    return [n for n in model.graph.node if n.op_type in SAMPLERS]


def test_native_graph_warps_the_batched_frames_in_float32(tiny_deploy):
    root = tiny_deploy.deploy_dir
    fp32 = onnx.load(str(root / "model.onnx"))
    keep = keep_fp32_nodes(fp32)
    grids = [n for n in fp32.graph.node if n.op_type == "GridSample"]
    assert grids and all(n.name in keep for n in grids)
    types = _types(fp32)
    grid_hw = [tuple(d.dim_value for d in types[n.input[1]].shape.dim[1:3]) for n in grids]
    assert any(h == (FRAMES - 1) * w for h, w in grid_hw)  # one call samples every non-middle frame (square maps)
    fp16 = onnx.load(str(root / "model.fp16.onnx"))
    types16 = _types(fp16)
    for node in (n for n in fp16.graph.node if n.op_type == "GridSample"):
        assert types16[node.input[0]].elem_type == FLOAT and types16[node.input[1]].elem_type == FLOAT, node.name
    float_nodes = set(precision_plan(fp32).float_nodes())
    assert set(keep) <= float_nodes  # every geometry node is also out of INT8


def test_gather_graph_keeps_indices_and_weights_out_of_fp16_and_int8(gather13):
    model = onnx.load(str(gather13))
    gathers = [n for n in model.graph.node if n.op_type == "GatherElements"]
    floors = [n for n in model.graph.node if n.op_type == "Floor"]
    assert gathers and floors and not any(n.op_type == "GridSample" for n in model.graph.node)
    keep = keep_fp32_nodes(model)
    assert all(n.name in keep for n in gathers + floors)
    assert set(keep) <= set(precision_plan(model).float_nodes())
    fp16 = convert_fp16(model).model
    types16 = _types(fp16)
    for node in (n for n in fp16.graph.node if n.op_type == "GatherElements"):
        assert types16[node.input[0]].elem_type == FLOAT, node.name  # sampled values
        assert types16[node.input[1]].elem_type in (onnx.TensorProto.INT32, onnx.TensorProto.INT64), node.name  # index


@pytest.mark.parametrize("line", LINES)
def test_lint_for_every_target_line(tiny_deploy, gather13, line):
    """The gather graph (opset 13) reads in every line; the native one from TensorRT 8.5 on."""
    assert not lint_model(gather13, line).errors, lint_model(gather13, line).errors
    native = tiny_deploy.deploy_dir / "model.onnx"
    if line in ("trt8.0", "trt8.2"):
        assert any(f.op == "GridSample" for f in lint_model(native, line).errors)
    elif line not in ("trt8.5", "trt8.6"):  # 8.5 / 8.6 read opset <= 17: the export lowers it for them
        assert not lint_model(native, line).errors, lint_model(native, line).errors


def test_triton_repository_of_the_frame_batched_deploy_dir(tiny_deploy, tmp_path):
    written = write_repository(tiny_deploy.deploy_dir, tmp_path / "repo", precision="fp16")
    assert len(written) == 1
    name, platform, max_batch = parse_config(written[0].read_text())
    assert platform == "onnxruntime_onnx" and max_batch == 0
    assert f"dims: [ 1, {FRAMES}, 3, 64, 64 ]" in written[0].read_text()
    served = tmp_path / "repo" / name / "1" / "model.onnx"
    assert served.read_bytes() == (tiny_deploy.deploy_dir / "model.fp16.onnx").read_bytes()
