"""The one module that builds TensorRT plans (``b2v-edge build-engine`` / ``export --engine``).

Version differences are visible branches, nowhere else:

* **8.x** - explicit-batch network from the fp32 ``model.onnx``; ``BuilderFlag.FP16`` for fp16 with
  the manifest's kept-fp32 nodes pinned to float32 (``OBEY_PRECISION_CONSTRAINTS``; ``STRICT_TYPES``
  on 8.0/8.1); INT8 from the Q/DQ graph (``BuilderFlag.INT8``) or, without one, from ``model.onnx``
  plus a calibration cache. Workspace: ``max_workspace_size`` before 8.4, ``set_memory_pool_limit``
  from 8.4.
* **10.x** - ``STRONGLY_TYPED`` network from the precision-in-graph ONNX (``model.fp16.onnx`` /
  ``model.int8.onnx``): no precision flags, the graph's casts decide.
* **11.x** - precision from the graph only (flags, calibrators and precision constraints are gone;
  ``STRONGLY_TYPED`` is set only if the enum still exists, 11.x ignores it).

Common: workspace limit, one optimization profile (min/opt/max) when the input has dynamic axes,
a timing cache file reused across builds, a **raw** plan (loads in trtexec and DeepStream) and the
build provenance (TensorRT/CUDA versions, GPU, compute capability, options) in ``manifest.json``.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from b2v_edge.common.atomic import atomic_write_bytes
from b2v_edge.common.errors import B2VError
from b2v_edge.common.manifest import Artifact, Manifest, ManifestError, sha256_file

from .deploy import ONNX_NAMES, find_artifact, plan_name
from .device import device_facts
from .options import PRECISIONS
from .targets import target_for_trt
from .trt_command import build_shapes, trtexec_command

Shape = Tuple[int, ...]
HW_COMPAT = ("none", "ampere+")


class BuildError(B2VError, RuntimeError):
    """A plan could not be built (one-line message)."""


class TensorRTUnavailable(BuildError):
    """TensorRT (or a GPU) is missing here; ``command`` is the equivalent trtexec line for the device."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class BuildOptions:
    """Settings of one plan build.

    Args:
        precision: ``fp32``, ``fp16`` or ``int8``.
        workspace_mib: builder workspace limit in MiB.
        min_shape: smallest input shape of the optimization profile (dynamic graphs only).
        opt_shape: shape TensorRT tunes for (default: the export shape).
        max_shape: largest input shape (default: batch 4, 1088x1920 or the export size if larger).
        timing_cache: timing cache file (default ``<deploy>/timing.cache``), reused across builds.
        calibration_cache: TensorRT 8.x INT8 without a Q/DQ graph (default: manifest ``calibration.cache``).
        version_compatible: build a version-compatible plan (TensorRT >= 8.6).
        hardware_compatibility: ``none`` or ``ampere+`` (TensorRT >= 8.6).
    """

    precision: str = "fp16"
    workspace_mib: int = 1024
    min_shape: Optional[Shape] = None
    opt_shape: Optional[Shape] = None
    max_shape: Optional[Shape] = None
    timing_cache: Optional[Path] = None
    calibration_cache: Optional[Path] = None
    version_compatible: bool = False
    hardware_compatibility: str = "none"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if not 16 <= int(self.workspace_mib) <= 1 << 20:
            raise ValueError(f"workspace must be 16..1048576 MiB, got {self.workspace_mib}")
        if self.hardware_compatibility not in HW_COMPAT:
            raise ValueError(f"hardware_compatibility must be one of {HW_COMPAT}, got {self.hardware_compatibility!r}")
        for name in ("min_shape", "opt_shape", "max_shape"):
            shape = getattr(self, name)
            if shape is not None and (len(shape) != 4 or min(shape) < 1):
                raise ValueError(f"{name} must be 4 positive ints B,3,H,W; got {shape}")

    def to_dict(self) -> Dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def import_tensorrt() -> Any:
    """``import tensorrt`` (None when it is not installed)."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        return None


def trt_major(trt: Any) -> Tuple[str, int, int]:
    """(version string, major, minor) of the imported module."""
    version = str(getattr(trt, "__version__", "0.0"))
    parts = (version.split(".") + ["0"])[:2]
    try:
        return version, int(parts[0]), int(parts[1])
    except ValueError as exc:
        raise BuildError(f"cannot read the TensorRT version {version!r}") from exc


# ---- source selection ---------------------------------------------------------------------------
def select_source(manifest: Manifest, precision: str, major: int) -> Tuple[Artifact, str]:
    """The ONNX artifact to parse and the precision mode (``graph``, ``flags`` or ``calibration``).

    TensorRT >= 10 reads precision from the graph; 8.x uses flags on ``model.onnx`` (fp16, int8
    with a calibration cache) or the Q/DQ graph (int8).
    """
    if major >= 10 or precision == "fp32":
        return _get(manifest, ONNX_NAMES[precision], precision), "graph"
    if precision == "fp16":
        return _get(manifest, ONNX_NAMES["fp32"], "fp32"), "flags"
    qdq = find_artifact(manifest, ONNX_NAMES["int8"])
    if qdq is not None:
        return qdq, "graph"
    return _get(manifest, ONNX_NAMES["fp32"], "fp32"), "calibration"


def _get(manifest: Manifest, path: str, precision: str) -> Artifact:
    art = find_artifact(manifest, path)
    if art is None:
        return manifest.get("onnx", precision)  # raises with the export command to run
    return art


def kept_fp32_nodes(manifest: Manifest) -> List[str]:
    """Node names the fp16 export kept in float32 (pinned to fp32 on TensorRT 8.x)."""
    art = find_artifact(manifest, ONNX_NAMES["fp16"])
    if art is None:
        return []
    return list(art.extra.get("fp16", {}).get("kept_fp32_nodes", []))


# ---- network + config (the version branches) ----------------------------------------------------
def create_network(trt: Any, builder: Any, major: int) -> Tuple[Any, str]:
    """The network definition for this TensorRT line and its typing mode."""
    flags = trt.NetworkDefinitionCreationFlag
    if major >= 11:
        strongly = getattr(flags, "STRONGLY_TYPED", None)
        return builder.create_network(0 if strongly is None else 1 << int(strongly)), "strongly_typed"
    if major >= 10:
        return builder.create_network(1 << int(flags.STRONGLY_TYPED)), "strongly_typed"
    return builder.create_network(1 << int(flags.EXPLICIT_BATCH)), "weakly_typed"


def set_workspace(trt: Any, config: Any, major: int, minor: int, mib: int) -> None:
    """Workspace limit: ``max_workspace_size`` before 8.4, memory pool limit after."""
    if major == 8 and minor < 4:
        config.max_workspace_size = mib << 20
    else:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, mib << 20)


def set_precision_v8(
    trt: Any,
    config: Any,
    network: Any,
    minor: int,
    precision: str,
    mode: str,
    keep: Sequence[str],
    calibration_cache: Optional[bytes],
) -> int:
    """TensorRT 8.x precision: builder flags, fp32 pins for ``keep``, calibrator from a cache.

    Returns:
        The number of layers pinned to float32.
    """
    if precision == "fp32":
        return 0
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        obey = trt.BuilderFlag.STRICT_TYPES if minor < 2 else trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS
        config.set_flag(obey)
        return pin_fp32(trt, network, keep)
    config.set_flag(trt.BuilderFlag.INT8)
    if mode == "calibration":
        if calibration_cache is None:
            raise BuildError(
                "TensorRT 8.x INT8 needs model.int8.onnx (Q/DQ) or a calibration cache: run "
                "`b2v-edge export --precision int8` or pass --calibration-cache"
            )
        config.int8_calibrator = cache_calibrator(trt, calibration_cache)
    return 0


def pin_fp32(trt: Any, network: Any, keep: Sequence[str]) -> int:
    """Set precision and float outputs to fp32 on layers named after kept ONNX nodes."""
    names = set(keep)
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        base = layer.name.split(" ")[0]
        if layer.name not in names and base not in names:
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            if layer.get_output(j).dtype in (trt.float32, trt.float16):
                layer.set_output_type(j, trt.float32)
        pinned += 1
    return pinned


def cache_calibrator(trt: Any, cache: bytes) -> Any:
    """An ``IInt8EntropyCalibrator2`` that serves a stored calibration cache and no batches."""

    class CacheCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: List[str]) -> None:
            return None

        def read_calibration_cache(self) -> bytes:
            return cache

        def write_calibration_cache(self, data: bytes) -> None:
            return None

    return CacheCalibrator()


def set_compatibility(trt: Any, config: Any, major: int, minor: int, options: BuildOptions) -> None:
    """Version / hardware compatibility (TensorRT >= 8.6 only)."""
    wanted = options.version_compatible or options.hardware_compatibility != "none"
    if wanted and (major, minor) < (8, 6):
        raise BuildError("version/hardware-compatible plans need TensorRT >= 8.6")
    if options.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    if options.hardware_compatibility == "ampere+":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS


def add_profile(builder: Any, network: Any, config: Any, shapes: Dict[str, Shape]) -> Optional[Dict[str, List[int]]]:
    """One optimization profile when the network input has dynamic axes."""
    tensor = network.get_input(0)
    if all(int(d) >= 0 for d in tensor.shape):
        return None
    profile = builder.create_optimization_profile()
    profile.set_shape(tensor.name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(profile)
    return {k: list(v) for k, v in shapes.items()}


def _parse(trt: Any, network: Any, logger: Any, path: Path) -> Any:
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(path.read_bytes()):
        errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)] or ["unknown parser error"]
        raise BuildError(f"TensorRT could not parse {path.name}: {errors[0]}")
    return parser


# ---- the build --------------------------------------------------------------------------------
def _timing_cache(config: Any, path: Path) -> Any:
    cache = config.create_timing_cache(path.read_bytes() if path.exists() else b"")
    config.set_timing_cache(cache, False)
    return cache


def build_plan(
    trt: Any,
    source: Path,
    plan: Path,
    options: BuildOptions,
    mode: str,
    keep: Sequence[str],
    shapes: Dict[str, Shape],
    timing_cache: Path,
    calibration_cache: Optional[bytes],
) -> Dict[str, Any]:
    """Parse ``source`` and build a raw plan into ``plan`` (atomic); returns build facts.

    Raises:
        BuildError: no GPU / CUDA, parse or build failure.
    """
    version, major, minor = trt_major(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    if not builder:
        raise BuildError(
            "trt.Builder failed (CUDA initialization failure): run build-engine on the device with the GPU"
        )
    network, typing = create_network(trt, builder, major)
    parser = _parse(trt, network, logger, source)  # noqa: F841 - keep the parser alive while building
    config = builder.create_builder_config()
    set_workspace(trt, config, major, minor, options.workspace_mib)
    pinned = 0
    if major < 10:  # 8.x: precision by flags (10.x+: the graph's types decide)
        pinned = set_precision_v8(trt, config, network, minor, options.precision, mode, keep, calibration_cache)
    set_compatibility(trt, config, major, minor, options)
    profile = add_profile(builder, network, config, shapes)
    cache = _timing_cache(config, timing_cache)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"TensorRT {version} failed to build {plan.name} (see the TensorRT log above)")
    atomic_write_bytes(plan, bytes(serialized))
    atomic_write_bytes(timing_cache, bytes(cache.serialize()))
    return {
        "tensorrt_version": version,
        "network": typing,
        "precision_mode": mode,
        "fp32_pinned_layers": pinned,
        "profile": profile,
        "build_seconds": round(time.perf_counter() - start, 1),
    }


def build_engine(
    deploy_dir: Union[str, Path],
    options: Optional[BuildOptions] = None,
    trt: Any = None,
    cuda: Any = None,
    log: Optional[Callable[[str], None]] = None,
    **fields: Any,
) -> Artifact:
    """Build ``model.<precision>.plan`` in a deploy dir on this machine and record it in the manifest.

    Args:
        deploy_dir: a directory written by ``b2v-edge export``.
        options: build settings (None = defaults).
        trt: the ``tensorrt`` module (None = import it; tests pass a stand-in).
        cuda: a :class:`~b2v_edge.runtime.cudamem.CudaApi` for device facts (None = load one).
        log: progress callback.
        **fields: :class:`BuildOptions` fields overriding ``options`` (e.g. ``precision="fp32"``).

    Raises:
        TensorRTUnavailable: TensorRT is not installed (``.command`` = the trtexec line to run instead).
        ManifestError: no deploy dir / source artifact (the message says which export to run).
        BuildError: lint, parse or build failure.
    """
    log = log or (lambda _m: None)
    options = replace(options or BuildOptions(), **fields)
    manifest = Manifest.load(deploy_dir)
    trt = trt if trt is not None else import_tensorrt()
    if trt is None:
        command = trtexec_command(manifest, options)
        raise TensorRTUnavailable(
            "TensorRT is not installed here (it ships with JetPack or NVIDIA's package index); "
            "run build-engine on the device, or run the equivalent trtexec command there",
            command,
        )
    version, major, _minor = trt_major(trt)
    if major < 8:
        raise BuildError(f"TensorRT {version} is too old: b2v-edge supports 8.0 and newer")
    source, mode = select_source(manifest, options.precision, major)
    manifest.verify(source)
    src_path = manifest.path_of(source)
    _lint_for_device(src_path, version, log)
    shapes = build_shapes(manifest, options)
    timing = Path(options.timing_cache or Path(manifest.root) / "timing.cache")
    calib = _calibration_cache(manifest, options) if mode == "calibration" else None
    keep = kept_fp32_nodes(manifest) if mode == "flags" else []
    plan = Path(manifest.root) / plan_name(options.precision)
    log(f"building {plan.name} with TensorRT {version} from {source.path} ({mode})")
    facts = build_plan(trt, src_path, plan, options, mode, keep, shapes, timing, calib)
    facts.update(device_facts(cuda))
    extra = {
        **facts,
        "source": source.path,
        "source_sha256": source.sha256,
        "build_options": {**options.to_dict(), "timing_cache": str(timing)},
    }
    art = Artifact(
        path=plan.name,
        kind="tensorrt_plan",
        precision=options.precision,
        sha256=sha256_file(plan),
        warp=source.warp,
        opset=source.opset,
        target=target_for_trt(version),
        extra=extra,
    )
    manifest.upsert(art)
    manifest.save()
    return art


def _lint_for_device(path: Path, version: str, log: Callable[[str], None]) -> None:
    try:
        from .lint import lint_model
    except ImportError:  # no onnx on the device: the parser is the judge
        log("onnx is not installed: skipping the pre-build lint")
        return
    report = lint_model(path, target_for_trt(version), trt_version=version)
    for finding in report.warnings:
        log(f"lint warning: {finding}")
    if not report:
        raise BuildError(f"{path.name} fails the lint for TensorRT {version}: {report.errors[0]}")


def calibration_cache_path(manifest: Manifest, options: Any) -> Optional[str]:
    """The TensorRT calibration cache: ``options.calibration_cache``, else the one calibration recorded."""
    if options.calibration_cache:
        return str(options.calibration_cache)
    files = (manifest.calibration.get("tensorrt") or {}).get("files") or {}
    return (files.get("tensorrt_cache") or {}).get("path") or manifest.calibration.get("cache")


def _calibration_cache(manifest: Manifest, options: BuildOptions) -> Optional[bytes]:
    path = calibration_cache_path(manifest, options)
    if not path:
        return None
    file = Path(path) if Path(path).is_absolute() else Path(manifest.root) / path
    if not file.exists():
        raise ManifestError(f"calibration cache {file} does not exist")
    return file.read_bytes()
