"""Device checks for the TensorRT path (``pytest -m gpu``; skipped without TensorRT and a GPU).

They settle what only a device can tell and record the numbers in a JSON report
(``$B2V_DEVICE_REPORT``, default ``trt-device-check.json`` in the pytest temp dir); run them all with
``python tests/trt_api/device_check.py``:

* TF32: fp32 plans with and without ``BuilderFlag.TF32`` against ONNX Runtime fp32 (PSNR, max |d|);
* a version-compatible plan loads only with ``engine_host_code_allowed``;
* the process exits 0 under PyCUDA with an engine left open;
* ONNX Runtime's TensorRT EP on the fp16 graph with and without ``trt_fp16_enable``, from an empty
  cache folder, against the CUDA EP in fp32;
* INT8 deconvolutions quantized per output channel (TensorRT 10's convention) on this TensorRT;
* fp32 / fp16 / int8 plans against ONNX Runtime with the project's pass bars.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest
from export_helpers import make_deploy

pytestmark = pytest.mark.gpu
REPORT: Dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def device(tmp_path_factory):
    """TensorRT, a CUDA binding and a GPU, or skip; writes the report at the end."""
    trt = pytest.importorskip("tensorrt")
    from b2v_edge.runtime.engines.trt import device_info

    try:
        version, cc, gpu = device_info()
    except Exception as exc:  # no CUDA binding or no GPU
        pytest.skip(f"no usable GPU: {exc}")
    REPORT["device"] = {"tensorrt": version, "compute_capability": cc, "gpu": gpu}
    yield trt
    out = Path(os.environ.get("B2V_DEVICE_REPORT") or tmp_path_factory.getbasetemp() / "trt-device-check.json")
    out.write_text(json.dumps(REPORT, indent=2) + "\n", encoding="utf-8")


def _x(size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)


def _compare(reference: np.ndarray, other: np.ndarray) -> Dict[str, float]:
    from b2v_edge.common.metrics import psnr

    return {"psnr_db": round(float(psnr(reference, other)), 2), "max_abs": float(np.abs(reference - other).max())}


def _ort(path: Path, x: np.ndarray, providers=("CPUExecutionProvider",)) -> np.ndarray:
    from b2v_edge.runtime.engines.ort import OrtEngine

    with OrtEngine(path, providers=list(providers)) as engine:
        return engine.infer(x)


@pytest.fixture(scope="module")
def deploy(tmp_path_factory, onnx_files) -> Path:
    return make_deploy(tmp_path_factory.mktemp("gpu") / "d", onnx_files["native"])


def test_tf32_on_and_off(device, deploy):
    """TF32 rounds float32 MatMul inputs (the affine grid) to 10 mantissa bits: how much does it cost?"""
    from b2v_edge.common.manifest import Manifest
    from b2v_edge.common.trt_version import TrtVersion
    from b2v_edge.export.trt_build import build_plan_file
    from b2v_edge.export.trt_recipe import BuildOptions, plan_recipe
    from b2v_edge.runtime.engines.trt import TrtEngine

    manifest = Manifest.load(deploy)
    recipe = plan_recipe(manifest, BuildOptions(precision="fp32"), TrtVersion.of(device))
    reference = _ort(deploy / "model.onnx", _x())
    results = {}
    for label, clear in (("tf32_off", ("TF32",)), ("tf32_on", ())):
        plan = deploy / f"{label}.plan"
        build_plan_file(device, replace(recipe, clear_flags=clear), deploy / "model.onnx", plan)
        with TrtEngine.from_plan(plan, trt=device) as engine:
            results[label] = _compare(reference, engine.infer(_x()))
    REPORT["tf32"] = results
    assert results["tf32_off"]["psnr_db"] >= 60.0


def test_version_compatible_plan_needs_host_code(device, deploy):
    from b2v_edge.common.trt_version import TrtVersion
    from b2v_edge.export.trt_build import BuildOptions, build_engine
    from b2v_edge.runtime import EngineError
    from b2v_edge.runtime.engines.trt import TrtEngine

    if not TrtVersion.of(device).compatibility_modes:
        pytest.skip("version-compatible plans need TensorRT >= 8.6")
    art = build_engine(deploy, BuildOptions(precision="fp32", version_compatible=True))
    refused = False
    try:
        TrtEngine.from_plan(deploy / art.path, trt=device).close()
    except EngineError:
        refused = True
    with TrtEngine.from_plan(deploy / art.path, trt=device, host_code_allowed=True) as engine:
        result = _compare(_ort(deploy / "model.onnx", _x()), engine.infer(_x()))
    REPORT["version_compatible"] = {"refused_without_host_code": refused, **result}
    assert refused and result["psnr_db"] >= 60.0


def test_pycuda_exit_status(device, deploy):
    """PyCUDA aborts (134) at exit when a context is still pushed; an open engine must not cause it."""
    pytest.importorskip("pycuda.driver")
    from b2v_edge.export.trt_build import BuildOptions, build_engine

    build_engine(deploy, BuildOptions(precision="fp32"))
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules.update({{"cuda": None, "cuda.bindings": None}})  # force PyCUDA
        import numpy as np
        from b2v_edge.runtime import open_engine
        engine = open_engine({str(deploy)!r}, backend="tensorrt", precision="fp32")
        engine.infer(np.zeros((1, 3, 64, 64), np.float32))  # left open on purpose
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    REPORT["pycuda_exit_status"] = result.returncode
    assert result.returncode == 0, result.stderr[-2000:]


def test_ort_tensorrt_ep_fp16_flag(device, deploy, tmp_path, monkeypatch):
    import onnxruntime as ort

    if "TensorrtExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no TensorRT execution provider")
    from b2v_edge.runtime.engines import ort as ort_engine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))  # a fresh device: nothing exists
    reference = _ort(deploy / "model.onnx", _x(), ("CUDAExecutionProvider", "CPUExecutionProvider"))
    results = {}
    for flag in (False, True):
        entry = ort_engine._provider_entry("TensorrtExecutionProvider", "fp16", f"{int(flag)}" * 64)
        entry[1]["trt_fp16_enable"] = flag
        session = ort.InferenceSession(str(deploy / "model.fp16.onnx"), providers=[entry, "CPUExecutionProvider"])
        assert session.get_providers()[0] == "TensorrtExecutionProvider"  # the cache folder did not stop it
        y = session.run(None, {"blurred": _x()})[0].astype(np.float32)
        results[f"trt_fp16_enable_{flag}"] = _compare(reference, y)
    REPORT["ort_trt_ep_fp16"] = results
    assert results["trt_fp16_enable_False"]["psnr_db"] >= 40.0


def test_int8_deconvolution_per_output_channel(device, tmp_path, calib_graphs):
    """ORT quantizes ConvTranspose weights on axis 1; TensorRT 8.x kernels assume axis 0."""
    from b2v_edge.calib.api import run_calibration
    from b2v_edge.calib.options import CalibOptions
    from b2v_edge.export.trt_build import BuildOptions, build_engine
    from b2v_edge.runtime.engines.trt import TrtEngine

    deploy = calib_graphs.make_deploy(tmp_path / "deconv", calib_graphs.deconv_graph(), "native", target="trt10")
    options = CalibOptions(samples=12, eval_samples=2, progress=False, cache_dir=tmp_path / "c", trt_version="10.3.0")
    run_calibration(deploy, options)  # deconvolution weights quantized per output channel
    try:
        art = build_engine(deploy, BuildOptions(precision="int8"))
    except Exception as exc:  # a build failure is an answer too
        REPORT["int8_deconvolution"] = {"tensorrt": str(device.__version__), "build_error": str(exc)[:300]}
        return
    with TrtEngine.from_plan(deploy / art.path, trt=device) as engine:
        result = _compare(_ort(deploy / "model.int8.onnx", _x(16)), engine.infer(_x(16)))
    REPORT["int8_deconvolution"] = {"tensorrt": str(device.__version__), **result}


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_plans_match_onnxruntime(device, deploy, precision, tmp_path):
    from b2v_edge.calib.api import run_calibration
    from b2v_edge.calib.options import CalibOptions
    from b2v_edge.common.vocab import min_psnr_db
    from b2v_edge.export.trt_build import BuildOptions, build_engine
    from b2v_edge.runtime import open_engine

    if precision == "int8":
        run_calibration(deploy, CalibOptions(samples=12, eval_samples=2, progress=False, cache_dir=tmp_path / "c"))
    build_engine(deploy, BuildOptions(precision=precision))
    with open_engine(deploy, backend="tensorrt", precision=precision) as engine:
        result = _compare(_ort(deploy / "model.onnx", _x()), engine.infer(_x()))
    REPORT.setdefault("plans_vs_onnxruntime", {})[precision] = result
    assert result["psnr_db"] >= min_psnr_db()[precision]
