"""The doctor's TensorRT lines: which TensorRT is here (or which one JetPack ships) and what b2v-edge
supports with it on this GPU: export target, GridSample for the native warp, FP16, INT8 and
version-/hardware-compatible plans (from ``TrtVersion`` and the support table ``trt_ops.json``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import probes
from .doctor_report import Check, ok_check
from .probes import GpuFacts, Host

__all__ = ["support_checks", "tensorrt_check"]


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


def _jetpack_tensorrt(jetpack: Optional[str]) -> Optional[str]:
    """The TensorRT release ``jetpack`` ships (``"6.2"`` -> ``"10.3.0"``), None when unknown."""
    from b2v_edge.common.trt_version import TrtVersion

    for prefix, line in JETPACK_LINES:
        if jetpack and jetpack.startswith(prefix):
            return str(TrtVersion.for_line(line))
    return None


def tensorrt_check(host: Host, jetpack: Optional[str], jetson: bool) -> Tuple[Check, Optional[str]]:
    version, importable = probes.tensorrt_version(host)
    fix = JETSON_TRT_FIX if jetson else DESKTOP_TRT_FIX
    if version and importable:
        return ok_check("TensorRT", f"{version} (import tensorrt works)", version=version), version
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
    return ok_check("GridSample", "supported: --warp native or gather")


def _compatibility(version: Any, found: Optional[GpuFacts]) -> List[Check]:
    from b2v_edge.common.trt_version import hardware_compatible_gpu

    if not version.compatibility_modes:
        fix = "rebuild plans after every TensorRT upgrade"
        return [Check("version-compatible plans", "missing", f"TensorRT {version} < 8.6", fix)]
    checks = [
        ok_check("version-compatible plans", "build-engine --version-compatible (loads in later TensorRT releases)")
    ]
    if found is not None and hardware_compatible_gpu(found.compute_capability):
        checks.append(ok_check("hardware-compatible plans", "build-engine --hardware-compatibility ampere+"))
    else:
        why = "needs an Ampere+ discrete GPU (not Jetson)"
        checks.append(Check("hardware-compatible plans", "missing", why, "build the plan on each GPU model"))
    return checks


def support_checks(trt_version: Optional[str], found: Optional[GpuFacts]) -> List[Check]:
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
    line = ok_check(
        "TensorRT target", f"{target} ({info['devices']}): b2v-edge export --target {target}", target=target
    )
    return [line, _gridsample(version), *_precisions(info, target, found), *_compatibility(version, found)]


def _precisions(info: Dict[str, Any], target: str, found: Optional[GpuFacts]) -> List[Check]:
    if found is None:
        gpu_fix = "needs a CUDA GPU (line GPU)"
        return [Check("FP16", "missing", "unknown GPU", gpu_fix), Check("INT8", "missing", "unknown GPU", gpu_fix)]
    sm, cc = found.sm, found.compute_capability
    fp16 = (
        ok_check("FP16", f"fast FP16 on compute capability {cc}: --precision fp16")
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
        int8 = ok_check("INT8", f"compute capability {cc}: b2v-edge calibrate, then build-engine --precision int8")
    return [fp16, int8]
