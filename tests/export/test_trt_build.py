"""TensorRT plan builds: the call sequence per TensorRT line against a stand-in module, provenance in
the manifest, the trtexec fallback; real builds only with ``-m gpu``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from export_helpers import make_deploy
from trt_standin import StandIn, StandInCuda

from b2v_edge.common.manifest import Manifest, ManifestError
from b2v_edge.export.trt_build import BuildError, BuildOptions, TensorRTUnavailable, build_engine
from b2v_edge.export.trt_command import trtexec_command


@pytest.fixture
def deploy(tmp_path, onnx_files) -> Path:
    return make_deploy(tmp_path / "d", onnx_files["native"])


@pytest.fixture
def deploy_v8(tmp_path, onnx_files) -> Path:
    return make_deploy(tmp_path / "d8", onnx_files["gather13"], target="trt8.2", warp="gather")


def _build(deploy_dir: Path, version: str, **opts) -> tuple:
    trt = StandIn(version)
    art = build_engine(deploy_dir, BuildOptions(**opts), trt=trt, cuda=StandInCuda())
    return trt, art


def test_v10_strongly_typed_from_the_fp16_graph(deploy):
    trt, art = _build(deploy, "10.3.0")
    assert ("builder.create_network", 1 << 1) in trt.calls  # STRONGLY_TYPED
    assert not [c for c in trt.calls if c[0] == "config.set_flag"]  # precision comes from the graph
    assert trt.parsed == [(deploy / "model.fp16.onnx").read_bytes()]
    assert ("config.set_memory_pool_limit", 0, 1024 << 20) in trt.calls
    assert trt.names().index("parser.parse") < trt.names().index("builder.build_serialized_network")
    assert (deploy / "model.fp16.plan").read_bytes() == b"RAWPLAN10.3.0"  # raw: no header
    assert art.kind == "tensorrt_plan" and art.precision == "fp16" and art.target == "trt10"
    extra = art.extra
    assert extra["tensorrt_version"] == "10.3.0" and extra["network"] == "strongly_typed"
    assert (extra["gpu"], extra["compute_capability"]) == ("Orin (stand-in)", "8.7")
    assert extra["source"] == "model.fp16.onnx" and extra["build_options"]["workspace_mib"] == 1024
    assert "cuda_version" in extra
    saved = Manifest.load(deploy)
    assert saved.get("tensorrt_plan", "fp16").sha256 == art.sha256


def test_keyword_fields_override_the_options(deploy):
    art = build_engine(deploy, trt=StandIn("10.3.0"), cuda=StandInCuda(), precision="fp32")
    assert art.path == "model.fp32.plan" and art.extra["source"] == "model.onnx"


def test_v8_flags_and_fp32_pins_from_the_fp32_graph(deploy_v8):
    trt, art = _build(deploy_v8, "8.2.1")
    assert ("builder.create_network", 1 << 0) in trt.calls  # EXPLICIT_BATCH
    assert trt.parsed == [(deploy_v8 / "model.onnx").read_bytes()]
    flags = [c[1] for c in trt.calls if c[0] == "config.set_flag"]
    assert flags == ["FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert ("config.max_workspace_size", 1024 << 20) in trt.calls  # 8.2: before memory pools
    kept = set(
        json.loads((deploy_v8 / "manifest.json").read_text())["artifacts"][1]["extra"]["fp16"]["kept_fp32_nodes"]
    )
    pinned = {c[1] for c in trt.calls if c[0] == "layer.precision"}
    assert pinned and pinned <= kept and art.extra["fp32_pinned_layers"] == len(pinned)
    assert art.extra["network"] == "weakly_typed" and art.extra["precision_mode"] == "flags"
    assert art.target == "trt8.2"


def test_v80_uses_strict_types(deploy_v8):
    trt, _ = _build(deploy_v8, "8.0.1")
    assert [c[1] for c in trt.calls if c[0] == "config.set_flag"] == ["FP16", "STRICT_TYPES"]


def test_v86_memory_pool_and_version_compatible(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "d86", onnx_files["native"], target="trt8.6")
    import onnx

    from b2v_edge.export.opset import lower_opset  # 8.6 reads opset <= 17

    for name in ("model.onnx", "model.fp16.onnx"):
        onnx.save(lower_opset(onnx.load(str(deploy / name)), 17), str(deploy / name))
    _refresh_shas(deploy)
    trt, art = _build(deploy, "8.6.1", version_compatible=True)
    assert ("config.set_memory_pool_limit", 0, 1024 << 20) in trt.calls
    assert [c[1] for c in trt.calls if c[0] == "config.set_flag"] == [
        "FP16",
        "OBEY_PRECISION_CONSTRAINTS",
        "VERSION_COMPATIBLE",
    ]
    assert art.extra["build_options"]["version_compatible"] is True
    with pytest.raises(BuildError, match=">= 8.6"):
        _build(deploy, "8.5.2", version_compatible=True)


def _refresh_shas(deploy: Path) -> None:
    from b2v_edge.common.manifest import sha256_file

    manifest = Manifest.load(deploy)
    for art in manifest.artifacts:
        art.sha256 = sha256_file(deploy / art.path)
    manifest.save()


@pytest.mark.parametrize("enum", [True, False])
def test_v11_precision_from_graph_only(deploy, enum):
    trt = StandIn("11.0.0", strongly_typed_enum=enum)
    art = build_engine(deploy, BuildOptions(), trt=trt, cuda=StandInCuda())
    assert ("builder.create_network", (1 << 1) if enum else 0) in trt.calls
    assert not [c for c in trt.calls if c[0] == "config.set_flag"]
    assert trt.parsed == [(deploy / "model.fp16.onnx").read_bytes()] and art.target == "trt11"


def test_dynamic_graph_gets_one_profile(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "dyn", onnx_files["dynamic"], dynamic=True)
    trt, art = _build(deploy, "10.3.0", max_shape=(4, 3, 512, 512))
    shapes = [c for c in trt.calls if c[0] == "profile.set_shape"]
    assert shapes == [("profile.set_shape", "blurred", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 512, 512))]
    assert ("config.add_optimization_profile",) in trt.calls
    assert art.extra["profile"]["max"] == [4, 3, 512, 512]


def test_static_graph_has_no_profile(deploy):
    trt, art = _build(deploy, "10.3.0")
    assert ("config.add_optimization_profile",) not in trt.calls and art.extra["profile"] is None


def test_timing_cache_written_and_reused(deploy):
    _build(deploy, "10.3.0")
    first = (deploy / "timing.cache").read_bytes()
    trt, _ = _build(deploy, "10.3.0")
    assert ("config.create_timing_cache", first) in trt.calls
    assert (deploy / "timing.cache").read_bytes() == first + b"+tuned"


def test_int8_on_v8_needs_qdq_or_cache(deploy_v8, tmp_path):
    with pytest.raises(BuildError, match="calibration cache"):
        _build(deploy_v8, "8.2.1", precision="int8")
    cache = tmp_path / "calib.cache"
    cache.write_bytes(b"TRT-8201-EntropyCalibration2\n")
    trt, art = _build(deploy_v8, "8.2.1", precision="int8", calibration_cache=cache)
    assert ("config.set_flag", "INT8") in trt.calls
    assert ("config.int8_calibrator", "CacheCalibrator") in trt.calls
    assert art.extra["precision_mode"] == "calibration" and (deploy_v8 / "model.int8.plan").exists()


def test_int8_on_v8_finds_the_cache_recorded_by_calibration(deploy_v8):
    (deploy_v8 / "calibration.cache").write_bytes(b"TRT-8201-EntropyCalibration2\n")
    manifest = Manifest.load(deploy_v8)
    manifest.calibration = {"tensorrt": {"files": {"tensorrt_cache": {"path": "calibration.cache"}}}}
    manifest.save()
    trt, art = _build(deploy_v8, "8.2.1", precision="int8")
    assert ("config.int8_calibrator", "CacheCalibrator") in trt.calls
    assert f"--calib={deploy_v8}/calibration.cache" in trtexec_command(
        Manifest.load(deploy_v8), BuildOptions(precision="int8")
    )


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
    with pytest.raises(ManifestError, match="modified after export"):
        _build(deploy, "10.3.0")


def test_without_tensorrt_prints_the_trtexec_command(deploy, deploy_v8, monkeypatch):
    import b2v_edge.export.trt_build as tb

    monkeypatch.setattr(tb, "import_tensorrt", lambda: None)
    with pytest.raises(TensorRTUnavailable) as info:
        build_engine(deploy, BuildOptions())
    cmd = info.value.command
    assert cmd.startswith("trtexec ") and f"--onnx={deploy}/model.fp16.onnx" in cmd and "--stronglyTyped" in cmd
    assert f"--saveEngine={deploy}/model.fp16.plan" in cmd and "--timingCacheFile=" in cmd
    cmd8 = trtexec_command(Manifest.load(deploy_v8), BuildOptions())
    assert "--fp16" in cmd8 and "--layerPrecisions=" in cmd8 and "--workspace=1024" in cmd8 and "model.onnx" in cmd8


def test_trtexec_command_dynamic_shapes(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "dyn", onnx_files["dynamic"], dynamic=True)
    cmd = trtexec_command(Manifest.load(deploy), BuildOptions(precision="fp32"))
    assert "--minShapes=blurred:1x3x64x64" in cmd and "--optShapes=blurred:2x3x64x64" in cmd
    assert "--maxShapes=blurred:4x3x1088x1920" in cmd


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
