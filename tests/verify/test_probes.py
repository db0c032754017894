"""b2v_edge/verify/probes.py: each probe against fake device files and stand-in modules."""

from __future__ import annotations

from types import SimpleNamespace

import fake_host as F  # tests/verify is on sys.path (pytest rootdir-relative import)
import pytest

from b2v_edge.verify import probes
from b2v_edge.verify.probes import Host


@pytest.mark.parametrize(
    "l4t,jetpack",
    [("32.7.4", "4.6.4"), ("32.6.1", "4.6"), ("35.4.1", "5.1.2"), ("36.4.3", "6.2"), ("36.4.0", "6.1"), ("99.1", None)],
)
def test_jetpack_for_l4t(l4t, jetpack):
    assert probes.jetpack_for_l4t(l4t) == jetpack


def test_jetson_files(tmp_path):
    orin = F.orin_nano(tmp_path)
    assert probes.l4t_release(orin) == "36.4.3" and probes.jetson_model(orin).startswith("NVIDIA Jetson Orin Nano")
    assert probes.os_release(orin).startswith("Ubuntu 22.04.5 LTS, kernel ")
    assert probes.cuda_runtime_version(orin) == "12.6.68" and probes.cuda_driver_version(orin) == "12.6"
    assert probes.cuda_runtime_version(F.nano(tmp_path)) == "10.2.300"
    assert [(c.device, c.name) for c in probes.cameras(orin)] == [("/dev/video0", "vi-output, imx219 9-0010")]
    assert probes.meminfo(orin) == {"MemTotal": 7 * F.GIB, "MemFree": 1000 * 1024, "MemAvailable": 5 * F.GIB}


def test_l4t_from_dpkg_when_the_release_file_is_missing(tmp_path):
    fake = F.host(tmp_path, commands={"dpkg-query": "35.4.1-20230801124926"})
    assert probes.l4t_release(fake) == "35.4.1"
    assert probes.l4t_release(F.host(tmp_path)) is None and probes.jetson_model(F.host(tmp_path)) is None


def test_gpu_sources_in_order(tmp_path):
    found = probes.gpu(F.orin_nano(tmp_path))
    assert (found.name, found.compute_capability, found.sm, found.source) == ("Orin", "8.7", (8, 7), "cuda-python")
    nano = probes.gpu(F.nano(tmp_path))  # no binding: the board name gives the compute capability
    assert nano.compute_capability == "5.3" and nano.source == "device tree"
    smi = F.host(tmp_path, commands={"nvidia-smi": "NVIDIA GeForce RTX 3060, 8.6, 12288\n"})
    assert probes.gpu(smi).compute_capability == "8.6" and probes.gpu(smi).memory_mib == 12288
    pycuda = SimpleNamespace(
        init=lambda: None,
        Device=lambda i: SimpleNamespace(
            name=lambda: "GTX", compute_capability=lambda: (6, 1), total_memory=lambda: 1 << 30
        ),
    )
    assert probes.gpu(F.host(tmp_path, modules={"pycuda.driver": pycuda})).compute_capability == "6.1"
    assert probes.gpu(F.host(tmp_path)) is None


def test_packages(tmp_path):
    orin = F.orin_nano(tmp_path)
    assert probes.tensorrt_version(orin) == ("10.3.0", True)
    assert probes.tensorrt_version(F.host(tmp_path, versions={"tensorrt-cu12": "10.8.0"})) == ("10.8.0", False)
    assert probes.tensorrt_version(F.host(tmp_path)) == (None, False)
    assert probes.python_bindings(orin) == {"cuda-python": "12.6.0"}
    assert probes.onnxruntime_providers(orin)[1][0] == "TensorrtExecutionProvider"
    cv = probes.opencv(orin)
    assert (cv.version, cv.gstreamer, cv.v4l2, cv.ffmpeg) == ("4.8.0", True, True, True)
    assert probes.opencv(F.nano(tmp_path)).gstreamer is False and probes.opencv(F.host(tmp_path)) is None


def test_this_machine_never_raises(tmp_path):
    here = Host()
    found = [probes.gpu(here), probes.cuda_driver_version(here), probes.cuda_runtime_version(here)]
    assert all(f is None or f for f in found) and isinstance(probes.cameras(here), list)
    assert probes.disk_free(tmp_path / "not" / "made") > 0  # the nearest existing parent
    assert probes.meminfo(here)["MemTotal"] > 0 and probes.cpu_name(here)
