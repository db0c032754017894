"""``b2v-edge doctor``: what this device has and lacks for b2v-edge, one line each, with the fix.

Lines: OS; Jetson L4T / JetPack; GPU and compute capability; CUDA driver and runtime; TensorRT and
what b2v-edge supports on it (export target, GridSample for the native warp, FP16, INT8,
version-compatible plans — from the TensorRT support table ``trt_ops.json``); CUDA Python bindings;
ONNX Runtime providers; OpenCV (GStreamer, V4L2); cameras; free disk and memory; and, given a
deploy dir, whether each artifact fits this device's memory (:mod:`~b2v_edge.verify.fit`) and
whether parity can run here without PyTorch.

Every status is ``ok``, ``warn`` or ``missing``; nothing here raises for a missing component.
Facts come from :mod:`~b2v_edge.verify.probes` through a :class:`~b2v_edge.verify.probes.Host`
(tests pass a fake one). torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from b2v_edge.common.manifest import Manifest

from . import probes
from .probes import GpuFacts, Host

__all__ = ["STATUSES", "Check", "DoctorReport", "run_doctor"]

SCHEMA_VERSION = 1
STATUSES = ("ok", "warn", "missing")
MIN_FREE_DISK = 2 << 30  # a plan build writes the plan, a timing cache and temporary files
MIN_FREE_MEMORY = 1 << 30
#: The TensorRT target line each JetPack ships (first matching prefix); its release comes from
#: ``TrtVersion.for_line`` and is shown when TensorRT is not importable.
JETPACK_LINES: Tuple[Tuple[str, str], ...] = (
    ("4.6.", "trt8.2"),
    ("4.6", "trt8.0"),
    ("5.1", "trt8.5"),
    ("6.0", "trt8.6"),
    ("6.1", "trt10"),
    ("6.2", "trt10"),
)
JETSON_TRT_FIX = (
    "sudo apt install nvidia-jetpack (TensorRT + python3-libnvinfer); in a venv, create it with "
    "--system-site-packages to see JetPack's tensorrt"
)
DESKTOP_TRT_FIX = "pip install tensorrt-cu12 (from NVIDIA's package index), matching your CUDA major version"


@dataclass
class Check:
    """One line of the doctor's table.

    Attributes:
        name: what was checked (``"TensorRT"``).
        status: ``ok``, ``warn`` or ``missing``.
        detail: what was found.
        fix: how to get or fix it (empty when ok).
        facts: machine-readable values for ``--json``.
    """

    name: str
    status: str
    detail: str
    fix: str = ""
    facts: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass
class DoctorReport:
    """Every check, in table order."""

    checks: List[Check]

    def get(self, name: str) -> Check:
        """The check called ``name`` (KeyError when absent)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def counts(self) -> Dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "counts": self.counts(),
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix, "facts": c.facts}
                for c in self.checks
            ],
        }


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def _ok(check: str, detail: str, **facts: Any) -> Check:
    return Check(check, "ok", detail, "", facts)


# ---- system -------------------------------------------------------------------------------------
def _system(host: Host, l4t: Optional[str], jetpack: Optional[str]) -> List[Check]:
    board = probes.jetson_model(host)
    checks = [_ok("OS", probes.os_release(host))]
    if l4t:
        what = f"L4T {l4t} = JetPack {jetpack}" if jetpack else f"L4T {l4t} (JetPack unknown to this b2v-edge)"
        checks.append(_ok("Jetson", f"{board or 'Jetson'}, {what}", l4t=l4t, jetpack=jetpack, board=board))
    else:
        checks.append(
            Check(
                "Jetson", "missing", "not a Jetson (no /etc/nv_tegra_release)", "only for Jetson boards: flash JetPack"
            )
        )
    return checks


def _gpu(found: Optional[GpuFacts]) -> Check:
    if found is None:
        return Check(
            "GPU",
            "missing",
            "no CUDA GPU found",
            "NVIDIA driver (desktop) or JetPack (Jetson); ONNX Runtime on the CPU works without one",
        )
    memory = f", {found.memory_mib} MiB" if found.memory_mib else ""
    return _ok(
        "GPU",
        f"{found.name}, compute capability {found.compute_capability}{memory} (via {found.source})",
        name=found.name,
        compute_capability=found.compute_capability,
        memory_mib=found.memory_mib,
    )


