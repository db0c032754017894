"""runtime/engine_trt.py: TensorRT 8.x (bindings) and 10.x (named tensors) call sequences.

No GPU here: a stand-in ``tensorrt`` module and a stand-in ``cuda-python`` runtime (device memory
simulated with bytearrays) are injected through ``sys.modules`` in these tests only. The stand-in
engine computes ``frames[:, k] = blurred * s_k`` from the device buffers, so the data path (pinned
host → device → execute → host) is checked end to end. ``@pytest.mark.gpu`` tests at the bottom run
a real plan on a device.
"""

from __future__ import annotations

import ctypes
import itertools
import sys
import types

import numpy as np
import pytest

from b2v_edge.common.manifest import ManifestError
from b2v_edge.runtime import cudamem
from b2v_edge.runtime import engine as engine_mod
from b2v_edge.runtime.engine import EngineError, open_engine
from b2v_edge.runtime.engine_trt import TrtEngine, device_info, trt_major

N, H, W = 3, 8, 8
SCALES = np.linspace(0.5, 1.0, N, dtype=np.float32)


# ---- stand-in cuda-python runtime ---------------------------------------------------------
def make_cudart(calls):
    rt = types.ModuleType("cuda.bindings.runtime")
    ok = 0
    rt.cudaError_t = types.SimpleNamespace(cudaSuccess=ok)
    rt.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice="H2D", cudaMemcpyDeviceToHost="D2H")
    rt.device = {}  # ptr -> bytearray
    rt.host = {}  # ptr -> ctypes buffer (kept alive)
    counter = itertools.count(0x1000, 0x1000)

    def malloc(n):
        ptr = next(counter)
        rt.device[ptr] = bytearray(n)
        calls.append(("cudaMalloc", n))
        return ok, ptr

    def free(ptr):
        del rt.device[ptr]
        calls.append(("cudaFree", ptr))
        return (ok,)

    def malloc_host(n):
        buf = ctypes.create_string_buffer(n)
        rt.host[ctypes.addressof(buf)] = buf
        calls.append(("cudaMallocHost", n))
        return ok, ctypes.addressof(buf)

    def free_host(ptr):
        del rt.host[ptr]
        return (ok,)

    def memcpy(dst, src, n, kind, stream):
        calls.append(("cudaMemcpyAsync", kind))
        if kind == "H2D":
            rt.device[dst][:n] = ctypes.string_at(src, n)
        else:
            ctypes.memmove(dst, bytes(rt.device[src][:n]), n)
        return (ok,)

    class Stream(int):
        pass

    rt.cudaMalloc, rt.cudaFree, rt.cudaMallocHost, rt.cudaFreeHost = malloc, free, malloc_host, free_host
    rt.cudaMemcpyAsync = memcpy
    rt.cudaStreamCreate = lambda: (calls.append(("cudaStreamCreate",)), (ok, Stream(77)))[1]
    rt.cudaStreamDestroy = lambda s: (calls.append(("cudaStreamDestroy",)), (ok,))[1]
    rt.cudaStreamSynchronize = lambda s: (calls.append(("cudaStreamSynchronize",)), (ok,))[1]
    rt.cudaGetDeviceProperties = lambda i: (ok, types.SimpleNamespace(name=b"Orin\x00", major=8, minor=7))
    return rt


# ---- stand-in tensorrt ----------------------------------------------------------------------
def _run(rt, x_ptr, y_ptr, shape):
    b = shape[0]
    n = int(np.prod(shape))
    x = np.frombuffer(bytes(rt.device[x_ptr][: n * 4]), np.float32).reshape(shape)
    y = x[:, None] * SCALES.reshape(1, N, 1, 1, 1)
    rt.device[y_ptr][: y.nbytes] = y.astype(np.float32).tobytes()
    assert y.shape[0] == b


