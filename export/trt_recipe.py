"""What a TensorRT plan build does, decided once: :class:`BuildRecipe` from the manifest, the options
and the TensorRT version.

Both consumers read the same recipe, so they cannot disagree: :mod:`.trt_build` turns it into
TensorRT Python API calls, :mod:`.trt_command` into the equivalent ``trtexec`` line. The recipe
names the source graph, the network typing, the builder flags to set and clear, the nodes pinned to
float32, the workspace, the optimization profile, the timing and calibration caches.

Per TensorRT generation (:class:`~b2v_edge.common.trt_version.TrtVersion`):

* **8.x** - explicit-batch network from the fp32 ``model.onnx``; fp16 = ``FP16`` + the obey flag +
  the fp16 export's kept-fp32 nodes pinned to float32; INT8 from the Q/DQ graph (``INT8``) or, without
  one, from ``model.onnx`` + a calibration cache (``INT8`` + ``FP16`` with the same pins, so layers
  without a calibrated range run in fp16, never the warp geometry).
* **10.x** - ``STRONGLY_TYPED`` network from the precision-in-graph ONNX; no precision flags.
* **11.x** - precision from the graph only (strongly typed by default; no network flag).

Every version clears ``TF32``: TF32 rounds float32 MatMul/Conv inputs to 10 mantissa bits, like
fp16, which the warp's sampling coordinates must not see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from b2v_edge.common.errors import B2VError, ConfigError
from b2v_edge.common.manifest import Artifact, Manifest, ManifestError
from b2v_edge.common.records import Fp16Record
from b2v_edge.common.trt_version import TrtVersion
from b2v_edge.common.vocab import PRECISION_NAMES

from .constants import ALIGN
from .deploy import ONNX_NAMES, find_artifact

Shape = Tuple[int, ...]
HW_COMPAT = ("none", "ampere+")
# Jetson-sized profile maximum: VGA (480x640, multiples of 32) at the opt batch. Its activations fit a
# Jetson Nano / Orin Nano next to the CUDA context (`b2v-edge doctor DEPLOY_DIR` estimates it); pass
# --max-shape for larger inputs on bigger devices.
DEFAULT_MAX_HW = (480, 640)
TIMING_CACHE = "timing.cache"


class BuildError(B2VError, RuntimeError):
    """A plan could not be built (one-line message)."""


@dataclass(frozen=True)
class BuildOptions:
    """Settings of one plan build.

    Args:
        precision: ``fp32``, ``fp16`` or ``int8``.
        workspace_mib: builder workspace limit in MiB. The default (256) fits a Jetson Nano / Orin Nano
            with 4 GB shared memory; desktop GPUs and larger Orins can give more (more tactics to try).
        min_shape: smallest input shape of the optimization profile (dynamic graphs only).
        opt_shape: shape TensorRT tunes for (default: the export shape).
        max_shape: largest input shape (default: the opt batch at 480x640, or the export size if larger:
            Jetson-sized, see ``DEFAULT_MAX_HW``).
        timing_cache: timing cache file (default ``<deploy>/timing.cache``), reused across builds.
        calibration_cache: TensorRT 8.x INT8 without a Q/DQ graph (default: the cache calibration recorded in the manifest).
        version_compatible: build a version-compatible plan (TensorRT >= 8.6).
        hardware_compatibility: ``none`` or ``ampere+`` (TensorRT >= 8.6, desktop GPUs sm >= 8.0).
    """

    precision: str = "fp16"
    workspace_mib: int = 256
    min_shape: Optional[Shape] = None
    opt_shape: Optional[Shape] = None
    max_shape: Optional[Shape] = None
    timing_cache: Optional[Path] = None
    calibration_cache: Optional[Path] = None
    version_compatible: bool = False
    hardware_compatibility: str = "none"

    def __post_init__(self) -> None:
        if self.precision not in PRECISION_NAMES:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISION_NAMES)}")
        if not 16 <= int(self.workspace_mib) <= 1 << 20:
            raise ConfigError(f"workspace must be 16..1048576 MiB, got {self.workspace_mib}")
        if self.hardware_compatibility not in HW_COMPAT:
            raise ConfigError(f"hardware_compatibility must be one of {HW_COMPAT}, got {self.hardware_compatibility!r}")
        for name in ("min_shape", "opt_shape", "max_shape"):
            shape = getattr(self, name)
            if shape is not None and (len(shape) != 4 or min(shape) < 1):
                raise ConfigError(f"{name} must be 4 positive ints B,3,H,W; got {shape}")

    def to_dict(self) -> Dict[str, Any]:
        """JSON form recorded with the plan (``extra.build_options``); paths as strings."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class BuildRecipe:
    """Everything one plan build does (see the module doc); both the builder and trtexec follow it.

    Attributes:
        version: the TensorRT the plan is built with.
        precision: ``fp32`` / ``fp16`` / ``int8``.
        source: the ONNX artifact parsed.
        mode: ``graph`` (precision from the graph), ``flags`` (8.x fp16) or ``calibration`` (8.x
            implicit INT8 from a cache).
        network_flag: the ``NetworkDefinitionCreationFlag`` set, or None.
        set_flags: ``BuilderFlag`` names set, in order.
        clear_flags: ``BuilderFlag`` names cleared (``TF32``).
        keep_fp32: ONNX node names pinned to float32 (8.x flags / calibration modes).
        keep_tensors: output tensors of those nodes (the parser names its tensors after them).
        hardware: ``none`` or ``ampere+``.
        workspace_mib: workspace limit.
        shapes: min/opt/max profile, None for a static input.
        timing_cache: the timing cache file.
        calibration_cache: the calibration cache file (``calibration`` mode only).
    """

    version: TrtVersion
    precision: str
    source: Artifact
    mode: str
    network_flag: Optional[str]
    set_flags: Tuple[str, ...]
    clear_flags: Tuple[str, ...]
    hardware: str
    workspace_mib: int
    shapes: Optional[Dict[str, Shape]]
    timing_cache: Path
    keep_fp32: Tuple[str, ...] = ()
    keep_tensors: Tuple[str, ...] = ()
    calibration_cache: Optional[Path] = None

    @property
    def typing(self) -> str:
        """``strongly_typed`` or ``weakly_typed`` (recorded in the manifest)."""
        return "strongly_typed" if self.version.strongly_typed else "weakly_typed"


