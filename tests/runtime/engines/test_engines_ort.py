"""runtime/engines/ort.py: provider order and options, fallback notices, session options, fp16 I/O,
the TensorRT EP engine cache per ONNX file."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest

from b2v_edge.common.manifest import sha256_file
from b2v_edge.runtime import EngineError
from b2v_edge.runtime.engines import ort as ort_engine
from b2v_edge.runtime.engines.ort import DEFAULT_PROVIDERS, OrtEngine, choose_providers, session_options


def test_choose_providers_keeps_order_and_cpu():
    avail = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert choose_providers(DEFAULT_PROVIDERS, avail) == list(DEFAULT_PROVIDERS)
    assert choose_providers(DEFAULT_PROVIDERS, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(EngineError, match="none of the providers"):
        choose_providers(["CUDAExecutionProvider"], ["CPUExecutionProvider"])


def test_default_session_runs_on_cpu(deploy, models):
    eng = OrtEngine(deploy / "model.onnx", precision="fp32", threads=1)
    assert eng.spec.provider == "CPUExecutionProvider" and eng.spec.label == "onnxruntime/CPU fp32"
    x = np.random.default_rng(0).random((1, 3, 16, 24), dtype=np.float32)
    np.testing.assert_allclose(eng.infer(x), models.expected_output(x, 3), atol=1e-6)
    eng.close()
    with pytest.raises(EngineError, match="closed"):
        eng.infer(x)


def test_session_options():
    so = session_options(threads=2, inter_threads=1)
    assert so.intra_op_num_threads == 2 and so.inter_op_num_threads == 1
    # workers stop busy-waiting when a run ends, leaving the cores to capture, preview and other rows
    assert so.get_session_config_entry("session.force_spinning_stop") == "1"
    with pytest.raises(EngineError, match="threads"):
        session_options(threads=-1)


class _FakeSession:
    """Stand-in InferenceSession: fails for GPU providers, records what it was asked."""

    asked = []

    def __init__(self, path, sess_options=None, providers=()):
        names = [p[0] if isinstance(p, tuple) else p for p in providers]
        _FakeSession.asked.append((names, providers))
        if names[0] == "TensorrtExecutionProvider":
            raise RuntimeError("libnvinfer.so.10: cannot open shared object file\nmore detail")
        self._real = _REAL(path, sess_options=sess_options, providers=["CPUExecutionProvider"])
        self._names = names

    def get_providers(self):
        return ["CPUExecutionProvider"]  # CUDA EP silently dropped by ORT

    def __getattr__(self, name):
        return getattr(self._real, name)


_REAL = ort.InferenceSession


def test_fallback_is_one_line_notice_per_provider(deploy, monkeypatch, caplog):
    monkeypatch.setattr(ort, "get_available_providers", lambda: list(reversed(DEFAULT_PROVIDERS)))
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    _FakeSession.asked.clear()
    with caplog.at_level(logging.WARNING, logger="b2v_edge.runtime"):
        eng = OrtEngine(deploy / "model.fp16.onnx", precision="fp16")
    assert eng.spec.provider == "CPUExecutionProvider"
    first_names, first_entries = _FakeSession.asked[0]
    assert first_names == list(DEFAULT_PROVIDERS)
    trt_options = first_entries[0][1]
    assert trt_options["trt_fp16_enable"] is False  # the fp16 graph's casts decide, not a weakly typed build
    assert trt_options["trt_engine_cache_enable"] and trt_options["trt_int8_enable"] is False
    assert _FakeSession.asked[1][0] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    msgs = [r.getMessage() for r in caplog.records]
    assert any("Tensorrt failed (libnvinfer.so.10" in m and "falling back to CUDA" in m for m in msgs)
    assert any("CUDA could not start; running on CPU" in m for m in msgs)
    assert all("\n" not in m for m in msgs)


def test_fp16_io_graph_gets_cast_input(tmp_path, models):
    path = models.make_onnx(tmp_path / "io16.onnx", n=2, h=8, w=8, fp16=True, io_fp16=True)
    eng = OrtEngine(path)
    x = np.full((1, 3, 8, 8), 0.5, np.float32)
    y = eng.infer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, models.expected_output(x, 2), atol=1e-3)


def test_unloadable_file_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(EngineError, match="ONNX Runtime cannot load bad.onnx") as info:
        OrtEngine(bad)
    assert "\n" not in str(info.value)


def test_wrong_io_rank_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["b"])],
        "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    path = tmp_path / "id.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(path))
    with pytest.raises(EngineError, match=r"expected \[B,3,H,W\] -> \[B,N,3,H,W\]"):
        OrtEngine(path)


def test_trt_ep_engine_cache_is_per_file_content_and_created(tmp_path, monkeypatch, models):
    """Two deploy dirs with the same file and tensor names must not share a TensorRT EP engine."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-home" / "cache"))  # nothing exists yet
    a = models.make_onnx(tmp_path / "a" / "model.onnx", scales=[0.5, 0.7, 0.9])
    b = models.make_onnx(tmp_path / "b" / "model.onnx", scales=[0.6, 0.8, 1.0])  # same names, new weights
    entry_a = ort_engine._provider_entry("TensorrtExecutionProvider", "fp32", sha256_file(a))
    entry_b = ort_engine._provider_entry("TensorrtExecutionProvider", "fp32", sha256_file(b))
    path_a, path_b = entry_a[1]["trt_engine_cache_path"], entry_b[1]["trt_engine_cache_path"]
    assert path_a != path_b and sha256_file(a)[:16] in path_a
    assert (tmp_path / "fresh-home" / "cache" / "b2v-edge" / "ort-trt").is_dir()  # created with parents
    assert ort_engine._provider_entry("TensorrtExecutionProvider", "int8", "0" * 64)[1]["trt_int8_enable"] is True


def test_trt_ep_gets_the_artifact_sha(deploy, monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: list(reversed(DEFAULT_PROVIDERS)))
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    _FakeSession.asked.clear()
    OrtEngine(deploy / "model.onnx", precision="fp32", sha256="ab" * 32)
    assert _FakeSession.asked[0][1][0][1]["trt_engine_cache_path"].endswith("ab" * 8)
    _FakeSession.asked.clear()
    OrtEngine(deploy / "model.onnx", precision="fp32")  # a bare file is hashed
    assert sha256_file(deploy / "model.onnx")[:16] in _FakeSession.asked[0][1][0][1]["trt_engine_cache_path"]


@pytest.mark.parametrize(
    "version, expected", [("1.17.3", None), ("1.18.0", {"use_tf32": 0}), ("1.32.0", {"use_tf32": 0})]
)
def test_cuda_ep_runs_without_tf32_where_onnxruntime_knows_the_option(monkeypatch, version, expected):
    monkeypatch.setattr(ort, "__version__", version)
    entry = ort_engine._provider_entry("CUDAExecutionProvider", "fp32", "")
    assert entry == ("CUDAExecutionProvider", expected) if expected else entry == "CUDAExecutionProvider"
