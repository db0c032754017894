"""runtime/open.py: open_engine artifact selection, manifest checks, backend choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from b2v_edge.common.manifest import Manifest, ManifestError
from b2v_edge.runtime import EngineError, NonFiniteOutputError, open_engine
from b2v_edge.runtime import open as open_mod


def _x(b=1, h=16, w=24, seed=0):
    return np.random.default_rng(seed).random((b, 3, h, w), dtype=np.float32)


# ---- open_engine on a deploy dir ----------------------------------------------------------
def test_open_engine_auto_picks_fp32_onnx_on_cpu(deploy, models):
    with open_engine(deploy) as eng:
        assert eng.spec.backend == "onnxruntime" and eng.spec.precision == "fp32"
        assert eng.spec.path.name == "model.onnx"
        assert eng.spec.input_shape == (1, 3, 16, 24) and eng.spec.frames == 3
        x = _x()
        y = eng.infer(x)
        assert y.dtype == np.float32 and y.shape == (1, 3, 3, 16, 24)
        np.testing.assert_allclose(y, models.expected_output(x, 3), atol=1e-6)


def test_open_engine_fp16_matches_within_fp16_tolerance(deploy, models):
    with open_engine(deploy, precision="fp16") as eng:
        assert eng.spec.path.name == "model.fp16.onnx" and eng.spec.precision == "fp16"
        x = _x()
        np.testing.assert_allclose(eng.infer(x), models.expected_output(x, 3), atol=2e-3)


def test_open_engine_accepts_manifest_file_and_artifact_file(deploy):
    assert open_engine(deploy / "manifest.json").spec.path.name == "model.onnx"
    eng = open_engine(deploy / "model.fp16.onnx")
    assert eng.spec.precision == "fp16"  # from the manifest entry, not the file name
    with pytest.raises(ManifestError, match="is fp16, not fp32"):
        open_engine(deploy / "model.fp16.onnx", precision="fp32")


def test_open_engine_bare_onnx_without_manifest(tmp_path, models):
    path = models.make_onnx(tmp_path / "bare" / "m.onnx", n=2, h=8, w=8)
    eng = open_engine(path)
    assert eng.spec.precision == "unknown" and eng.spec.input_shape == (None, 3, 8, 8)
    assert eng.infer(_x(b=2, h=8, w=8)).shape == (2, 2, 3, 8, 8)  # dynamic batch


def test_sha_mismatch_is_refused(deploy):
    with open(deploy / "model.onnx", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ManifestError, match="does not match the manifest"):
        open_engine(deploy, precision="fp32")


def test_missing_manifest_and_missing_artifacts(tmp_path):
    with pytest.raises(ManifestError, match="no manifest.json"):
        open_engine(tmp_path)
    Manifest(root=tmp_path).save()
    with pytest.raises(ManifestError, match="no onnx artifact.*b2v-edge export"):
        open_engine(tmp_path)
    with pytest.raises(ManifestError, match="does not exist"):
        open_engine(tmp_path / "nope.onnx")


def test_listed_but_missing_file(deploy):
    (deploy / "model.onnx").unlink()
    with pytest.raises(ManifestError, match="missing"):
        open_engine(deploy, precision="fp32")


def test_manifest_spec_disagreeing_with_graph_is_refused(deploy):
    data = json.loads((deploy / "manifest.json").read_text())
    data["input"]["shape"] = [1, 3, 32, 32]
    (deploy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(EngineError, match="differs from the manifest"):
        open_engine(deploy)


def test_bad_backend_and_tensorrt_missing(deploy, monkeypatch):
    with pytest.raises(EngineError, match="backend must be one of"):
        open_engine(deploy, backend="tflite")
    with pytest.raises(ManifestError, match="no tensorrt_plan.*build-engine"):
        open_engine(deploy, backend="tensorrt")
    with pytest.raises(EngineError, match="runs with --backend onnxruntime"):
        open_engine(deploy / "model.onnx", backend="tensorrt")


def test_auto_uses_onnx_when_tensorrt_not_importable(deploy, models, monkeypatch):
    models.add_plan(deploy)
    monkeypatch.setattr(open_mod, "_tensorrt_usable", lambda: False)
    assert open_engine(deploy).spec.backend == "onnxruntime"


def test_auto_needs_a_cuda_binding_besides_tensorrt(deploy, models, monkeypatch):
    """``tensorrt`` importable but no cuda-python / pycuda: a plan cannot run, so auto picks ONNX Runtime."""
    models.add_plan(deploy)
    monkeypatch.setattr(open_mod, "_importable", lambda name: name == "tensorrt")
    assert not open_mod._tensorrt_usable()
    assert open_engine(deploy).spec.backend == "onnxruntime"
    monkeypatch.setattr(open_mod, "_importable", lambda name: name in ("tensorrt", "pycuda"))
    assert open_mod._tensorrt_usable()


def test_nan_model_raises_non_finite(tmp_path, models):
    deploy = models.make_deploy(tmp_path / "nan", precisions=("fp32",), nan=True)
    with open_engine(deploy) as eng, pytest.raises(NonFiniteOutputError):
        eng.infer(_x())