def _cuda(host: Host, jetson: bool) -> List[Check]:
    driver, runtime = probes.cuda_driver_version(host), probes.cuda_runtime_version(host)
    fix = "part of JetPack" if jetson else "install the NVIDIA driver"
    checks = [
        _ok("CUDA driver", f"supports CUDA {driver}", version=driver)
        if driver
        else Check("CUDA driver", "missing", "libcuda not found", fix)
    ]
    runtime_fix = "part of JetPack (sudo apt install nvidia-jetpack)" if jetson else "install the CUDA toolkit/runtime"
    checks.append(
        _ok("CUDA runtime", f"CUDA {runtime}", version=runtime)
        if runtime
        else Check("CUDA runtime", "missing", "libcudart not found", runtime_fix)
    )
    return checks


# ---- TensorRT and what b2v-edge supports on it --------------------------------------------------
def _jetpack_tensorrt(jetpack: Optional[str]) -> Optional[str]:
    """The TensorRT release ``jetpack`` ships (``"6.2"`` -> ``"10.3.0"``), None when unknown."""
    from b2v_edge.common.trt_version import TrtVersion

    for prefix, line in JETPACK_LINES:
        if jetpack and jetpack.startswith(prefix):
            return str(TrtVersion.for_line(line))
    return None


def _tensorrt(host: Host, jetpack: Optional[str], jetson: bool) -> Tuple[Check, Optional[str]]:
    version, importable = probes.tensorrt_version(host)
    fix = JETSON_TRT_FIX if jetson else DESKTOP_TRT_FIX
    if version and importable:
        return _ok("TensorRT", f"{version} (import tensorrt works)", version=version), version
    if version:
        warn = Check("TensorRT", "warn", f"{version} installed but `import tensorrt` fails", fix, {"version": version})
        return warn, version
    expected = _jetpack_tensorrt(jetpack)
    detail = "not installed" + (f" (JetPack {jetpack} ships TensorRT {expected})" if expected else "")
    return Check("TensorRT", "missing", detail, fix), expected


def _fast_fp16(sm: Tuple[int, int]) -> bool:
    return sm in ((5, 3), (6, 0), (6, 2)) or sm >= (7, 0)


def _fast_int8(sm: Tuple[int, int]) -> bool:
    return sm == (6, 1) or sm >= (7, 0)


def _gridsample(version: Any) -> Check:
    from b2v_edge.common.trt_version import TrtVersion
    from b2v_edge.export.targets import load_table

    rule = load_table()["op_rules"]["GridSample"]
    if version < TrtVersion.parse(rule["since"]):
        return Check(
            "GridSample", "missing", f"TensorRT {version} has no GridSample", f"export with {rule['fix_before']}"
        )
    slow = [TrtVersion.parse(v) for v in rule.get("slow_versions", [])]
    if any((version.major, version.minor) == (v.major, v.minor) for v in slow):
        return Check(
            "GridSample",
            "warn",
            f"supported, but slow on TensorRT {version}",
            "prefer --warp gather, or TensorRT >= 10.3",
        )
    return _ok("GridSample", "supported: --warp native or gather")


def _compatibility(version: Any, found: Optional[GpuFacts]) -> List[Check]:
    from b2v_edge.common.trt_version import hardware_compatible_gpu

    if not version.compatibility_modes:
        fix = "rebuild plans after every TensorRT upgrade"
        return [Check("version-compatible plans", "missing", f"TensorRT {version} < 8.6", fix)]
    checks = [_ok("version-compatible plans", "build-engine --version-compatible (loads in later TensorRT releases)")]
    if found is not None and hardware_compatible_gpu(found.compute_capability):
        checks.append(_ok("hardware-compatible plans", "build-engine --hardware-compatibility ampere+"))
    else:
        why = "needs an Ampere+ discrete GPU (not Jetson)"
        checks.append(Check("hardware-compatible plans", "missing", why, "build the plan on each GPU model"))
    return checks


def _support(trt_version: Optional[str], found: Optional[GpuFacts]) -> List[Check]:
    """What b2v-edge supports with this TensorRT (``TrtVersion``, ``trt_ops.json``) and this GPU."""
    from b2v_edge.common.trt_version import TrtVersion, TrtVersionError
    from b2v_edge.export.targets import target_info

    if not trt_version:
        return [Check("TensorRT target", "missing", "unknown without TensorRT", "install TensorRT (line above)")]
    try:
        version = TrtVersion.parse(trt_version)
        target = version.line
    except TrtVersionError as exc:
        return [Check("TensorRT target", "missing", str(exc), "b2v-edge needs TensorRT >= 8.0")]
    info = target_info(target)
    line = _ok("TensorRT target", f"{target} ({info['devices']}): b2v-edge export --target {target}", target=target)
    return [line, _gridsample(version), *_precisions(info, target, found), *_compatibility(version, found)]


