"""TensorRT plan builds: the call sequence per TensorRT line against a stand-in module gated by the real
API surface of each version, provenance in the manifest; real builds only with ``-m gpu``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from export_helpers import make_deploy
from trt_standin import PLAN_MAGIC, StandIn, StandInCuda

from b2v_edge.calib.trtcache import parse_trt_cache, write_trt_cache
from b2v_edge.common.manifest import Manifest, ManifestError, sha256_file
from b2v_edge.export.trt_build import BuildError, BuildOptions, build_engine


@pytest.fixture
def deploy(tmp_path, onnx_files) -> Path:
    return make_deploy(tmp_path / "d", onnx_files["native"])


@pytest.fixture
def deploy_v8(tmp_path, onnx_files) -> Path:
    return make_deploy(tmp_path / "d8", onnx_files["gather13"], target="trt8.2", warp="gather")


def _build(deploy_dir: Path, version: str, cuda=None, **opts) -> tuple:
    trt = StandIn(version)
    art = build_engine(deploy_dir, BuildOptions(**opts), trt=trt, cuda=cuda or StandInCuda())
    return trt, art


def _flags(trt, kind="set_flag"):
    return [c[1] for c in trt.calls if c[0] == f"IBuilderConfig.{kind}"]


def _fp16_record(deploy_dir: Path) -> dict:
    manifest = json.loads((deploy_dir / "manifest.json").read_text())
    return next(a for a in manifest["artifacts"] if a["path"] == "model.fp16.onnx")["extra"]["fp16"]


def _plan(path: Path) -> dict:
    data = path.read_bytes()
    assert data.startswith(PLAN_MAGIC)  # raw: what build_serialized_network returned, no header
    return json.loads(data[len(PLAN_MAGIC) :])


def test_v10_strongly_typed_from_the_fp16_graph(deploy):
    trt, art = _build(deploy, "10.3.0")
    assert ("Builder.create_network", 1 << 1) in trt.calls  # STRONGLY_TYPED = 1 in 10.x
    assert _flags(trt) == [] and _flags(trt, "clear_flag") == ["TF32"]  # precision comes from the graph
    assert trt.parsed == [(deploy / "model.fp16.onnx").read_bytes()]
    assert ("IBuilderConfig.set_memory_pool_limit", "MemoryPoolType.WORKSPACE", 256 << 20) in trt.calls
    assert trt.names().index("OnnxParser.parse") < trt.names().index("Builder.build_serialized_network")
    assert _plan(deploy / "model.fp16.plan")["tensorrt"] == "10.3.0"
    assert art.kind == "tensorrt_plan" and art.precision == "fp16" and art.target == "trt10"
    extra = art.extra
    assert extra["tensorrt_version"] == "10.3.0" and extra["network"] == "strongly_typed"
    assert (extra["gpu"], extra["compute_capability"]) == ("Orin (stand-in)", "8.7")
    assert extra["source"] == "model.fp16.onnx" and extra["build_options"]["workspace_mib"] == 256
    assert extra["cleared_flags"] == ["TF32"] and "cuda_version" in extra
    saved = Manifest.load(deploy)
    assert saved.get("tensorrt_plan", "fp16").sha256 == art.sha256


def test_tf32_is_off_in_every_version(deploy, deploy_v8):
    """TF32 rounds float32 MatMul inputs (the affine grid, the STN theta) to 10 mantissa bits."""
    for deploy_dir, version in ((deploy, "10.3.0"), (deploy, "11.0.0"), (deploy_v8, "8.2.1"), (deploy_v8, "8.0.1")):
        trt, _ = _build(deploy_dir, version, precision="fp32")
        assert _flags(trt, "clear_flag") == ["TF32"], version
        assert _plan(Path(deploy_dir) / "model.fp32.plan")["tf32"] is False


def test_keyword_fields_override_the_options(deploy):
    art = build_engine(deploy, trt=StandIn("10.3.0"), cuda=StandInCuda(), precision="fp32")
    assert art.path == "model.fp32.plan" and art.extra["source"] == "model.onnx"


def test_v8_flags_and_fp32_pins_from_the_fp32_graph(deploy_v8):
    trt, art = _build(deploy_v8, "8.2.1")
    assert ("Builder.create_network", 1 << 0) in trt.calls  # EXPLICIT_BATCH
    assert trt.parsed == [(deploy_v8 / "model.onnx").read_bytes()]
    assert _flags(trt) == ["FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert ("IBuilderConfig.max_workspace_size", 256 << 20) in trt.calls  # 8.2: before memory pools
    kept = set(_fp16_record(deploy_v8)["kept_fp32_nodes"])
    pinned = {c for c in trt.calls if c[0] == "ILayer.precision"}
    assert pinned and art.extra["fp32_pinned_layers"] == len(pinned)
    assert art.extra["network"] == "weakly_typed" and art.extra["precision_mode"] == "flags"
    assert art.extra["fp32_pins"]["unmatched_nodes"] < len(kept)
    assert art.target == "trt8.2"


def test_pins_follow_the_real_parser_naming(deploy_v8):
    """Gemm's bias add is an unnamed layer that produces the node's output: pinned by output tensor.
    Integer / shape layers (flat gather indices, Shape) are left alone, as trtexec does."""
    trt = StandIn("8.6.1")
    build_engine(deploy_v8, BuildOptions(), trt=trt, cuda=StandInCuda())
    record = _fp16_record(deploy_v8)
    assert record["kept_fp32_tensors"]
    network_layers = [c for c in trt.calls if c[0] == "ILayer.precision"]
    set_types = [c for c in trt.calls if c[0] == "ILayer.set_output_type"]
    assert any("(Unnamed Layer*" in c[1] and "[ElementWise]" in c[1] for c in set_types)  # the Gemm bias add
    assert all(c[3] == "DataType.FLOAT" for c in set_types)
    assert len(network_layers) > 0
    art = Manifest.load(deploy_v8).get("tensorrt_plan", "fp16")
    assert art.extra["fp32_pins"]["skipped_int32"] > 0  # the gather warp's int32 index layers


def test_pin_fp32_rules(trt_standin):
    """Direct check of the matching rules on a hand-made network."""
    from onnx import TensorProto, helper, numpy_helper

    from b2v_edge.export.trt_build import pin_fp32

    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["theta"], name="fc"),
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("Cast", ["theta"], ["idx"], name="to_int", to=TensorProto.INT32),
        helper.make_node("Relu", ["theta"], ["y"], name="other"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [
            numpy_helper.from_array(np.ones((4, 2), np.float32), "w"),
            numpy_helper.from_array(np.ones(2, np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    trt = trt_standin.StandIn("8.6.1")
    network = trt.Builder(None).create_network(1)
    trt.OnnxParser(network, None).parse(model.SerializeToString())
    counts = pin_fp32(trt, network, ["fc", "shape", "to_int"], ["theta", "shp", "idx"])
    pinned = [c[1] for c in trt.calls if c[0] == "ILayer.set_output_type"]
    assert "fc" in pinned and any(p.startswith("(Unnamed Layer*") for p in pinned)  # MatMul + bias add
    assert "shape" not in pinned and "other" not in pinned  # shape layer skipped; unkept node untouched
    assert "to_int" not in pinned  # int32 output: its precision is INT32
    assert counts == {"pinned": 2, "skipped_int32": 2, "unmatched_nodes": 0}


def test_v80_uses_strict_types(deploy_v8):
    trt, _ = _build(deploy_v8, "8.0.1")
    assert _flags(trt) == ["FP16", "STRICT_TYPES"]


def test_v86_memory_pool_and_version_compatible(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "d86", onnx_files["native"], target="trt8.6")
    import onnx

    from b2v_edge.export.opset import lower_opset  # 8.6 reads opset <= 17

    for name in ("model.onnx", "model.fp16.onnx"):
        onnx.save(lower_opset(onnx.load(str(deploy / name)), 17), str(deploy / name))
    _refresh_shas(deploy)
    trt, art = _build(deploy, "8.6.1", version_compatible=True)
    assert ("IBuilderConfig.set_memory_pool_limit", "MemoryPoolType.WORKSPACE", 256 << 20) in trt.calls
    assert _flags(trt) == ["FP16", "OBEY_PRECISION_CONSTRAINTS", "VERSION_COMPATIBLE"]
    assert art.extra["build_options"]["version_compatible"] is True
    assert _plan(deploy / "model.fp16.plan")["version_compatible"] is True
    with pytest.raises(BuildError, match=">= 8.6"):
        _build(deploy, "8.5.2", version_compatible=True)


def _refresh_shas(deploy: Path) -> None:
    manifest = Manifest.load(deploy)
    for art in manifest.artifacts:
        art.sha256 = sha256_file(deploy / art.path)
    manifest.save()


@pytest.mark.parametrize("version", ["11.0.0", "11.4.0"])
def test_v11_precision_from_graph_only(deploy, version):
    trt, art = _build(deploy, version)
    assert ("Builder.create_network", 0) in trt.calls  # strongly typed by default; no flag needed
    assert _flags(trt) == [] and _flags(trt, "clear_flag") == ["TF32"]
    assert trt.parsed == [(deploy / "model.fp16.onnx").read_bytes()] and art.target == "trt11"


def test_dynamic_graph_gets_one_profile(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "dyn", onnx_files["dynamic"], dynamic=True)
    trt, art = _build(deploy, "10.3.0", max_shape=(4, 3, 512, 512))
    shapes = [c for c in trt.calls if c[0] == "IOptimizationProfile.set_shape"]
    assert shapes == [("IOptimizationProfile.set_shape", "blurred", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 512, 512))]
    assert ("IBuilderConfig.add_optimization_profile",) in trt.calls
    assert art.extra["profile"]["max"] == [4, 3, 512, 512]


def test_default_profile_max_batch_is_the_opt_batch(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "dyn", onnx_files["dynamic"], dynamic=True)
    _, art = _build(deploy, "10.3.0")
    assert art.extra["profile"]["max"] == [2, 3, 480, 640]  # opt batch 2 at VGA (Jetson memory)


def test_static_graph_has_no_profile(deploy):
    trt, art = _build(deploy, "10.3.0")
    assert ("IBuilderConfig.add_optimization_profile",) not in trt.calls and art.extra["profile"] is None


def test_timing_cache_written_and_reused(deploy):
    _build(deploy, "10.3.0")
    first = (deploy / "timing.cache").read_bytes()
    assert first == b"TUNED:10.3.0"  # what config.get_timing_cache() serialized
    trt, _ = _build(deploy, "10.3.0")
    assert ("IBuilderConfig.create_timing_cache", first) in trt.calls
    assert ("IBuilderConfig.set_timing_cache", False, True) in trt.calls


@pytest.mark.parametrize("blob", [b"FOREIGN-gpu-cache", b"CORRUPT"])
def test_rejected_timing_cache_is_replaced(deploy, blob):
    (deploy / "timing.cache").write_bytes(blob)
    logs = []
    trt = StandIn("10.3.0")
    build_engine(deploy, BuildOptions(), trt=trt, cuda=StandInCuda(), log=logs.append)
    assert ("IBuilderConfig.create_timing_cache", b"") in trt.calls  # started over
    assert any("another GPU or TensorRT" in m for m in logs)
    assert (deploy / "timing.cache").read_bytes() == b"TUNED:10.3.0"


def _cache(tmp_path: Path, version: str) -> Path:
    return write_trt_cache(tmp_path / "calib.cache", {"blurred": 1 / 127, "feat": 0.02}, version)


def test_int8_on_v8_needs_qdq_or_cache(deploy_v8, tmp_path):
    with pytest.raises(BuildError, match="calibration cache"):
        _build(deploy_v8, "8.2.1", precision="int8")
    trt, art = _build(deploy_v8, "8.2.1", precision="int8", calibration_cache=_cache(tmp_path, "8.2.1"))
    assert _flags(trt) == ["INT8", "FP16", "OBEY_PRECISION_CONSTRAINTS"]  # uncalibrated layers: fp16, warp fp32
    assert ("IBuilderConfig.int8_calibrator", "CacheCalibrator") in trt.calls
    assert art.extra["fp32_pinned_layers"] > 0
    assert art.extra["precision_mode"] == "calibration" and (deploy_v8 / "model.int8.plan").exists()


def test_calibration_cache_header_is_checked_and_restamped(deploy_v8, tmp_path, monkeypatch):
    """TensorRT skips a cache of another version; the build re-stamps the header for the installed one."""
    served = []
    import b2v_edge.export.trt_build as tb

    real = tb.cache_calibrator
    monkeypatch.setattr(tb, "cache_calibrator", lambda trt, data: served.append(data) or real(trt, data))
    logs = []
    build_engine(
        deploy_v8,
        BuildOptions(precision="int8", calibration_cache=_cache(tmp_path, "8.2.0")),
        trt=StandIn("8.2.1"),
        cuda=StandInCuda(),
        log=logs.append,
    )
    number, _, scales = parse_trt_cache(served[0].decode())
    assert number == 8201 and set(scales) == {"blurred", "feat"}
    assert any("TRT-8200" in m and "re-stamped" in m for m in logs)
    (tmp_path / "bad.cache").write_text("TRT-8201-MinMaxCalibration\nx: 3c010204\n")
    with pytest.raises(BuildError, match="no EntropyCalibration2 ranges"):
        _build(deploy_v8, "8.2.1", precision="int8", calibration_cache=tmp_path / "bad.cache")


def test_int8_on_v8_finds_the_cache_recorded_by_calibration(deploy_v8, tmp_path):
    _cache(tmp_path, "8.2.1").rename(deploy_v8 / "calibration.cache")
    manifest = Manifest.load(deploy_v8)
    manifest.calibration = {"tensorrt": {"files": {"tensorrt_cache": {"path": "calibration.cache"}}}}
    manifest.save()
    trt, art = _build(deploy_v8, "8.2.1", precision="int8")
    assert ("IBuilderConfig.int8_calibrator", "CacheCalibrator") in trt.calls


def test_int8_needs_a_gpu_with_fast_int8(deploy_v8, tmp_path):
    trt = StandIn("8.2.1")
    trt.fast_int8 = False  # Maxwell (Jetson Nano)
    with pytest.raises(BuildError, match="no fast INT8"):
        build_engine(deploy_v8, BuildOptions(precision="int8", calibration_cache=_cache(tmp_path, "8.2.1")), trt=trt)


def test_int8_on_v10_never_takes_the_cpu_graph(deploy, tmp_path):
    """Only model.int8.cpu.onnx (asymmetric U8S8, for ORT on CPU): say to calibrate for TensorRT."""
    manifest = Manifest.load(deploy)
    cpu = Manifest.load(deploy).get("onnx", "fp32")
    (deploy / "model.int8.cpu.onnx").write_bytes((deploy / "model.onnx").read_bytes())
    manifest.upsert(
        type(cpu)(**{**cpu.__dict__, "path": "model.int8.cpu.onnx", "precision": "int8", "target": "onnxruntime"})
    )
    manifest.save()
    with pytest.raises(ManifestError, match="calibrate .* --target tensorrt"):
        _build(deploy, "10.3.0", precision="int8")


def test_no_gpu_parse_and_build_failures(deploy):
    for attr, match in (
        ("no_gpu", "CUDA initialization failure"),
        ("fail_parse", "could not parse model.fp16.onnx"),
        ("fail_build", "failed to build model.fp16.plan"),
    ):
        trt = StandIn("10.3.0")
        setattr(trt, attr, True)
        with pytest.raises(BuildError, match=match):
            build_engine(deploy, BuildOptions(), trt=trt, cuda=StandInCuda())
    assert not (deploy / "model.fp16.plan").exists()
    assert not Manifest.load(deploy).find("tensorrt_plan")


@pytest.mark.parametrize("cc, ok", [("8.6", True), ("8.9", True), ("8.7", False), ("7.5", False), ("7.2", False)])
def test_ampere_plus_only_on_discrete_ampere_or_newer(tmp_path, onnx_files, cc, ok):
    deploy = make_deploy(tmp_path / "hw", onnx_files["native"])
    if ok:
        _, art = _build(deploy, "10.3.0", cuda=StandInCuda(cc=cc), hardware_compatibility="ampere+")
        assert art.extra["build_options"]["hardware_compatibility"] == "ampere+"
    else:
        with pytest.raises(BuildError, match="sm >= 8.0.*Jetson"):
            _build(deploy, "10.3.0", cuda=StandInCuda(cc=cc), hardware_compatibility="ampere+")


def test_lint_against_the_installed_version(deploy):
    with pytest.raises(BuildError, match="fails the lint for TensorRT 8.2.1.*GridSample"):
        _build(deploy, "8.2.1", precision="fp32")


def test_missing_source_artifact_says_how_to_make_it(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "fp32only", onnx_files["native"], fp16=False)
    with pytest.raises(ManifestError, match="b2v-edge export --precision fp16"):
        _build(deploy, "10.3.0")


def test_modified_source_is_refused(deploy):
    with open(deploy / "model.fp16.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ManifestError, match="replaced or damaged since the manifest was written"):
        _build(deploy, "10.3.0")


@pytest.mark.parametrize(
    "kwargs",
    [dict(precision="fp8"), dict(workspace_mib=1), dict(hardware_compatibility="all"), dict(max_shape=(1, 3, 64))],
)
def test_bad_build_options(kwargs):
    with pytest.raises(ValueError):
        BuildOptions(**kwargs)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_real_plan_matches_onnxruntime(tmp_path, onnx_files, precision):
    """On a device with TensorRT and a GPU: build a real plan, run it, compare with ORT (PSNR)."""
    pytest.importorskip("tensorrt")
    from b2v_edge.common.metrics import psnr
    from b2v_edge.runtime import open_engine

    deploy = make_deploy(tmp_path / "gpu", onnx_files["native"])
    art = build_engine(deploy, BuildOptions(precision=precision))
    assert (deploy / art.path).stat().st_size > 0
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    with (
        open_engine(deploy, backend="tensorrt", precision=precision) as trt_engine,
        open_engine(deploy, backend="onnxruntime", precision="fp32") as ort_engine,
    ):
        assert psnr(ort_engine.infer(x), trt_engine.infer(x)) >= (60.0 if precision == "fp32" else 40.0)


def test_build_module_and_command_do_not_import_torch():
    """build-engine runs on devices without PyTorch (or onnx): its import chain must not need them."""
    import subprocess
    import sys

    code = (
        "import sys; import b2v_edge.export.trt_build, b2v_edge.export.triton; "
        "from b2v_edge.cli.export import build_engine_command; "
        "bad = [m for m in ('torch', 'onnx') if m in sys.modules]; assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
