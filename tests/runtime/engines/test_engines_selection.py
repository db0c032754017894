"""runtime/engines/selection.py: precision order, artifact selection, TensorRT plan compatibility."""

from __future__ import annotations

from dataclasses import replace

import pytest

from b2v_edge.common.manifest import Artifact, Manifest, ManifestError
from b2v_edge.runtime.engines.selection import (
    check_plan_compat,
    precision_order,
    select_artifact,
)


def test_precision_order_and_select_artifact(deploy):
    assert precision_order("onnxruntime", gpu=False)[0] == "fp32"
    assert precision_order("onnxruntime", gpu=True)[0] == "fp16"
    assert precision_order("tensorrt", gpu=True) == ("fp16", "int8", "fp32")
    m = Manifest.load(deploy)
    assert select_artifact(m, "onnx", None, ("int8", "fp16", "fp32")).precision == "fp16"
    assert select_artifact(m, "onnx", "fp32", ("fp16",)).precision == "fp32"
    with pytest.raises(ManifestError, match="int8"):
        select_artifact(m, "onnx", "int8", ())


def test_select_artifact_prefers_the_cpu_int8_graph_on_cpu(deploy):
    m = Manifest.load(deploy)
    fp16 = m.get("onnx", "fp16")
    m.upsert(replace(fp16, path="model.int8.onnx", precision="int8", target="trt8.6"))
    m.upsert(replace(fp16, path="model.int8.cpu.onnx", precision="int8", target="onnxruntime"))
    assert select_artifact(m, "onnx", "int8", (), cpu=True).path == "model.int8.cpu.onnx"
    assert select_artifact(m, "onnx", "int8", (), cpu=False).path == "model.int8.onnx"
    assert select_artifact(m, "onnx", None, ("int8",), cpu=True).path == "model.int8.cpu.onnx"
    m.artifacts = [a for a in m.artifacts if a.path != "model.int8.onnx"]  # one candidate: used either way
    assert select_artifact(m, "onnx", "int8", (), cpu=False).path == "model.int8.cpu.onnx"


def _plan_art(**extra):
    base = {"tensorrt_version": "10.3.0", "compute_capability": "8.7", "gpu": "Orin"}
    base.update(extra)
    return Artifact(path="model.fp16.plan", kind="tensorrt_plan", precision="fp16", sha256="0", extra=base)


def test_check_plan_compat_refuses_other_trt_and_gpu(tmp_path):
    assert check_plan_compat(_plan_art(), tmp_path, "10.3.0.26", "8.7", "Orin") is None
    with pytest.raises(
        ManifestError, match=r"TensorRT 10.3.0, this device has 8.6.2.*build-engine .* --precision fp16"
    ):
        check_plan_compat(_plan_art(), tmp_path, "8.6.2", "8.7", "Orin")
    with pytest.raises(ManifestError, match=r"sm 8.7.*sm 7.2.*build-engine"):
        check_plan_compat(_plan_art(), tmp_path, "10.3.0", "7.2", "Xavier")
    warn = check_plan_compat(_plan_art(), tmp_path, "10.3.0", "8.7", "Orin NX")
    assert warn and "may be slower" in warn
    relaxed = _plan_art(build_options={"version_compatible": True, "hardware_compatibility": "ampere+"})
    assert check_plan_compat(relaxed, tmp_path, "10.4.0", "8.6", "RTX 3090") is not None  # name differs: warns only
    assert "does not record" in check_plan_compat(_plan_art(tensorrt_version=""), tmp_path, "10.3.0", "8.7")


def test_version_compatible_plans_load_forward_only(tmp_path):
    """NVIDIA: version-compatible engines work with later runtimes, never with older ones."""
    plan = _plan_art(tensorrt_version="8.6.1", compute_capability="8.6", gpu="RTX 3090")
    plan.extra["build_options"] = {"version_compatible": True}
    assert check_plan_compat(plan, tmp_path, "10.3.0", "8.6", "RTX 3090") is None
    assert check_plan_compat(plan, tmp_path, "8.6.1.6", "8.6", "RTX 3090") is None
    newer = _plan_art(tensorrt_version="10.3.0", build_options={"version_compatible": True})
    with pytest.raises(ManifestError, match="only in the same or a newer TensorRT"):
        check_plan_compat(newer, tmp_path, "8.6.2", "8.7", "Orin")


def test_hardware_compatible_plan_still_needs_ampere(tmp_path):
    plan = _plan_art(compute_capability="8.6", gpu="RTX 3090", build_options={"hardware_compatibility": "ampere+"})
    assert check_plan_compat(plan, tmp_path, "10.3.0", "8.9", "RTX 4090") is not None  # other sm: allowed, warns
    with pytest.raises(ManifestError, match=r"ampere\+ plan: it needs sm >= 8.0.*sm 7.5"):
        check_plan_compat(plan, tmp_path, "10.3.0", "7.5", "T4")