# ---- source selection ---------------------------------------------------------------------------
def select_source(manifest: Manifest, precision: str, version: TrtVersion) -> Tuple[Artifact, str]:
    """The ONNX artifact to parse and the precision mode (``graph``, ``flags`` or ``calibration``).

    TensorRT >= 10 reads precision from the graph; 8.x uses flags on ``model.onnx`` (fp16, int8
    with a calibration cache) or the Q/DQ graph (int8).

    Raises:
        ManifestError: the graph is missing (the message names the command that makes it).
    """
    if not version.precision_flags or precision == "fp32":
        return _get(manifest, precision), "graph"
    if precision == "fp16":
        return _get(manifest, "fp32"), "flags"
    qdq = find_artifact(manifest, ONNX_NAMES["int8"])
    if qdq is not None:
        return qdq, "graph"
    return _get(manifest, "fp32"), "calibration"


def _get(manifest: Manifest, precision: str) -> Artifact:
    """The TensorRT-facing graph of ``precision`` (never the CPU-tuned ``model.int8.cpu.onnx``)."""
    art = find_artifact(manifest, ONNX_NAMES[precision])
    if art is not None:
        return art
    if precision == "int8":
        raise ManifestError(
            f"{manifest.root} has no {ONNX_NAMES['int8']} (symmetric Q/DQ for TensorRT): run "
            f"`b2v-edge calibrate {manifest.root} --target tensorrt`"
        )
    return manifest.get("onnx", precision)  # raises with the export command to run


