"""Will a deploy dir fit this device? A memory estimate from the manifest's shapes.

For one artifact, at the largest input it will see (the static shape, a plan's profile maximum, or
the default ``build-engine`` profile maximum for a dynamic ONNX graph)::

    run   = runtime overhead + weights + I/O buffers (host and device copies) + activations
    build = run + builder workspace

* runtime overhead: the CUDA context plus cuBLAS/cuDNN as TensorRT initialises them — about
  630 MiB of host memory in a trtexec log on TensorRT 8.4 (NVIDIA/TensorRT#2217); CUDA lazy loading
  (CUDA >= 11.7, JetPack 5+) lowers it. :data:`RUNTIME_OVERHEAD_MIB`.
* weights: the artifact's file size (the largest artifact when building from ONNX).
* activations: :data:`ACTIVATION_PER_OUTPUT` times the output tensor's bytes in the artifact's
  precision — measured with ONNX Runtime (CPU, memory-pattern reuse on) on the demo ``lite`` model
  (256x256, N=7, fp32): an 85 MiB activation peak for a 5.25 MiB output. Wider presets need more.

On a Jetson CPU and GPU share one memory, so the budget is ``MemAvailable``; with a discrete GPU it
is the GPU's memory. It is an estimate for a warning, not a guarantee.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from b2v_edge.common.manifest import Artifact, Manifest

__all__ = [
    "ACTIVATION_PER_OUTPUT",
    "RUNTIME_OVERHEAD_MIB",
    "MemoryEstimate",
    "estimate_memory",
    "estimates",
    "largest_input_shape",
]

ACTIVATION_PER_OUTPUT = 16
RUNTIME_OVERHEAD_MIB = 600
#: Bytes per activation value: int8 plans keep warps, coordinates and image heads in float.
VALUE_BYTES = {"fp32": 4, "fp16": 2, "int8": 2}
MIB = 1 << 20

Shape = Tuple[int, ...]


@dataclass
class MemoryEstimate:
    """Memory one artifact needs on the device, in bytes."""

    artifact: str
    precision: str
    input_shape: Shape
    shape_source: str
    weights: int
    io: int
    activations: int
    overhead: int
    workspace: int

    @property
    def run(self) -> int:
        """Bytes to run it (overhead + weights + I/O + activations)."""
        return self.overhead + self.weights + self.io + self.activations

    @property
    def build(self) -> int:
        """Bytes to build a plan from it (run + builder workspace)."""
        return self.run + self.workspace

    def to_dict(self) -> Dict[str, Any]:
        out = asdict(self)
        out.update(input_shape=list(self.input_shape), run=self.run, build=self.build)
        return out


def _prod(shape: Sequence[int]) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


def _static(shape: Sequence[Any]) -> Optional[Shape]:
    if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape):
        return tuple(shape)
    return None


def largest_input_shape(manifest: Manifest, art: Artifact) -> Tuple[Shape, str]:
    """``(B, 3, H, W)`` of the largest input ``art`` will take, and where that shape came from."""
    static = _static(list(manifest.input.get("shape") or []))
    if static is not None:
        return static, "static shape"
    profile = art.plan.profile
    if _static(list(profile.get("max") or [])):
        return tuple(profile["max"]), "plan profile max"
    from b2v_edge.export.trt_recipe import BuildOptions, build_shapes

    return tuple(build_shapes(manifest, BuildOptions())["max"]), "default build profile max"


def _workspace(art: Artifact) -> int:
    options = art.plan.build_options
    if "workspace_mib" in options:
        return int(options["workspace_mib"]) * MIB
    from b2v_edge.export.trt_recipe import BuildOptions

    return BuildOptions().workspace_mib * MIB


def estimate_memory(manifest: Manifest, art: Artifact) -> MemoryEstimate:
    """The memory :class:`MemoryEstimate` of one artifact of ``manifest`` (see the module docstring)."""
    shape, source = largest_input_shape(manifest, art)
    frames = int(manifest.model.get("frames") or (manifest.output.get("shape") or [0, 7])[1] or 7)
    out_values = shape[0] * frames * _prod(shape[1:])
    value = VALUE_BYTES.get(art.precision, 4)
    file = manifest.path_of(art)
    weights = file.stat().st_size if file.is_file() else 0
    io = 2 * 4 * (_prod(shape) + out_values)  # float32 I/O, one host and one device copy each
    return MemoryEstimate(
        art.path,
        art.precision,
        shape,
        source,
        weights,
        io,
        ACTIVATION_PER_OUTPUT * out_values * value,
        RUNTIME_OVERHEAD_MIB * MIB,
        0 if art.kind == "tensorrt_plan" else _workspace(art),
    )


def estimates(manifest: Manifest) -> List[MemoryEstimate]:
    """One estimate per artifact, in manifest order."""
    return [estimate_memory(manifest, art) for art in manifest.artifacts]
