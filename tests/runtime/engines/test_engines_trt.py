"""runtime/engines/trt.py: TensorRT 8.x (bindings) and 10.x/11.x (named tensors) call sequences.

No GPU here. The engine comes through the loader seam: a stand-in ``tensorrt`` module gated by the
real API surface of each version (tests/export/trt_standin.py) deserializes stand-in plans or hands
over a small stand-in ``ICudaEngine``; a stand-in CUDA binding simulates device memory. The engine
computes ``frames[:, k] = blurred * s_k`` from the device buffers, so the data path (pinned host →
device → execute → host) is checked end to end. ``@pytest.mark.gpu`` tests at the bottom run a real
plan on a device.
"""

from __future__ import annotations

import numpy as np
import pytest

from b2v_edge.common.manifest import ManifestError
from b2v_edge.runtime import EngineError, open_engine
from b2v_edge.runtime.engines import trt as trt_mod
from b2v_edge.runtime.engines.trt import TrtEngine, device_info, trt_version

N, H, W = 3, 8, 8
SCALES = np.linspace(0.5, 1.0, N, dtype=np.float32)


def _x(b=1):
    return np.random.default_rng(b).random((b, 3, H, W), dtype=np.float32)


def _names(calls):
    return [c[0] for c in calls]


@pytest.fixture
def gpu(trt_standin):
    """``make(version)`` -> (stand-in tensorrt, stand-in CUDA) sharing simulated device memory."""

    def make(version="10.3.0"):
        trt, cuda = trt_standin.StandIn(version), trt_standin.StandInCuda()
        trt.memory = cuda
        return trt, cuda

    return make


@pytest.mark.parametrize("version", ["10.3.0", "11.0.0"])
def test_named_tensor_call_sequence_and_buffer_reuse(gpu, tmp_path, version):
    trt, cuda = gpu(version)
    with TrtEngine(trt.engine(N, (H, W)), tmp_path / "model.fp16.plan", trt=trt, precision="fp16", cuda=cuda) as eng:
        assert eng.spec.provider == f"TensorRT {version}" and eng.spec.frames == N
        assert eng.spec.input_shape == (None, 3, H, W)
        start = len(cuda.calls)
        for _ in range(3):
            x = _x()
            np.testing.assert_allclose(eng.infer(x), x[:, None] * SCALES.reshape(1, N, 1, 1, 1), rtol=1e-6)
        seq = _names(cuda.calls[start:])
        assert seq.count("malloc") == 2 and seq[-3:] == ["htod", "dtoh", "synchronize"]
        assert _names(trt.calls).count("IExecutionContext.execute_async_v3") == 3
        assert ("IExecutionContext.execute_async_v3", 77) in trt.calls  # the stream handle
        assert "IExecutionContext.set_binding_shape" not in _names(trt.calls)
        eng.infer(_x(b=2))  # new batch: buffers reallocated once
        assert _names(cuda.calls).count("malloc") == 4 and _names(cuda.calls).count("free") == 2
        assert eng.buffers()["frames"][0] == (2, N, 3, H, W)
    assert _names(cuda.calls).count("free") == 4 and "stream_destroy" in _names(cuda.calls) and cuda.closed == 1


@pytest.mark.parametrize("version", ["8.0.1", "8.5.2", "8.6.1"])
def test_trt8_call_sequence_uses_bindings(gpu, tmp_path, version):
    trt, cuda = gpu(version)
    eng = TrtEngine(trt.engine(N, (H, W)), tmp_path / "model.fp16.plan", trt=trt, precision="fp16", cuda=cuda)
    x = _x()
    np.testing.assert_allclose(eng.infer(x), x[:, None] * SCALES.reshape(1, N, 1, 1, 1), rtol=1e-6)
    eng.infer(x)
    names = _names(trt.calls)
    assert ("IExecutionContext.set_binding_shape", 0, (1, 3, H, W)) in trt.calls
    assert (
        names.count("IExecutionContext.execute_async_v2") == 2
        and ("IExecutionContext.execute_async_v2", 2, 77) in trt.calls
    )
    assert "IExecutionContext.execute_async_v3" not in names
    eng.close()
    eng.close()  # idempotent
    with pytest.raises(EngineError, match="closed"):
        eng.infer(x)