def kept_fp32(manifest: Manifest) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(node names, their output tensors) the fp16 export kept in float32 (pinned on TensorRT 8.x)."""
    art = find_artifact(manifest, ONNX_NAMES["fp16"])
    record = art.fp16 if art is not None else Fp16Record()
    return record.kept_fp32_nodes, record.kept_fp32_tensors


# ---- shapes -------------------------------------------------------------------------------------
def static_shape(manifest: Manifest) -> Optional[Shape]:
    """The input shape when every dim is fixed, else None."""
    shape = manifest.input.get("shape") or []
    if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape):
        return tuple(shape)
    return None


def build_shapes(manifest: Manifest, options: BuildOptions) -> Dict[str, Shape]:
    """min/opt/max input shapes: options first, then the export shape and defaults.

    A static graph gets its one shape three times (no profile is added for it). The default max
    batch is the opt batch: TensorRT sizes activation memory for the largest profile shape, and a
    Jetson shares 4-8 GB between CPU and GPU.
    """
    static = static_shape(manifest)
    if static is not None:
        return {"min": static, "opt": static, "max": static}
    export = manifest.input.get("opt_shape") or [1, 3, 256, 256]
    opt = tuple(options.opt_shape or export)
    low = tuple(options.min_shape or (1, 3, 2 * ALIGN, 2 * ALIGN))
    high = tuple(options.max_shape or (opt[0], 3, max(opt[2], DEFAULT_MAX_HW[0]), max(opt[3], DEFAULT_MAX_HW[1])))
    for a, b, name in ((low, opt, "min > opt"), (opt, high, "opt > max")):
        if any(x > y for x, y in zip(a, b)):
            raise ValueError(f"optimization profile {name}: min {list(low)}, opt {list(opt)}, max {list(high)}")
    return {"min": low, "opt": opt, "max": high}


# ---- the recipe ---------------------------------------------------------------------------------
def _precision_flags(version: TrtVersion, precision: str, mode: str) -> Tuple[str, ...]:
    if not version.precision_flags or precision == "fp32":
        return ()
    if mode == "flags":
        return ("FP16", version.obey_flag)
    if mode == "calibration":
        return ("INT8", "FP16", version.obey_flag)
    return ("INT8",)  # the Q/DQ graph: float layers stay float32


def calibration_cache_path(manifest: Manifest, options: BuildOptions) -> Path:
    """The TensorRT calibration cache: ``options.calibration_cache``, else the one calibration recorded."""
    if options.calibration_cache:
        path = Path(options.calibration_cache)
    else:
        files = (manifest.calibration.get("tensorrt") or {}).get("files") or {}
        name = (files.get("tensorrt_cache") or {}).get("path")
        return manifest.resolve(name or "calibration.cache", "the calibration cache")
    return path if path.is_absolute() else Path(manifest.root) / path


def plan_recipe(manifest: Manifest, options: BuildOptions, version: TrtVersion) -> BuildRecipe:
    """The build of ``options.precision`` with TensorRT ``version`` from ``manifest``'s deploy dir.

    Raises:
        BuildError: an option this TensorRT does not support.
        ManifestError: the source graph is missing.
    """
    wanted = options.version_compatible or options.hardware_compatibility != "none"
    if wanted and not version.compatibility_modes:
        raise BuildError(f"version/hardware-compatible plans need TensorRT >= 8.6 (this is {version})")
    source, mode = select_source(manifest, options.precision, version)
    flags = _precision_flags(version, options.precision, mode)
    if options.version_compatible:
        flags += ("VERSION_COMPATIBLE",)
    keep, tensors = kept_fp32(manifest) if mode in ("flags", "calibration") else ((), ())
    if mode == "calibration" and not keep:  # no fp16 export to say what must stay float32
        flags = ("INT8",)
    shapes = None if static_shape(manifest) is not None else build_shapes(manifest, options)
    return BuildRecipe(
        version=version,
        precision=options.precision,
        source=source,
        mode=mode,
        network_flag=version.network_flag,
        set_flags=flags,
        clear_flags=("TF32",),
        hardware=options.hardware_compatibility,
        workspace_mib=int(options.workspace_mib),
        shapes=shapes,
        timing_cache=Path(options.timing_cache or Path(manifest.root) / TIMING_CACHE),
        keep_fp32=keep,
        keep_tensors=tensors,
        calibration_cache=calibration_cache_path(manifest, options) if mode == "calibration" else None,
    )