def _precisions(info: Dict[str, Any], target: str, found: Optional[GpuFacts]) -> List[Check]:
    if found is None:
        gpu_fix = "needs a CUDA GPU (line GPU)"
        return [Check("FP16", "missing", "unknown GPU", gpu_fix), Check("INT8", "missing", "unknown GPU", gpu_fix)]
    sm, cc = found.sm, found.compute_capability
    fp16 = (
        _ok("FP16", f"fast FP16 on compute capability {cc}: --precision fp16")
        if _fast_fp16(sm)
        else Check("FP16", "warn", f"compute capability {cc} has no fast FP16", "use --precision fp32")
    )
    if not info.get("int8"):
        int8 = Check(
            "INT8", "missing", f"not for {target}: {info.get('int8_reason', '')}".strip(), "use --precision fp16"
        )
    elif not _fast_int8(sm):
        int8 = Check("INT8", "missing", f"compute capability {cc} has no fast INT8", "use --precision fp16")
    else:
        int8 = _ok("INT8", f"compute capability {cc}: b2v-edge calibrate, then build-engine --precision int8")
    return [fp16, int8]


# ---- Python packages ----------------------------------------------------------------------------
def _packages(host: Host, jetson: bool) -> List[Check]:
    bindings = probes.python_bindings(host)
    checks = [
        _ok("CUDA Python binding", ", ".join(f"{k} {v}" for k, v in bindings.items()), **bindings)
        if bindings
        else Check(
            "CUDA Python binding",
            "missing",
            "neither cuda-python nor pycuda",
            "pip install cuda-python (same major as CUDA), or pycuda: TensorRT plans need one to run",
        )
    ]
    version, providers = probes.onnxruntime_providers(host)
    gpu_eps = [p for p in providers if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")]
    if version is None:
        checks.append(Check("ONNX Runtime", "missing", "not installed", "pip install onnxruntime"))
    elif gpu_eps:
        checks.append(_ok("ONNX Runtime", f"{version}: {', '.join(providers)}", version=version, providers=providers))
    else:
        fix = (
            "for the GPU: the onnxruntime-gpu wheel for JetPack (Jetson AI Lab)"
            if jetson
            else "for the GPU: pip install onnxruntime-gpu"
        )
        checks.append(
            Check(
                "ONNX Runtime",
                "warn",
                f"{version}: {', '.join(providers)} (CPU only)",
                fix,
                {"version": version, "providers": providers},
            )
        )
    return checks + _opencv(host, jetson)


def _opencv(host: Host, jetson: bool) -> List[Check]:
    cv = probes.opencv(host)
    if cv is None:
        return [Check("OpenCV", "missing", "cv2 does not import", "pip install opencv-python-headless")]
    gst_fix = (
        "csi:// and rtsp:// need it: use JetPack's OpenCV (pip uninstall opencv-python-headless; "
        "sudo apt install python3-opencv)"
        if jetson
        else "only for csi:// and rtsp://: an OpenCV built with GStreamer (pip wheels are not)"
    )
    return [
        _ok("OpenCV", f"{cv.version} (FFmpeg {'yes' if cv.ffmpeg else 'no'})", version=cv.version),
        _ok("OpenCV GStreamer", "yes: csi:// and rtsp:// pipelines work")
        if cv.gstreamer
        else Check("OpenCV GStreamer", "missing", "this OpenCV has no GStreamer", gst_fix),
        _ok("OpenCV V4L2", "yes: /dev/videoN cameras")
        if cv.v4l2
        else Check("OpenCV V4L2", "missing", "this OpenCV has no V4L2", "an OpenCV built with V4L2 (pip wheels are)"),
    ]


# ---- devices ------------------------------------------------------------------------------------
def _devices(host: Host, disk_at: Path) -> List[Check]:
    cams = probes.cameras(host)
    checks = [
        _ok(
            "cameras",
            ", ".join(f"{c.device} ({c.name})" if c.name else c.device for c in cams),
            devices=[c.device for c in cams],
        )
        if cams
        else Check(
            "cameras",
            "missing",
            "no /dev/video* device",
            "plug in a USB/CSI camera, or run --source FILE|DIR|synthetic",
        )
    ]
    free = probes.disk_free(disk_at)
    if free is None:
        checks.append(Check("disk", "warn", f"cannot read free space at {disk_at}", ""))
    else:
        status = "ok" if free >= MIN_FREE_DISK else "warn"
        fix = "" if status == "ok" else f"free at least {_gib(MIN_FREE_DISK)} for plan builds"
        checks.append(Check("disk", status, f"{_gib(free)} free at {disk_at}", fix, {"free_bytes": free}))
    mem = probes.meminfo(host)
    if "MemTotal" not in mem:
        checks.append(Check("memory", "warn", "cannot read /proc/meminfo", ""))
    else:
        avail = mem.get("MemAvailable", mem["MemTotal"])
        status = "ok" if avail >= MIN_FREE_MEMORY else "warn"
        fix = (
            ""
            if status == "ok"
            else "close other programs (on a Jetson: the desktop, sudo systemctl isolate multi-user.target)"
        )
        checks.append(
            Check(
                "memory",
                status,
                f"{_gib(avail)} available of {_gib(mem['MemTotal'])}",
                fix,
                {"available_bytes": avail, "total_bytes": mem["MemTotal"]},
            )
        )
    return checks


# ---- a deploy dir -------------------------------------------------------------------------------
def _budget(host: Host, found: Optional[GpuFacts], jetson: bool) -> Tuple[int, str]:
    mem = probes.meminfo(host)
    if found is not None and found.memory_mib and not jetson:
        return found.memory_mib << 20, f"{found.name} memory"
    return mem.get(
        "MemAvailable", mem.get("MemTotal", 0)
    ), "available memory (shared by CPU and GPU)" if jetson else "available memory"


def _deploy(deploy_dir: Path, host: Host, found: Optional[GpuFacts], jetson: bool) -> List[Check]:
    from .fit import estimate_memory
    from .reference import MANIFEST_KEY

    manifest = Manifest.load(deploy_dir)
    budget, what = _budget(host, found, jetson)
    checks = []
    for art in manifest.artifacts:
        est = estimate_memory(manifest, art)
        need = est.run if art.kind == "tensorrt_plan" else est.build
        verb = "run" if art.kind == "tensorrt_plan" else "build a plan from it"
        shape = "x".join(map(str, est.input_shape))
        detail = f"~{_gib(need)} to {verb} at {shape} ({est.shape_source}); {_gib(budget)} {what}"
        if budget and need > budget:
            fix = "re-export smaller (--height/--width), build with a smaller --max-shape/--workspace, or use fp16"
            checks.append(Check(f"fits: {art.path}", "warn", "will not fit: " + detail, fix, est.to_dict()))
        else:
            checks.append(Check(f"fits: {art.path}", "ok", detail, "", est.to_dict()))
    entry = manifest.parity.get(MANIFEST_KEY)
    if entry:
        checks.append(
            _ok(
                "reference set",
                f"{entry['path']}: {entry['samples']} samples: b2v-edge parity {deploy_dir} runs without PyTorch",
            )
        )
    else:
        checks.append(
            Check(
                "reference set",
                "missing",
                "no reference set: parity needs PyTorch here",
                "re-export it (b2v-edge export writes reference.npz), or pip install 'b2v-edge[export]' to recompute",
            )
        )
    return checks


def run_doctor(
    deploy_dir: Optional[Path] = None, host: Optional[Host] = None, disk_at: Optional[Path] = None
) -> DoctorReport:
    """Check this device (and ``deploy_dir``, when given).

    Args:
        deploy_dir: a deploy dir to size against this device's memory.
        host: where to look (default: this machine; tests pass a fake).
        disk_at: where free disk space matters (default: ``deploy_dir`` or the current folder).

    Raises:
        ManifestError: ``deploy_dir`` has no usable manifest.
    """
    host = host or Host()
    l4t = probes.l4t_release(host)
    jetpack, jetson = probes.jetpack_for_l4t(l4t), l4t is not None
    checks = _system(host, l4t, jetpack)
    found = probes.gpu(host)
    checks += [_gpu(found)] + _cuda(host, jetson)
    trt_check, trt_version = _tensorrt(host, jetpack, jetson)
    checks += [trt_check] + _support(trt_version, found)
    checks += _packages(host, jetson)
    checks += _devices(host, Path(disk_at or deploy_dir or "."))
    if deploy_dir is not None:
        checks += _deploy(Path(deploy_dir), host, found, jetson)
    return DoctorReport(checks)
