"""Run the TensorRT device checks on the first GPU and print what they measured.

Usage (on a machine with TensorRT, a CUDA binding and a GPU)::

    python tests/trt_api/device_check.py [report.json]

It runs ``pytest -m gpu tests/export/test_trt_device.py`` (TF32 on/off, version-compatible loading,
the exit status under PyCUDA, ONNX Runtime's TensorRT EP with and without ``trt_fp16_enable``, INT8
deconvolutions, fp32/fp16/int8 plans against ONNX Runtime) and prints the JSON report it wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list) -> int:
    report = Path(argv[0] if argv else "trt-device-check.json").resolve()
    env = {**os.environ, "B2V_DEVICE_REPORT": str(report)}
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-rA", str(ROOT / "tests" / "export" / "test_trt_device.py")]
    status = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    if report.exists():
        print(report.read_text(encoding="utf-8"))
    else:
        print(f"no report written ({report}): TensorRT or the GPU is missing here")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