def make_trt(version, rt, calls, batch=-1):
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: calls.append(("Logger", level))})
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    trt.nptype = lambda dt: {"float": np.float32, "half": np.float16}[dt]
    shapes = {"blurred": (batch, 3, H, W), "frames": (batch, N, 3, H, W)}
    names = ["blurred", "frames"]

    class Context:
        def __init__(self):
            self.shapes, self.addr = dict(shapes), {}

        def _resolve(self, in_shape):
            self.shapes["blurred"] = tuple(in_shape)
            self.shapes["frames"] = (in_shape[0], N, 3, H, W)

    if major < 10:

        class Context8(Context):
            def set_binding_shape(self, i, shape):
                calls.append(("set_binding_shape", i, tuple(shape)))
                self._resolve(shape)

            def get_binding_shape(self, i):
                return self.shapes[names[i]]

            def execute_async_v2(self, bindings, stream_handle):
                calls.append(("execute_async_v2", len(bindings), stream_handle))
                _run(rt, bindings[0], bindings[1], self.shapes["blurred"])
                return True

        ctx_cls = Context8

        class Engine8:
            num_bindings = 2
            get_binding_name = staticmethod(lambda i: names[i])
            binding_is_input = staticmethod(lambda i: i == 0)
            get_binding_shape = staticmethod(lambda i: shapes[names[i]])
            get_binding_dtype = staticmethod(lambda i: "float")
            create_execution_context = staticmethod(lambda: ctx_cls())

        engine_cls = Engine8
    else:

        class Context10(Context):
            def set_input_shape(self, name, shape):
                calls.append(("set_input_shape", name, tuple(shape)))
                self._resolve(shape)
                return True

            def get_tensor_shape(self, name):
                return self.shapes[name]

            def set_tensor_address(self, name, ptr):
                calls.append(("set_tensor_address", name))
                self.addr[name] = ptr
                return True

            def execute_async_v3(self, stream_handle):
                calls.append(("execute_async_v3", stream_handle))
                _run(rt, self.addr["blurred"], self.addr["frames"], self.shapes["blurred"])
                return True

        ctx_cls = Context10

        class Engine10:
            num_io_tensors = 2
            get_tensor_name = staticmethod(lambda i: names[i])
            get_tensor_mode = staticmethod(lambda n: "in" if n == "blurred" else "out")
            get_tensor_shape = staticmethod(lambda n: shapes[n])
            get_tensor_dtype = staticmethod(lambda n: "float")
            create_execution_context = staticmethod(lambda: ctx_cls())

        engine_cls = Engine10

    class Runtime:
        def __init__(self, logger):
            calls.append(("Runtime",))

        def deserialize_cuda_engine(self, data):
            calls.append(("deserialize_cuda_engine", len(data)))
            return None if data == b"BAD" else engine_cls()

    trt.Runtime = Runtime
    return trt


@pytest.fixture
def fake_gpu(monkeypatch):
    """Install stand-in tensorrt + cuda-python; returns a function(version) -> calls list."""

    def install(version="10.3.0"):
        calls = []
        rt = make_cudart(calls)
        cuda_pkg, bindings = types.ModuleType("cuda"), types.ModuleType("cuda.bindings")
        cuda_pkg.bindings, bindings.runtime = bindings, rt
        monkeypatch.setitem(sys.modules, "cuda", cuda_pkg)
        monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
        monkeypatch.setitem(sys.modules, "tensorrt", make_trt(version, rt, calls))
        return calls

    return install


def _x(b=1):
    return np.random.default_rng(b).random((b, 3, H, W), dtype=np.float32)


def _names(calls):
    return [c[0] for c in calls]


def test_trt10_call_sequence_and_buffer_reuse(fake_gpu, tmp_path):
    calls = fake_gpu("10.3.0")
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(b"PLAN")
    with TrtEngine(plan, precision="fp16") as eng:
        assert eng.spec.provider == "TensorRT 10.3.0" and eng.spec.frames == N
        assert eng.spec.input_shape == (None, 3, H, W)
        start = len(calls)
        for _ in range(3):
            x = _x()
            np.testing.assert_allclose(eng.infer(x), x[:, None] * SCALES.reshape(1, N, 1, 1, 1), rtol=1e-6)
        seq = _names(calls[start:])
        assert seq[:6] == [
            "set_input_shape",
            "cudaMallocHost",
            "cudaMalloc",
            "set_tensor_address",
            "cudaMallocHost",
            "cudaMalloc",
        ]
        assert seq.count("cudaMalloc") == 2 and seq.count("execute_async_v3") == 3  # allocated once
        assert seq[-4:] == ["cudaMemcpyAsync", "execute_async_v3", "cudaMemcpyAsync", "cudaStreamSynchronize"]
        assert ("execute_async_v3", 77) in calls  # the stream handle
        assert "execute_async_v2" not in seq and "set_binding_shape" not in seq
        eng.infer(_x(b=2))  # new batch: buffers reallocated once
        assert _names(calls).count("cudaMalloc") == 4 and _names(calls).count("cudaFree") == 2
        assert eng.buffers()["frames"][0] == (2, N, 3, H, W)
    assert _names(calls).count("cudaFree") == 4 and "cudaStreamDestroy" in _names(calls)


