"""Triton model repository: config.pbtxt per backend + versioned model folder."""

from __future__ import annotations

import pytest
from export_helpers import make_deploy, parse_config
from trt_standin import StandIn, StandInCuda

from b2v_edge.common.manifest import Manifest, ManifestError
from b2v_edge.export.triton import model_config, write_repository
from b2v_edge.export.trt_build import BuildOptions, build_engine


def test_static_onnx_repository(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "d", onnx_files["native"])
    written = write_repository(deploy, tmp_path / "repo", precision="fp16")
    assert [p.relative_to(tmp_path / "repo").as_posix() for p in written] == ["b2v_tiny_n2_onnx/config.pbtxt"]
    text = written[0].read_text()
    assert parse_config(text) == ("b2v_tiny_n2_onnx", "onnxruntime_onnx", 0)
    assert "dims: [ 1, 3, 64, 64 ]" in text and "dims: [ 1, 2, 3, 64, 64 ]" in text and "dynamic_batching" not in text
    model = tmp_path / "repo" / "b2v_tiny_n2_onnx" / "1" / "model.onnx"
    assert model.read_bytes() == (deploy / "model.fp16.onnx").read_bytes()


def test_dynamic_batch_repository(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "d", onnx_files["dynamic"], dynamic=True, fp16=False)
    text = model_config("m", "onnxruntime_onnx", Manifest.load(deploy), max_batch=4)
    assert parse_config(text) == ("m", "onnxruntime_onnx", 4)
    assert "dims: [ 3, -1, -1 ]" in text and "dims: [ 2, 3, -1, -1 ]" in text and "dynamic_batching { }" in text


def test_plan_gets_a_tensorrt_model(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "d", onnx_files["native"])
    build_engine(deploy, BuildOptions(), trt=StandIn("10.3.0"), cuda=StandInCuda())
    written = write_repository(deploy, tmp_path / "repo", precision="fp16", version=3)
    platforms = sorted(parse_config(p.read_text())[1] for p in written)
    assert platforms == ["onnxruntime_onnx", "tensorrt_plan"]
    plan = tmp_path / "repo" / "b2v_tiny_n2_trt" / "3" / "model.plan"
    assert plan.read_bytes() == (deploy / "model.fp16.plan").read_bytes()


def test_tampered_artifact_is_not_copied(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "d", onnx_files["native"], fp16=False)
    with open(deploy / "model.onnx", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ManifestError, match="replaced or damaged since the manifest was written"):
        write_repository(deploy, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_plan_max_batch_never_exceeds_the_profile(tmp_path, onnx_files):
    """Triton refuses 'max-batch 8 but TensorRT engine only supports max-batch 4' at model load."""
    deploy = make_deploy(tmp_path / "dyn", onnx_files["dynamic"], dynamic=True, fp16=False)
    build_engine(
        deploy, BuildOptions(precision="fp32", max_shape=(4, 3, 256, 256)), trt=StandIn("10.3.0"), cuda=StandInCuda()
    )
    written = write_repository(deploy, tmp_path / "repo", precision="fp32", max_batch=8)
    batches = {parse_config(p.read_text())[1]: parse_config(p.read_text())[2] for p in written}
    assert batches == {"onnxruntime_onnx": 8, "tensorrt_plan": 4}


def test_version_compatible_plan_needs_the_server_flag(tmp_path, onnx_files):
    from b2v_edge.export.triton import server_args

    deploy = make_deploy(tmp_path / "d", onnx_files["native"])
    build_engine(deploy, BuildOptions(), trt=StandIn("10.3.0"), cuda=StandInCuda())
    assert server_args(deploy) == []
    build_engine(deploy, BuildOptions(version_compatible=True), trt=StandIn("10.3.0"), cuda=StandInCuda())
    assert server_args(deploy) == ["--backend-config=tensorrt,version-compatible=true"]
