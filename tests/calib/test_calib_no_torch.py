"""Calibration runs without torch (checked in a fresh interpreter where importing torch fails)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

MODULES = [
    "b2v_edge.calib",
    "b2v_edge.calib.api",
    "b2v_edge.calib.readers",
    "b2v_edge.calib.plan",
    "b2v_edge.calib.quantize",
    "b2v_edge.calib.records",
    "b2v_edge.calib.render",
    "b2v_edge.cli.calibrate",
]


def _run(code: str) -> str:
    script = "import sys\nsys.modules['torch'] = None  # any torch import now raises ImportError\n"
    script += textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_calib_modules_import_without_torch():
    _run("import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in MODULES))


def test_calibration_runs_without_torch(native_deploy, tmp_path):
    out = _run(
        f"""
        from b2v_edge.calib import CalibOptions, run_calibration
        opts = CalibOptions(samples=8, eval_samples=1, oversample=1.0, progress=False, cache_dir={str(tmp_path / "c")!r})
        report = run_calibration({str(native_deploy)!r}, opts)
        print("OK", report.artifact.path, round(report.accuracy.mean_vs_fp32, 1))
        """
    )
    assert out.startswith("OK model.int8.onnx")