def test_loader_callable_is_called_once(gpu, tmp_path):
    trt, cuda = gpu()
    made = []

    def loader():
        made.append(1)
        return trt.engine(N, (H, W))

    with TrtEngine(loader, tmp_path / "m.plan", trt=trt, cuda=cuda) as eng:
        eng.infer(_x())
    assert made == [1]


def test_plan_loader_deserializes_and_keeps_the_runtime(gpu, tmp_path):
    trt, cuda = gpu("10.3.0")
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(trt.plan_bytes(frames=N, size=[H, W]))
    with TrtEngine.from_plan(plan, precision="fp16", cuda=cuda, trt=trt) as eng:
        np.testing.assert_allclose(eng.infer(_x()), _x()[:, None] * SCALES.reshape(1, N, 1, 1, 1), rtol=1e-6)
    assert _names(trt.calls)[:3] == ["Logger", "Runtime", "Runtime.deserialize_cuda_engine"]


def test_version_compatible_plan_needs_engine_host_code_allowed(gpu, tmp_path):
    """A version-compatible plan embeds a lean runtime: TensorRT loads it only when told to trust it."""
    trt, cuda = gpu("10.3.0")
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(trt.plan_bytes(version="8.6.1", version_compatible=True, frames=N, size=[H, W]))
    with pytest.raises(EngineError, match="could not load model.fp16.plan"):
        TrtEngine.from_plan(plan, cuda=cuda, trt=trt)
    with TrtEngine.from_plan(plan, cuda=cuda, trt=trt, host_code_allowed=True) as eng:
        assert eng.spec.frames == N
    assert ("Runtime.engine_host_code_allowed", True) in trt.calls


def test_host_code_opt_in_only_where_it_exists(gpu, tmp_path):
    trt, cuda = gpu("8.5.2")  # no engine_host_code_allowed before 8.6: never touched
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(trt.plan_bytes(frames=N, size=[H, W]))
    TrtEngine.from_plan(plan, cuda=cuda, trt=trt, host_code_allowed=True).close()
    assert ("Runtime", "engine_host_code_allowed") not in trt.touched


def test_plan_that_does_not_deserialize(gpu, tmp_path):
    trt, cuda = gpu()
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(b"BAD")
    with pytest.raises(EngineError, match="could not load model.fp16.plan.*build-engine"):
        TrtEngine.from_plan(plan, cuda=cuda, trt=trt)
    assert cuda.closed == 1  # released on the failure path too


def test_runtime_without_gpu_is_an_engine_error(gpu, tmp_path):
    trt, cuda = gpu()
    trt.no_gpu = True  # the real binding raises TypeError (factory returned nullptr), never returns None
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(trt.plan_bytes())
    with pytest.raises(EngineError, match="could not create a runtime.*no CUDA GPU"):
        TrtEngine.from_plan(plan, cuda=cuda, trt=trt)


def test_version_helpers(trt_standin):
    assert trt_version(trt_standin.StandIn("10.3.0")).major == 10
    with pytest.raises(EngineError, match="version"):
        trt_version(type("T", (), {"__version__": "garbage"}))


def test_missing_tensorrt_names_what_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(EngineError, match="JetPack"):
        TrtEngine.from_plan(tmp_path / "x.plan")


def test_device_info_closes_the_binding_it_loads(trt_standin, monkeypatch):
    cuda = trt_standin.StandInCuda()
    monkeypatch.setattr(trt_mod, "import_tensorrt", lambda: trt_standin.StandIn("10.3.0"))
    monkeypatch.setattr("b2v_edge.runtime.engines.cuda.load_cuda", lambda: cuda)
    assert device_info() == ("10.3.0", "8.7", "Orin (stand-in)") and cuda.closed == 1


