"""Facts about this machine: OS, Jetson release, GPU, CUDA, TensorRT, Python bindings, OpenCV, cameras, memory.

GPU and CUDA probes live in :mod:`~b2v_edge.verify.probes_gpu`, the :class:`Host` in
:mod:`~b2v_edge.verify.host`; both are re-exported here. Every probe reads through a :class:`Host`: its file-system root, command runner, module importer,
package-version lookup and shared-library loader are replaceable, so tests describe a Jetson with a
fake ``/etc/nv_tegra_release`` or a stand-in ``tensorrt`` module without touching this machine.
A probe never raises for something that is absent: it returns None or an empty result.
"""

from __future__ import annotations

import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .host import Host, dist_version
from .probes_gpu import GpuFacts, cuda_driver_version, cuda_runtime_version, gpu, jetson_model

__all__ = [
    "Camera",
    "GpuFacts",
    "Host",
    "OpenCVFacts",
    "cameras",
    "cpu_name",
    "cuda_driver_version",
    "cuda_runtime_version",
    "disk_free",
    "dist_version",
    "gpu",
    "jetpack_for_l4t",
    "jetson_model",
    "l4t_release",
    "meminfo",
    "onnxruntime_providers",
    "opencv",
    "os_release",
    "python_bindings",
    "tensorrt_version",
]

#: JetPack release of each L4T (Jetson Linux) release: the first matching prefix wins. From NVIDIA's
#: JetPack archive / Jetson Linux release notes.
L4T_TO_JETPACK: Tuple[Tuple[str, str], ...] = (
    ("32.6.1", "4.6"),
    ("32.7.1", "4.6.1"),
    ("32.7.2", "4.6.2"),
    ("32.7.3", "4.6.3"),
    ("32.7.4", "4.6.4"),
    ("32.7.5", "4.6.5"),
    ("32.7.6", "4.6.6"),
    ("35.1", "5.0.2"),
    ("35.2.1", "5.1"),
    ("35.3.1", "5.1.1"),
    ("35.4.1", "5.1.2"),
    ("35.5", "5.1.3"),
    ("35.6", "5.1.4"),
    ("36.2", "6.0 DP"),
    ("36.3", "6.0"),
    ("36.4.3", "6.2"),
    ("36.4.4", "6.2.1"),
    ("36.4", "6.1"),
    ("38.2", "7.0"),
)
TENSORRT_DISTS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11", "tensorrt-libs")


# ---- operating system and Jetson ----------------------------------------------------------------
def os_release(host: Host) -> str:
    """``PRETTY_NAME`` of ``/etc/os-release`` (else the platform string), kernel and architecture."""
    text = host.read("/etc/os-release") or ""
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.MULTILINE)
    name = match.group(1) if match else platform.system()
    return f"{name}, kernel {platform.release()}, {platform.machine()}, Python {platform.python_version()}"


def l4t_release(host: Host) -> Optional[str]:
    """Jetson Linux (L4T) release, e.g. ``"35.4.1"``, from ``/etc/nv_tegra_release``; None elsewhere.

    The file reads ``# R35 (release), REVISION: 4.1, GCID: ...``.
    """
    text = host.read("/etc/nv_tegra_release")
    if text:
        match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
        if match:
            return f"{match.group(1)}.{match.group(2)}"
    out = host.run(["dpkg-query", "-W", "-f=${Version}", "nvidia-l4t-core"])
    match = re.match(r"(\d+\.\d+(?:\.\d+)?)", out or "")
    return match.group(1) if match else None


def jetpack_for_l4t(l4t: Optional[str]) -> Optional[str]:
    """The JetPack release that ships ``l4t`` (``"35.4.1"`` -> ``"5.1.2"``), None when unknown."""
    if not l4t:
        return None
    for prefix, jetpack in L4T_TO_JETPACK:
        if l4t == prefix or l4t.startswith(prefix + "."):
            return jetpack
    return None


# ---- Python packages ----------------------------------------------------------------------------
def tensorrt_version(host: Host) -> Tuple[Optional[str], bool]:
    """``(version, importable)``: the imported module's ``__version__``, else the pip metadata."""
    trt = host.module("tensorrt")
    if trt is not None and getattr(trt, "__version__", None):
        return str(trt.__version__), True
    for dist in TENSORRT_DISTS:
        version = host.version(dist)
        if version:
            return version, False
    return None, False


def python_bindings(host: Host) -> Dict[str, str]:
    """Installed CUDA bindings that can run TensorRT plans: ``{"cuda-python": "12.6.0", "pycuda": ...}``."""
    found = {}
    for dist in ("cuda-python", "cuda-bindings", "pycuda"):
        version = host.version(dist)
        if version:
            found[dist] = version
    return found


def onnxruntime_providers(host: Host) -> Tuple[Optional[str], List[str]]:
    """``(version, available execution providers)`` of ONNX Runtime (``(None, [])`` when absent)."""
    ort = host.module("onnxruntime")
    if ort is None:
        return None, []
    return str(getattr(ort, "__version__", "?")), list(ort.get_available_providers())


@dataclass
class OpenCVFacts:
    """OpenCV version and the video back-ends it was built with."""

    version: str
    gstreamer: bool
    v4l2: bool
    ffmpeg: bool


def _build_flag(info: str, name: str) -> bool:
    for line in info.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key.strip().lower() == name.lower():
            return value.strip().upper().startswith("YES")
    return False


def opencv(host: Host) -> Optional[OpenCVFacts]:
    """OpenCV's version and whether it has GStreamer (CSI/RTSP pipelines), V4L2 and FFmpeg."""
    cv2 = host.module("cv2")
    if cv2 is None:
        return None
    info = cv2.getBuildInformation()
    return OpenCVFacts(
        str(cv2.__version__), _build_flag(info, "GStreamer"), _build_flag(info, "v4l/v4l2"), _build_flag(info, "FFMPEG")
    )


# ---- devices, disk, memory ----------------------------------------------------------------------
@dataclass
class Camera:
    """A V4L2 device node and the name the driver gives it."""

    device: str
    name: str = ""


def cameras(host: Host) -> List[Camera]:
    """``/dev/video*`` nodes (numeric order) with their ``/sys/class/video4linux`` names."""
    found = []
    for node in host.path("/dev").glob("video*"):
        suffix = node.name[len("video") :]
        if not suffix.isdigit():
            continue
        name = (host.read(f"/sys/class/video4linux/{node.name}/name") or "").strip()
        found.append((int(suffix), Camera(f"/dev/{node.name}", name)))
    return [cam for _, cam in sorted(found, key=lambda t: t[0])]


def disk_free(path: Path) -> Optional[int]:
    """Free bytes on the file system holding ``path`` (its nearest existing parent), or None."""
    probe = Path(path).resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def meminfo(host: Host) -> Dict[str, int]:
    """``MemTotal``, ``MemAvailable`` ... of ``/proc/meminfo`` in bytes (empty when unreadable)."""
    out: Dict[str, int] = {}
    for line in (host.read("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    return out


def cpu_name(host: Host) -> str:
    """The CPU model (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    for line in (host.read("/proc/cpuinfo") or "").splitlines():
        if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
