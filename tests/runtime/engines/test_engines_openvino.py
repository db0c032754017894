"""runtime/engines/openvino.py and its place in open_engine: explicit precision, auto rule, missing extra."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from b2v_edge.runtime import EngineError, open_engine
from b2v_edge.runtime import open as open_mod
from b2v_edge.runtime.engines import openvino as ov_engine
from b2v_edge.runtime.engines import selection

needs_openvino = pytest.mark.skipif(not ov_engine.available(), reason="openvino is not installed (extra [openvino])")


def _x(seed=0):
    return np.random.default_rng(seed).random((1, 3, 16, 24), dtype=np.float32)


# ---- torch-free, openvino-free logic ---------------------------------------------------------
def test_compile_config_always_names_the_precision():
    assert ov_engine.compile_config("fp32", None)["INFERENCE_PRECISION_HINT"] == "f32"
    assert ov_engine.compile_config("bf16", 2) == {
        "INFERENCE_PRECISION_HINT": "bf16",
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": "2",
    }
    assert "INFERENCE_NUM_THREADS" not in ov_engine.compile_config("fp32", 0)
    with pytest.raises(EngineError, match="fp32 or bf16"):
        ov_engine.compile_config("fp16", None)
    with pytest.raises(EngineError, match=">= 0"):
        ov_engine.compile_config("fp32", -1)


def test_openvino_preferred_follows_the_recorded_comparison(monkeypatch):
    monkeypatch.setattr(selection, "OPENVINO_OVER_ORT", {"native": 0.6, "gather": 1.1})
    assert selection.openvino_preferred("native", True, "x86_64")
    assert not selection.openvino_preferred("gather", True, "x86_64")  # measured slower: ORT
    assert not selection.openvino_preferred("native", False, "x86_64")  # not installed
    assert not selection.openvino_preferred("native", True, "aarch64")  # Jetson: not an x86 CPU
    assert not selection.openvino_preferred("unknown", True, "x86_64")  # never measured


def test_auto_picks_openvino_only_where_recorded_faster(deploy, monkeypatch):
    picked = []
    monkeypatch.setattr(open_mod, "_open_openvino", lambda m, a, p, t: picked.append((a.path, p)) or "ov")
    monkeypatch.setattr(open_mod, "_importable", lambda name: name == "openvino")
    monkeypatch.setattr(selection, "OPENVINO_OVER_ORT", {"gather": 0.5})  # the test deploy dir's warp
    assert open_engine(deploy) == "ov" and picked == [("model.onnx", "fp32")]
    assert open_engine(deploy, precision="fp16").spec.backend == "onnxruntime"  # OpenVINO runs fp32 only
    assert open_engine(deploy, providers=["CPUExecutionProvider"]).spec.backend == "onnxruntime"
    monkeypatch.setattr(selection, "OPENVINO_OVER_ORT", {"gather": 1.2})
    assert open_engine(deploy).spec.backend == "onnxruntime"


def test_bf16_is_an_openvino_precision_only(deploy):
    with pytest.raises(EngineError, match="bf16 runs only with --backend openvino"):
        open_engine(deploy, "onnxruntime", "bf16")


def test_missing_openvino_names_the_extra(deploy, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    with pytest.raises(EngineError, match=r"pip install 'b2v-edge\[openvino\]'"):
        open_engine(deploy, "openvino")


def test_run_without_the_extra_is_one_line_exit_2(deploy, monkeypatch):
    from b2v_edge.cli import extras
    from b2v_edge.cli.main import app

    real = extras._importable
    monkeypatch.setattr(extras, "_importable", lambda name: name != "openvino" and real(name))
    result = CliRunner().invoke(app, ["run", "--model", str(deploy), "--backend", "openvino", "--headless"])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "pip install 'b2v-edge[openvino]'" in lines[0], result.output


# ---- with openvino installed -----------------------------------------------------------------
@needs_openvino
def test_openvino_runs_the_fp32_graph_exactly(deploy, models):
    with open_engine(deploy, "openvino", threads=1) as eng:
        assert eng.spec.backend == "openvino" and eng.spec.precision == "fp32"
        assert eng.spec.path.name == "model.onnx" and eng.spec.frames == 3
        assert eng.hint == "f32"  # explicit: the CPU plugin's own default may be bf16
        x = _x()
        y = eng.infer(x)
        assert y.dtype == np.float32 and y.shape == (1, 3, 3, 16, 24)
        np.testing.assert_allclose(y, models.expected_output(x, 3), atol=1e-6)
    with pytest.raises(EngineError, match="closed"):
        eng.infer(x)


@needs_openvino
def test_openvino_bf16_is_explicit_and_close(deploy, models):
    with open_engine(deploy, "openvino", "bf16") as eng:
        assert eng.spec.precision == "bf16" and eng.hint == "bf16"
        assert eng.spec.path.name == "model.onnx"  # the fp32 graph, run in bfloat16
        x = _x(1)
        np.testing.assert_allclose(eng.infer(x), models.expected_output(x, 3), atol=1e-2)


@needs_openvino
def test_openvino_file_and_refusals(deploy, models, tmp_path):
    with open_engine(deploy / "model.onnx", "openvino") as eng:
        assert eng.spec.backend == "openvino"
    bare = models.make_onnx(tmp_path / "bare.onnx")
    with open_engine(bare, "openvino") as eng:
        assert eng.spec.backend == "openvino" and eng.spec.input_shape[1:] == (3, 16, 24)
    with pytest.raises(EngineError, match="fp32 graph"):
        open_engine(deploy / "model.fp16.onnx", "openvino")
    with pytest.raises(EngineError, match="input must be float32"):
        open_engine(deploy, "openvino").infer(_x().astype(np.float64))