@pytest.fixture
def deploy_with_plan(tmp_path, models, gpu, monkeypatch):
    """A deploy dir with a stand-in plan; open_engine's TensorRT path sees the stand-in module."""

    def make(trt_version="10.3.0", device="10.3.0", cc="8.7", **build_options):
        trt, cuda = gpu(device)
        deploy = models.make_deploy(tmp_path / "deploy", n=N, h=H, w=W)
        plan = trt.plan_bytes(version=trt_version, frames=N, size=[H, W], **build_options)
        models.add_plan(deploy, trt_version=trt_version, cc=cc, data=plan, build_options=build_options)
        monkeypatch.setattr(trt_mod, "import_tensorrt", lambda: trt)
        monkeypatch.setattr("b2v_edge.runtime.engines.cuda.load_cuda", lambda: cuda)
        monkeypatch.setattr(trt_mod, "load_cuda", lambda: cuda)
        monkeypatch.setattr("b2v_edge.runtime.open._tensorrt_usable", lambda: True)
        return deploy, trt

    return make


def test_open_engine_auto_prefers_plan_and_checks_it(deploy_with_plan):
    deploy, _ = deploy_with_plan()
    with open_engine(deploy) as eng:
        assert eng.spec.backend == "tensorrt" and eng.spec.precision == "fp16"
        assert eng.spec.input_shape == (1, 3, H, W)  # manifest's static dims over the plan's -1
        assert eng.infer(_x()).shape == (1, N, 3, H, W)
    assert open_engine(deploy, backend="onnxruntime").spec.backend == "onnxruntime"


def test_open_engine_trusts_a_version_compatible_plan_it_verified(deploy_with_plan):
    deploy, trt = deploy_with_plan(trt_version="8.6.1", device="10.3.0", version_compatible=True)
    with open_engine(deploy, backend="tensorrt") as eng:
        assert eng.spec.backend == "tensorrt"
    assert ("Runtime.engine_host_code_allowed", True) in trt.calls


def test_open_engine_refuses_plan_for_other_trt_or_gpu(deploy_with_plan, models):
    deploy, _ = deploy_with_plan(trt_version="8.6.2")
    with pytest.raises(ManifestError, match="built with TensorRT 8.6.2.*b2v-edge build-engine"):
        open_engine(deploy, backend="tensorrt")
    models.add_plan(deploy, trt_version="10.3.0", cc="7.2", gpu="Xavier")
    with pytest.raises(ManifestError, match="built for GPU Xavier"):
        open_engine(deploy, backend="tensorrt")
    with open(deploy / "model.fp16.plan", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ManifestError, match="does not match the manifest"):
        open_engine(deploy, backend="tensorrt")


# ---- on a device with TensorRT (pytest -m gpu) ---------------------------------------------
def _real_plan(tmp_path, models):
    trt = pytest.importorskip("tensorrt")
    from b2v_edge.export.api import build_engine

    deploy = models.make_deploy(tmp_path / "deploy", n=3, h=64, w=64, precisions=("fp32",))
    build_engine(deploy, precision="fp32")
    return trt, deploy


@pytest.mark.gpu
def test_real_plan_matches_onnxruntime(tmp_path, models):
    _, deploy = _real_plan(tmp_path, models)
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    with open_engine(deploy, backend="tensorrt", precision="fp32") as trt_eng:
        y_trt = trt_eng.infer(x)
        y_trt2 = trt_eng.infer(x)
    with open_engine(deploy, backend="onnxruntime", precision="fp32") as ort_eng:
        y_ort = ort_eng.infer(x)
    np.testing.assert_allclose(y_trt, y_ort, atol=1e-5)
    np.testing.assert_array_equal(y_trt, y_trt2)


@pytest.mark.gpu
def test_real_device_info():
    pytest.importorskip("tensorrt")
    version, cc, name = device_info()
    assert version and "." in cc and name
