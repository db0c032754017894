"""Which artifact of a deploy dir to run, and whether a TensorRT plan fits this device.

Pure functions over the manifest (no ONNX Runtime, no TensorRT): :func:`precision_order`,
:func:`select_artifact`, :func:`check_plan_compat` (TensorRT version rules from
:class:`~b2v_edge.common.trt_version.TrtVersion`), :func:`openvino_preferred`.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from b2v_edge.common.manifest import Artifact, Manifest, ManifestError
from b2v_edge.common.records import PlanRecord
from b2v_edge.common.trt_version import TrtVersion
from b2v_edge.common.vocab import ENGINE_PRECISIONS

#: Engine precision → the artifact precision whose graph it runs (``bf16`` → the fp32 graph).
GRAPH_OF: Dict[str, str] = {p.name: p.graph for p in ENGINE_PRECISIONS.values()}

#: Recorded comparison behind ``auto``'s choice on x86 CPUs: median latency of the fp32 graph on
#: OpenVINO (f32) divided by ONNX Runtime's (CPU provider) on the same graph, per warp mode, for the
#: shipped lite N=7 model (frame-batched decoders) at 256x256 with two threads, from
#: ``bench/raw/latency-2t.json`` (``bench/latency.py``: interleaved rounds, medians; the run's load
#: average is in that file and in ``bench/results.md``). ``auto`` picks OpenVINO where the ratio is
#: below 1: the native graph (OpenVINO's GridSample is fast, ONNX Runtime's is not); the gather
#: graph stays on ONNX Runtime. Re-measure with ``bench/make_all.sh`` when the graph changes.
OPENVINO_OVER_ORT: Dict[str, float] = {"native": 0.56, "gather": 1.66}

_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}


def precision_order(backend: str, gpu: bool) -> Tuple[str, ...]:
    """Preference order of precisions ("best available") for a backend.

    TensorRT and GPU execution providers prefer fp16 (fast, accurate for this model), then int8,
    then fp32. ONNX Runtime on CPU prefers fp32: CPUs without fp16 arithmetic emulate fp16 graphs,
    and the int8 Q/DQ graph is not faster than fp32 for a network this thin (``bench/`` measures it).

    Args:
        backend: ``tensorrt`` or ``onnxruntime``.
        gpu: an ONNX Runtime GPU execution provider is in use.

    Returns:
        The precisions, most preferred first.
    """
    if backend == "tensorrt" or gpu:
        return ("fp16", "int8", "fp32")
    return ("fp32", "int8", "fp16")


def openvino_preferred(warp: str, installed: bool, machine: str = "") -> bool:
    """Whether ``auto`` runs the fp32 graph with OpenVINO instead of ONNX Runtime on this CPU.

    True on an x86 CPU with OpenVINO installed when the recorded comparison
    :data:`OPENVINO_OVER_ORT` for the graph's warp mode is below 1. No timing at run time.

    Args:
        warp: the fp32 artifact's warp mode (``native`` / ``gather``).
        installed: whether ``openvino`` is importable.
        machine: ``platform.machine()`` (empty = this machine's).
    """
    arch = (machine or platform.machine()).lower()
    return installed and arch in _X86 and OPENVINO_OVER_ORT.get(warp, 1.0) < 1.0


def select_artifact(
    manifest: Manifest, kind: str, precision: Optional[str], order: Sequence[str], cpu: bool = False
) -> Artifact:
    """The artifact of ``kind`` for ``precision`` (or the first available in ``order``).

    A deploy dir can hold two graphs of one precision: ``b2v-edge calibrate`` writes the TensorRT
    INT8 graph (``model.int8.onnx``, symmetric S8S8) and, with ``--target onnxruntime``, a CPU one
    (``model.int8.cpu.onnx``, U8S8, manifest target ``onnxruntime``). ``cpu`` picks the CPU one when
    both exist, otherwise the device one; with a single candidate it is used either way.

    Args:
        manifest: the deploy dir's manifest.
        kind: artifact kind (``onnx`` or ``tensorrt_plan``).
        precision: the precision asked for; None = the first available in ``order``.
        order: preference order (:func:`precision_order`).
        cpu: prefer the CPU variant of a precision that has two.

    Returns:
        The manifest entry.

    Raises:
        ManifestError: nothing of ``kind`` / ``precision``; the message lists what exists and how to
            produce the missing artifact.
    """
    for p in [precision] if precision is not None else order:
        found = manifest.find(kind, p)
        if found:
            return _prefer(found, cpu)
    return manifest.get(kind, precision or order[0])  # raises with what exists and how to make it


def _prefer(found: Sequence[Artifact], cpu: bool) -> Artifact:
    matching = [a for a in found if (a.target == "onnxruntime") == cpu]
    return (matching or list(found))[-1]


def check_plan_compat(
    artifact: Artifact, deploy_dir: Path, trt_version: str, compute_capability: str, gpu_name: str = ""
) -> Optional[str]:
    """Refuse a plan built for another TensorRT version or GPU.

    A plan loads only in the TensorRT release that built it; a version-compatible one (8.6+) also
    in later releases, never in older ones. A plan loads only on the compute capability it was
    built for; a hardware-compatible (``ampere+``) one on any sm >= 8.0.

    Args:
        artifact: the plan's manifest entry (``extra`` holds ``tensorrt_version``,
            ``compute_capability``, ``gpu`` and optionally ``build_options``).
        deploy_dir: shown in the rebuild command.
        trt_version: this machine's ``tensorrt.__version__``.
        compute_capability: this GPU's ``"major.minor"``.
        gpu_name: this GPU's name (a different name with the same compute capability only warns).

    Returns:
        A one-line warning to show, or None.

    Raises:
        ManifestError: version or compute capability mismatch, with the rebuild command.
    """
    plan = artifact.plan
    rebuild = f"b2v-edge build-engine {deploy_dir} --precision {artifact.precision}"
    built_trt = plan.tensorrt_version
    if not built_trt:
        return f"{artifact.path} does not record its TensorRT version; if loading fails run `{rebuild}`"
    here = TrtVersion.parse(trt_version)
    if not here.can_load_plan_from(TrtVersion.parse(built_trt), plan.version_compatible):
        kind = (
            "version-compatible plans load only in the same or a newer TensorRT"
            if plan.version_compatible
            else ("plans are not portable across TensorRT versions")
        )
        raise ManifestError(
            f"{artifact.path} was built with TensorRT {built_trt}, this device has {trt_version}: {kind}; run `{rebuild}`"
        )
    _check_gpu(artifact, plan, compute_capability, gpu_name, rebuild)
    if plan.gpu and gpu_name and plan.gpu != gpu_name:
        return f"{artifact.path} was built on {plan.gpu}, running on {gpu_name} (same sm): may be slower"
    return None


def _check_gpu(artifact: Artifact, plan: PlanRecord, compute_capability: str, gpu_name: str, rebuild: str) -> None:
    built_cc = plan.compute_capability
    hw_compat = plan.hardware_compatible
    here = f"{gpu_name or '?'} (sm {compute_capability})"
    if hw_compat and _sm(compute_capability) < (8, 0):
        raise ManifestError(
            f"{artifact.path} is an ampere+ plan: it needs sm >= 8.0, this device is {here}; run `{rebuild}`"
        )
    if built_cc and not hw_compat and built_cc != compute_capability:
        raise ManifestError(
            f"{artifact.path} was built for GPU {plan.gpu or '?'} (sm {built_cc}), this device is {here}; run `{rebuild}`"
        )


def _sm(compute_capability: str) -> Tuple[int, int]:
    try:
        major, minor = (int(p) for p in str(compute_capability).split(".")[:2])
    except ValueError:
        return (0, 0)
    return major, minor
