"""Facts about this machine: OS, Jetson release, GPU, CUDA, TensorRT, Python bindings, OpenCV, cameras, memory.

Every probe reads through a :class:`Host`: its file-system root, command runner, module importer,
package-version lookup and shared-library loader are replaceable, so tests describe a Jetson with a
fake ``/etc/nv_tegra_release`` or a stand-in ``tensorrt`` module without touching this machine.
A probe never raises for something that is absent: it returns None or an empty result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.metadata
import json
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

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
#: Compute capability of the Jetson GPUs, matched against ``/proc/device-tree/model``.
JETSON_COMPUTE: Tuple[Tuple[str, str], ...] = (
    ("orin", "8.7"),
    ("xavier", "7.2"),
    ("tx2", "6.2"),
    ("tx1", "5.3"),
    ("nano", "5.3"),
)
TENSORRT_DISTS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11", "tensorrt-libs")


def run_command(args: Sequence[str]) -> Optional[str]:
    """stdout of ``args`` (5 s limit), or None when the program is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def dist_version(dist: str) -> Optional[str]:
    """Installed version of the distribution ``dist`` (pip metadata), or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_library(name: str) -> Any:
    """``ctypes.CDLL`` of the shared library ``name`` (e.g. ``"cuda"``), or None."""
    found = ctypes.util.find_library(name)
    candidates = [found] if found else []
    candidates += [f"lib{name}.so", f"lib{name}.so.1"]
    for candidate in candidates:
        try:
            return ctypes.CDLL(candidate)
        except OSError:
            continue
    return None


@dataclass(frozen=True)
class Host:
    """Where the probes look. The defaults are this machine; tests replace any field.

    Attributes:
        root: file-system root for ``/etc``, ``/proc``, ``/sys``, ``/dev`` and ``/usr/local/cuda``.
        run: runs a command, returns its stdout or None.
        import_module: imports a Python module (raises ImportError when absent).
        version: installed version of a pip distribution, or None.
        library: loads a shared library by short name (``"cuda"``, ``"cudart"``), or None.
    """

    root: Path = Path("/")
    run: Callable[[Sequence[str]], Optional[str]] = run_command
    import_module: Callable[[str], Any] = importlib.import_module
    version: Callable[[str], Optional[str]] = dist_version
    library: Callable[[str], Any] = load_library

    def path(self, absolute: str) -> Path:
        """``absolute`` (e.g. ``"/etc/os-release"``) under :attr:`root`."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> Optional[str]:
        """Text of a file under :attr:`root` (NUL bytes dropped), or None."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace").replace("\x00", "")
        except OSError:
            return None

    def module(self, name: str) -> Any:
        """The imported module ``name``, or None when it cannot be imported."""
        try:
            return self.import_module(name)
        except Exception:  # ImportError, or a binding whose native library is missing
            return None


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


def jetson_model(host: Host) -> Optional[str]:
    """The board name from ``/proc/device-tree/model`` when it is a Jetson, else None."""
    model = (host.read("/proc/device-tree/model") or "").strip()
    return model if "jetson" in model.lower() else None


# ---- GPU and CUDA -------------------------------------------------------------------------------
@dataclass
class GpuFacts:
    """The first CUDA GPU: ``name``, ``compute_capability`` (``"8.7"``), ``memory_mib`` (0 = unknown)."""

    name: str
    compute_capability: str
    memory_mib: int = 0
    source: str = ""

    @property
    def sm(self) -> Tuple[int, int]:
        """Compute capability as ``(major, minor)``."""
        major, _, minor = self.compute_capability.partition(".")
        return int(major or 0), int(minor or 0)


def _gpu_cuda_python(host: Host) -> Optional[GpuFacts]:
    cudart = host.module("cuda.bindings.runtime") or host.module("cuda.cudart")
    if cudart is None:
        return None
    try:
        err, count = cudart.cudaGetDeviceCount()
        if int(err) != 0 or count < 1:
            return None
        err, prop = cudart.cudaGetDeviceProperties(0)
        if int(err) != 0:
            return None
        name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
        return GpuFacts(name.strip("\x00 "), f"{prop.major}.{prop.minor}", prop.totalGlobalMem >> 20, "cuda-python")
    except Exception:  # a binding that does not match the driver: report nothing rather than fail
        return None


def _gpu_pycuda(host: Host) -> Optional[GpuFacts]:
    drv = host.module("pycuda.driver")
    if drv is None:
        return None
    try:
        drv.init()
        dev = drv.Device(0)
        major, minor = dev.compute_capability()
        return GpuFacts(dev.name(), f"{major}.{minor}", dev.total_memory() >> 20, "pycuda")
    except Exception:  # no device / driver mismatch
        return None


def _gpu_nvidia_smi(host: Host) -> Optional[GpuFacts]:
    out = host.run(["nvidia-smi", "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader,nounits"])
    if not out or not out.strip():
        return None
    parts = [p.strip() for p in out.strip().splitlines()[0].split(",")]
    if len(parts) < 3:
        return None
    memory = int(parts[2]) if parts[2].isdigit() else 0
    return GpuFacts(parts[0], parts[1], memory, "nvidia-smi")


def _gpu_jetson(host: Host) -> Optional[GpuFacts]:
    model = jetson_model(host)
    if model is None:
        return None
    for key, cc in JETSON_COMPUTE:
        if key in model.lower():
            return GpuFacts(f"{model} (integrated)", cc, 0, "device tree")
    return None


def gpu(host: Host) -> Optional[GpuFacts]:
    """The first CUDA GPU, asked of cuda-python, pycuda, ``nvidia-smi``, then the Jetson board name."""
    for probe in (_gpu_cuda_python, _gpu_pycuda, _gpu_nvidia_smi, _gpu_jetson):
        found = probe(host)
        if found is not None:
            return found
    return None


def _cuda_version(value: int) -> str:
    return f"{value // 1000}.{value % 1000 // 10}"


def cuda_driver_version(host: Host) -> Optional[str]:
    """Highest CUDA version the installed driver supports (``cuDriverGetVersion``), e.g. ``"12.6"``."""
    lib = host.library("cuda")
    if lib is None:
        return None
    out = ctypes.c_int(0)
    try:
        ok = lib.cuDriverGetVersion(ctypes.byref(out)) == 0
    except (AttributeError, OSError):
        return None
    return _cuda_version(out.value) if ok and out.value else None


def cuda_runtime_version(host: Host) -> Optional[str]:
    """CUDA toolkit/runtime version: ``libcudart`` (``cudaRuntimeGetVersion``), else ``/usr/local/cuda``."""
    lib = host.library("cudart")
    if lib is not None:
        out = ctypes.c_int(0)
        try:
            if lib.cudaRuntimeGetVersion(ctypes.byref(out)) == 0 and out.value:
                return _cuda_version(out.value)
        except (AttributeError, OSError):
            pass
    text = host.read("/usr/local/cuda/version.json")
    if text:
        try:
            return str(json.loads(text)["cuda"]["version"])
        except (ValueError, KeyError, TypeError):
            pass
    match = re.search(r"CUDA Version\s+([\d.]+)", host.read("/usr/local/cuda/version.txt") or "")
    return match.group(1) if match else None


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
