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

from pathlib import Path
from typing import List, Optional, Tuple

from b2v_edge.common.manifest import Manifest

from . import probes
from .doctor_report import STATUSES, Check, DoctorReport, gib, ok_check
from .doctor_trt import support_checks, tensorrt_check
from .probes import GpuFacts, Host

__all__ = ["STATUSES", "Check", "DoctorReport", "run_doctor"]

MIN_FREE_DISK = 2 << 30  # a plan build writes the plan, a timing cache and temporary files
MIN_FREE_MEMORY = 1 << 30


# ---- system -------------------------------------------------------------------------------------
def _system(host: Host, l4t: Optional[str], jetpack: Optional[str]) -> List[Check]:
    board = probes.jetson_model(host)
    checks = [ok_check("OS", probes.os_release(host))]
    if l4t:
        what = f"L4T {l4t} = JetPack {jetpack}" if jetpack else f"L4T {l4t} (JetPack unknown to this b2v-edge)"
        checks.append(ok_check("Jetson", f"{board or 'Jetson'}, {what}", l4t=l4t, jetpack=jetpack, board=board))
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
    return ok_check(
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
        ok_check("CUDA driver", f"supports CUDA {driver}", version=driver)
        if driver
        else Check("CUDA driver", "missing", "libcuda not found", fix)
    ]
    runtime_fix = "part of JetPack (sudo apt install nvidia-jetpack)" if jetson else "install the CUDA toolkit/runtime"
    checks.append(
        ok_check("CUDA runtime", f"CUDA {runtime}", version=runtime)
        if runtime
        else Check("CUDA runtime", "missing", "libcudart not found", runtime_fix)
    )
    return checks


# ---- Python packages ----------------------------------------------------------------------------
def _packages(host: Host, jetson: bool) -> List[Check]:
    bindings = probes.python_bindings(host)
    checks = [
        ok_check("CUDA Python binding", ", ".join(f"{k} {v}" for k, v in bindings.items()), **bindings)
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
        checks.append(
            ok_check("ONNX Runtime", f"{version}: {', '.join(providers)}", version=version, providers=providers)
        )
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
        ok_check("OpenCV", f"{cv.version} (FFmpeg {'yes' if cv.ffmpeg else 'no'})", version=cv.version),
        ok_check("OpenCV GStreamer", "yes: csi:// and rtsp:// pipelines work")
        if cv.gstreamer
        else Check("OpenCV GStreamer", "missing", "this OpenCV has no GStreamer", gst_fix),
        ok_check("OpenCV V4L2", "yes: /dev/videoN cameras")
        if cv.v4l2
        else Check("OpenCV V4L2", "missing", "this OpenCV has no V4L2", "an OpenCV built with V4L2 (pip wheels are)"),
    ]


# ---- devices ------------------------------------------------------------------------------------
def _devices(host: Host, disk_at: Path) -> List[Check]:
    cams = probes.cameras(host)
    checks = [
        ok_check(
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
        fix = "" if status == "ok" else f"free at least {gib(MIN_FREE_DISK)} for plan builds"
        checks.append(Check("disk", status, f"{gib(free)} free at {disk_at}", fix, {"free_bytes": free}))
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
                f"{gib(avail)} available of {gib(mem['MemTotal'])}",
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
        detail = f"~{gib(need)} to {verb} at {shape} ({est.shape_source}); {gib(budget)} {what}"
        if budget and need > budget:
            fix = "re-export smaller (--height/--width), build with a smaller --max-shape/--workspace, or use fp16"
            checks.append(Check(f"fits: {art.path}", "warn", "will not fit: " + detail, fix, est.to_dict()))
        else:
            checks.append(Check(f"fits: {art.path}", "ok", detail, "", est.to_dict()))
    entry = manifest.parity.get(MANIFEST_KEY)
    if entry:
        checks.append(
            ok_check(
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
    trt_check, trt_version = tensorrt_check(host, jetpack, jetson)
    checks += [trt_check] + support_checks(trt_version, found)
    checks += _packages(host, jetson)
    checks += _devices(host, Path(disk_at or deploy_dir or "."))
    if deploy_dir is not None:
        checks += _deploy(Path(deploy_dir), host, found, jetson)
    return DoctorReport(checks)