def test_trt8_call_sequence_uses_bindings(fake_gpu, tmp_path):
    calls = fake_gpu("8.5.2.2")
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(b"PLAN")
    eng = TrtEngine(plan, precision="fp16")
    x = _x()
    np.testing.assert_allclose(eng.infer(x), x[:, None] * SCALES.reshape(1, N, 1, 1, 1), rtol=1e-6)
    eng.infer(x)
    seq = _names(calls)
    assert ("set_binding_shape", 0, (1, 3, H, W)) in calls
    assert seq.count("execute_async_v2") == 2 and seq.count("cudaMalloc") == 2
    assert ("execute_async_v2", 2, 77) in calls
    assert "execute_async_v3" not in seq and "set_tensor_address" not in seq
    eng.close()
    eng.close()  # idempotent
    with pytest.raises(EngineError, match="closed"):
        eng.infer(x)


def test_version_helpers(fake_gpu):
    fake_gpu("10.3.0.26")
    import tensorrt

    assert trt_major(tensorrt) == 10
    assert device_info() == ("10.3.0.26", "8.7", "Orin")
    tensorrt.__version__ = "garbage"
    with pytest.raises(EngineError, match="version"):
        trt_major(tensorrt)


def test_plan_that_does_not_deserialize(fake_gpu, tmp_path):
    fake_gpu("10.3.0")
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(b"BAD")
    with pytest.raises(EngineError, match="could not load model.fp16.plan.*build-engine"):
        TrtEngine(plan)


def test_missing_tensorrt_and_cuda_bindings_name_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(EngineError, match="JetPack"):
        TrtEngine(tmp_path / "x.plan")
    for name in ("cuda", "cuda.bindings", "pycuda", "pycuda.driver"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(EngineError, match="pip install cuda-python"):
        cudamem.load_cuda()


def test_open_engine_auto_prefers_plan_and_checks_it(fake_gpu, tmp_path, models, monkeypatch):
    fake_gpu("10.3.0")
    deploy = models.make_deploy(tmp_path / "deploy", n=N, h=H, w=W)
    models.add_plan(deploy, trt_version="10.3.0", cc="8.7")
    monkeypatch.setattr(engine_mod, "_tensorrt_importable", lambda: True)
    with open_engine(deploy) as eng:
        assert eng.spec.backend == "tensorrt" and eng.spec.precision == "fp16"
        assert eng.spec.input_shape == (1, 3, H, W)  # manifest's static dims over the plan's -1
    assert open_engine(deploy, backend="onnxruntime").spec.backend == "onnxruntime"


def test_open_engine_refuses_plan_for_other_trt_or_gpu(fake_gpu, tmp_path, models):
    fake_gpu("10.3.0")
    deploy = models.make_deploy(tmp_path / "deploy", n=N, h=H, w=W)
    models.add_plan(deploy, trt_version="8.6.2")
    with pytest.raises(ManifestError, match="built with TensorRT 8.6.2.*b2v-edge build-engine"):
        open_engine(deploy, backend="tensorrt")
    models.add_plan(deploy, trt_version="10.3.0", cc="7.2", gpu="Xavier")
    with pytest.raises(ManifestError, match="built for GPU Xavier"):
        open_engine(deploy, backend="tensorrt")
    with open(deploy / "model.fp16.plan", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ManifestError, match="does not match the manifest"):
        open_engine(deploy, backend="tensorrt")


def test_pycuda_is_used_when_cuda_python_is_missing(monkeypatch):
    calls = []
    drv = types.ModuleType("pycuda.driver")
    ctx = types.SimpleNamespace(push=lambda: calls.append("push"), pop=lambda: calls.append("pop"))
    device = types.SimpleNamespace(
        retain_primary_context=lambda: ctx, name=lambda: "Xavier", compute_capability=lambda: (7, 2)
    )
    drv.init = lambda: calls.append("init")
    drv.Device = lambda i: device
    pkg = types.ModuleType("pycuda")
    pkg.driver = drv
    for name in ("cuda", "cuda.bindings"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "pycuda", pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)
    api = cudamem.load_cuda()
    assert api.name == "pycuda" and api.device_info() == ("Xavier", "7.2")
    api.close()
    assert calls == ["init", "push", "pop"]


# ---- on a device with TensorRT (pytest -m gpu) ---------------------------------------------
def _real_plan(tmp_path, models):
    trt = pytest.importorskip("tensorrt")
    from b2v_edge.export.api import build_engine  # type: ignore[import-not-found]  # export engineer's API

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
