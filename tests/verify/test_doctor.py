"""b2v_edge/verify/doctor.py: the lines for a Jetson Orin Nano, a Jetson Nano and this CPU machine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import fake_host as F  # tests/verify is on sys.path (pytest rootdir-relative import)
import pytest

from b2v_edge.common.manifest import ManifestError
from b2v_edge.verify.doctor import STATUSES, Check, run_doctor


def _lines(report) -> dict:
    return {c.name: c for c in report.checks}


def test_orin_nano_on_jetpack_6(tmp_path):
    report = run_doctor(host=F.orin_nano(tmp_path), disk_at=tmp_path)
    got = _lines(report)
    not_ok = [c.name for c in report.checks if c.status != "ok"]
    assert not_ok == ["hardware-compatible plans"], not_ok  # ampere+ plans are for discrete GPUs, not Jetson
    assert "L4T 36.4.3 = JetPack 6.2" in got["Jetson"].detail and got["Jetson"].facts["jetpack"] == "6.2"
    assert "Orin, compute capability 8.7" in got["GPU"].detail
    assert got["CUDA driver"].detail == "supports CUDA 12.6" and got["CUDA runtime"].detail == "CUDA 12.6.68"
    assert got["TensorRT"].facts["version"] == "10.3.0" and got["TensorRT target"].facts["target"] == "trt10"
    assert "--warp native or gather" in got["GridSample"].detail and "calibrate" in got["INT8"].detail
    assert got["cameras"].facts["devices"] == ["/dev/video0"] and "imx219" in got["cameras"].detail
    assert report.counts() == {"ok": len(report.checks) - 1, "warn": 0, "missing": 1}
    assert "build-engine --version-compatible" in got["version-compatible plans"].detail


def test_jetson_nano_venv_without_tensorrt(tmp_path):
    got = _lines(run_doctor(host=F.nano(tmp_path), disk_at=tmp_path))
    assert "JetPack 4.6.4" in got["Jetson"].detail
    trt = got["TensorRT"]
    assert (
        trt.status == "missing"
        and "JetPack 4.6.4 ships TensorRT 8.2" in trt.detail
        and "--system-site-packages" in trt.fix
    )
    assert got["TensorRT target"].facts["target"] == "trt8.2"  # what JetPack's TensorRT will support
    assert got["GridSample"].status == "missing" and "--warp gather" in got["GridSample"].fix
    assert got["FP16"].status == "ok" and got["INT8"].status == "missing" and "Maxwell" in got["INT8"].detail
    assert got["version-compatible plans"].status == "missing"
    assert got["OpenCV GStreamer"].status == "missing" and "apt install python3-opencv" in got["OpenCV GStreamer"].fix
    assert got["CUDA Python binding"].status == "missing" and got["cameras"].status == "missing"
    assert got["ONNX Runtime"].status == "warn" and "Jetson AI Lab" in got["ONNX Runtime"].fix


def test_slow_gridsample_and_tensorrt_that_does_not_import(tmp_path):
    slow = F.host(
        tmp_path,
        modules={"tensorrt": SimpleNamespace(__version__="10.1.0")},
        commands={"nvidia-smi": "NVIDIA GeForce RTX 3060, 8.6, 12288\n"},
    )
    got = _lines(run_doctor(host=slow, disk_at=tmp_path))
    assert got["GridSample"].status == "warn" and got["hardware-compatible plans"].status == "ok"
    broken = F.host(tmp_path, versions={"tensorrt": "10.3.0"})
    got = _lines(run_doctor(host=broken, disk_at=tmp_path))
    assert got["TensorRT"].status == "warn" and "import tensorrt` fails" in got["TensorRT"].detail
    assert "pip install tensorrt" in got["TensorRT"].fix  # not a Jetson: the desktop fix


def test_deploy_dir_fits_or_not(tmp_path, tmp_path_factory, parity_helpers):
    deploy = Path(shutil.copytree(parity_helpers.shared_stored_deploy(tmp_path_factory), tmp_path / "d"))
    roomy = _lines(run_doctor(deploy, host=F.orin_nano(tmp_path), disk_at=tmp_path))
    fit = roomy["fits: model.fp16.onnx"]
    assert fit.status == "ok" and "to build a plan from it at 1x3x64x64 (static shape)" in fit.detail
    assert "shared by CPU and GPU" in fit.detail and fit.facts["build"] > fit.facts["run"] > 0
    assert roomy["reference set"].status == "ok" and "without PyTorch" in roomy["reference set"].detail
    tight = _lines(run_doctor(deploy, host=F.orin_nano(tmp_path / "t", available=300 << 20), disk_at=tmp_path))
    assert tight["fits: model.onnx"].status == "warn" and tight["fits: model.onnx"].detail.startswith("will not fit")
    assert tight["memory"].status == "warn"
    (deploy / "reference.npz").unlink()
    manifest = json.loads((deploy / "manifest.json").read_text())
    del manifest["parity"]["reference_set"]
    (deploy / "manifest.json").write_text(json.dumps(manifest))
    assert (
        _lines(run_doctor(deploy, host=F.orin_nano(tmp_path / "u"), disk_at=tmp_path))["reference set"].status
        == "missing"
    )
    with pytest.raises(ManifestError, match="no manifest.json"):
        run_doctor(tmp_path / "nothing", host=F.orin_nano(tmp_path / "v"))


def test_this_machine_report_is_complete_and_json(tmp_path):
    report = run_doctor(disk_at=tmp_path)
    names = [c.name for c in report.checks]
    for name in ("OS", "Jetson", "GPU", "CUDA driver", "CUDA runtime", "TensorRT", "CUDA Python binding"):
        assert name in names
    for name in ("ONNX Runtime", "OpenCV", "OpenCV GStreamer", "OpenCV V4L2", "cameras", "disk", "memory"):
        assert name in names
    assert all(c.status in STATUSES for c in report.checks)
    assert all(c.fix for c in report.checks if c.status == "missing")  # every missing line says what to do
    data = json.loads(json.dumps(report.to_dict()))
    assert data["schema_version"] == 1 and sum(data["counts"].values()) == len(names)
    with pytest.raises(ValueError, match="status"):
        Check("x", "maybe", "")
