"""runtime/engines/cuda.py: binding selection, and PyCUDA's context stack left empty (no abort at exit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from b2v_edge.runtime import EngineError
from b2v_edge.runtime.engines import cuda as cuda_mod

TESTS = Path(__file__).resolve().parents[2]


@pytest.fixture
def pycuda(monkeypatch, trt_standin):
    """A fake ``pycuda.driver`` (with PyCUDA's context stack) and no cuda-python."""
    drv = trt_standin.FakePyCuda()
    pkg = types.ModuleType("pycuda")
    pkg.driver = drv
    for name in ("cuda", "cuda.bindings"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "pycuda", pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)
    yield drv
    cuda_mod._pop_pushed()


def test_missing_bindings_name_what_to_install(monkeypatch):
    for name in ("cuda", "cuda.bindings", "pycuda", "pycuda.driver"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(EngineError, match="pip install cuda-python"):
        cuda_mod.load_cuda()


def test_device_query_pushes_nothing(pycuda):
    assert cuda_mod.query_device() == ("Xavier", "7.2")
    api = cuda_mod.load_cuda()
    assert api.name == "pycuda" and api.device_info() == ("Xavier", "7.2")
    assert pycuda.stack == [] and "push" not in pycuda.calls and pycuda.exit_code() == 0


def test_context_pushed_on_first_use_and_popped_on_close(pycuda):
    api = cuda_mod.load_cuda()
    api.malloc(16)
    api.stream_create()
    assert pycuda.stack == ["primary"] and pycuda.calls.count("push") == 1
    api.close()
    api.close()
    assert pycuda.stack == [] and pycuda.exit_code() == 0


def test_unclosed_binding_is_popped_at_exit(pycuda):
    api = cuda_mod.load_cuda()
    api.malloc(16)  # an engine opened without `with` and never closed
    assert pycuda.exit_code() == 134  # PyCUDA would abort() here
    cuda_mod._pop_pushed()  # the atexit hook
    assert pycuda.stack == [] and pycuda.exit_code() == 0


def test_process_exits_cleanly_with_an_unclosed_pycuda_binding(tmp_path):
    """The real sequence: PyCUDA checks its stack after every atexit hook ran (here: an atexit hook
    registered at import, so it runs last) and aborts with 134 when a context is still pushed."""
    script = textwrap.dedent(
        f"""
        import atexit, os, sys, types
        sys.path.insert(0, {str(TESTS / "export")!r})
        import trt_standin
        drv = trt_standin.FakePyCuda()
        pkg = types.ModuleType("pycuda"); pkg.driver = drv
        sys.modules.update({{"cuda": None, "cuda.bindings": None, "pycuda": pkg, "pycuda.driver": drv}})
        atexit.register(lambda: os._exit(drv.exit_code()))
        from b2v_edge.runtime.engines.cuda import load_cuda
        from b2v_edge.export.device import device_facts
        assert device_facts()["gpu"] == "Xavier"
        load_cuda().malloc(64)  # left open
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
