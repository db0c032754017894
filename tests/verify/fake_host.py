"""Fake devices for the doctor / probe tests: a file tree under tmp_path plus stand-in modules.

Only tests use these; the product reads the real machine through ``Host()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Optional

from b2v_edge.verify.probes import Host

GIB = 1 << 30
BUILD_INFO = """
  Video I/O:
    FFMPEG:                      YES
    GStreamer:                   {gst}
    v4l/v4l2:                    YES (linux/videodev2.h)
"""


def write_tree(root: Path, files: Dict[str, str]) -> Path:
    """Create ``files`` (absolute-looking paths -> text) under ``root``."""
    for name, text in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def meminfo(total: int, available: int) -> str:
    return f"MemTotal:       {total // 1024} kB\nMemFree:        1000 kB\nMemAvailable:   {available // 1024} kB\n"


class FakeCudaLib:
    """``libcuda`` / ``libcudart`` with a version getter writing through ``ctypes.byref``."""

    def __init__(self, version: int) -> None:
        self.version = version

    def _write(self, ref: Any) -> int:
        ref._obj.value = self.version
        return 0

    def cuDriverGetVersion(self, ref: Any) -> int:  # noqa: N802 - the C name
        return self._write(ref)

    def cudaRuntimeGetVersion(self, ref: Any) -> int:  # noqa: N802
        return self._write(ref)


def fake_cudart(name: bytes, major: int, minor: int, memory: int) -> SimpleNamespace:
    prop = SimpleNamespace(name=name, major=major, minor=minor, totalGlobalMem=memory)
    return SimpleNamespace(cudaGetDeviceCount=lambda: (0, 1), cudaGetDeviceProperties=lambda i: (0, prop))


def host(
    root: Path,
    modules: Optional[Dict[str, Any]] = None,
    versions: Optional[Dict[str, str]] = None,
    libraries: Optional[Dict[str, Any]] = None,
    commands: Optional[Dict[str, str]] = None,
) -> Host:
    """A Host whose files live under ``root`` and whose modules/versions/libraries/commands are given."""
    modules, versions, libraries, commands = modules or {}, versions or {}, libraries or {}, commands or {}

    def import_module(name: str) -> Any:
        if name not in modules:
            raise ImportError(f"No module named {name!r}")
        return modules[name]

    return Host(
        root=root,
        run=lambda args: commands.get(args[0]),
        import_module=import_module,
        version=versions.get,
        library=libraries.get,
    )


def orin_nano(tmp_path: Path, available: int = 5 * GIB) -> Host:
    """A Jetson Orin Nano on JetPack 6.2 with TensorRT 10.3, cuda-python, GStreamer and a CSI camera."""
    root = write_tree(
        tmp_path / "orin",
        {
            "/etc/nv_tegra_release": "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n",
            "/etc/os-release": 'PRETTY_NAME="Ubuntu 22.04.5 LTS"\n',
            "/proc/device-tree/model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super\x00",
            "/proc/meminfo": meminfo(7 * GIB, available),
            "/sys/class/video4linux/video0/name": "vi-output, imx219 9-0010\n",
            "/dev/video0": "",
            "/usr/local/cuda/version.json": json.dumps({"cuda": {"version": "12.6.68"}}),
        },
    )
    cv2 = SimpleNamespace(__version__="4.8.0", getBuildInformation=lambda: BUILD_INFO.format(gst="YES (1.20.3)"))
    ort = SimpleNamespace(
        __version__="1.20.0",
        get_available_providers=lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    return host(
        root,
        modules={
            "tensorrt": SimpleNamespace(__version__="10.3.0"),
            "cv2": cv2,
            "onnxruntime": ort,
            "cuda.bindings.runtime": fake_cudart(b"Orin", 8, 7, 7 * GIB),
        },
        versions={"cuda-python": "12.6.0"},
        libraries={"cuda": FakeCudaLib(12060)},
    )


def nano(tmp_path: Path) -> Host:
    """A Jetson Nano on JetPack 4.6.4 whose venv cannot see TensorRT, with a pip OpenCV (no GStreamer)."""
    root = write_tree(
        tmp_path / "nano",
        {
            "/etc/nv_tegra_release": "# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref, EABI: aarch64\n",
            "/proc/device-tree/model": "NVIDIA Jetson Nano Developer Kit\x00",
            "/proc/meminfo": meminfo(4 * GIB, 2 * GIB),
            "/usr/local/cuda/version.txt": "CUDA Version 10.2.300\n",
        },
    )
    cv2 = SimpleNamespace(__version__="4.10.0", getBuildInformation=lambda: BUILD_INFO.format(gst="NO"))
    ort = SimpleNamespace(__version__="1.16.0", get_available_providers=lambda: ["CPUExecutionProvider"])
    return host(root, modules={"cv2": cv2, "onnxruntime": ort})
