"""The one module that builds TensorRT plans (``b2v-edge build-engine`` / ``export --engine``).

What a build does is decided once in :func:`~b2v_edge.export.trt_recipe.plan_recipe` (the same
recipe prints the ``trtexec`` line, :mod:`.trt_command`); this module turns it into TensorRT Python
API calls. Version differences are visible branches on :class:`~b2v_edge.common.trt_version.TrtVersion`:

* network: ``EXPLICIT_BATCH`` (8.x), ``STRONGLY_TYPED`` (10.x), no flag (11.x, strongly typed);
* workspace: ``max_workspace_size`` before 8.4, ``set_memory_pool_limit`` from 8.4;
* 8.x precision: builder flags, float32 pins (:func:`pin_fp32`) and a cache calibrator;
* 8.6+: version / hardware compatibility.

Common: ``TF32`` cleared, one optimization profile (min/opt/max) when the input has dynamic axes, a
timing cache file reused across builds (replaced when TensorRT rejects it), a **raw** plan (loads in
trtexec and DeepStream) and the build provenance (TensorRT/CUDA versions, GPU, compute capability,
options) in ``manifest.json``.
"""

from __future__ import annotations

import importlib
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Union

from b2v_edge.common.atomic import atomic_write_bytes
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file
from b2v_edge.common.trt_version import TrtVersion, TrtVersionError, hardware_compatible_gpu

from .deploy import plan_name
from .device import device_facts
from .trt_command import trtexec_command
from .trt_recipe import HW_COMPAT, BuildError, BuildOptions, BuildRecipe, Shape, build_shapes, plan_recipe

__all__ = [
    "HW_COMPAT",
    "BuildError",
    "BuildOptions",
    "TensorRTUnavailable",
    "build_engine",
    "build_plan_file",
    "build_shapes",
    "find_tensorrt",
    "pin_fp32",
    "tensorrt_version",
]

Log = Callable[[str], None]
_UNNAMED = "(Unnamed Layer*"
_SUFFIXED = re.compile(r"^(?P<base>.+)_\d+$")  # onnx-tensorrt's name for a node's later layers


class TensorRTUnavailable(BuildError):
    """TensorRT (or a GPU) is missing here; ``command`` is the equivalent trtexec line for the device."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


def find_tensorrt() -> Any:
    """``import tensorrt`` (None when it is not installed)."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        return None


def tensorrt_version(trt: Any) -> TrtVersion:
    """The version of the imported module (:class:`BuildError` when unreadable or older than 8.0)."""
    try:
        version = TrtVersion.of(trt)
    except TrtVersionError as exc:
        raise BuildError(f"cannot read the TensorRT version: {exc}") from exc
    if version.major < 8:
        raise BuildError(f"TensorRT {version} is too old: b2v-edge supports 8.0 and newer")
    return version


# ---- network + config (the version branches) ----------------------------------------------------
def create_network(trt: Any, builder: Any, recipe: BuildRecipe) -> Any:
    """The network definition with the recipe's creation flag (none on 11.x)."""
    if recipe.network_flag is None:
        return builder.create_network(0)
    flag = getattr(trt.NetworkDefinitionCreationFlag, recipe.network_flag)
    return builder.create_network(1 << int(flag))


def set_workspace(trt: Any, config: Any, recipe: BuildRecipe) -> None:
    """Workspace limit: ``set_memory_pool_limit`` from 8.4, ``max_workspace_size`` before."""
    size = recipe.workspace_mib << 20
    if recipe.version.memory_pools:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, size)
    else:
        config.max_workspace_size = size


def set_flags(trt: Any, config: Any, recipe: BuildRecipe) -> None:
    """Builder flags to set and clear, and the hardware compatibility level."""
    for name in recipe.set_flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in recipe.clear_flags:
        config.clear_flag(getattr(trt.BuilderFlag, name))
    if recipe.hardware == "ampere+":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS


def _int_layer(trt: Any, layer: Any) -> bool:
    """trtexec's rules for layers whose precision must not be set (``setLayerPrecisions``, 8.6):
    INT32/BOOL precision, an INT32 constant, a layer on a shape tensor, INT32 in and out."""
    if layer.precision in (trt.int32, trt.bool):
        return True
    if layer.num_outputs and layer.type == trt.LayerType.CONSTANT and layer.get_output(0).dtype == trt.int32:
        return True
    if layer.num_inputs:
        first = layer.get_input(0)
        if first is not None and first.is_shape_tensor:
            return True
        out_int = layer.num_outputs and layer.get_output(0).dtype == trt.int32
        if first is not None and first.dtype == trt.int32 and out_int:
            return True
    return False


def _pin_target(layer: Any, nodes: Set[str], tensors: Set[str], pinned: Set[str], constants: Set[str]) -> bool:
    """Whether ``layer`` computes part of a kept node (by name, output tensor or position)."""
    name = layer.name
    if name in nodes:
        return True
    outputs = {layer.get_output(j).name for j in range(layer.num_outputs)}
    if outputs & tensors:
        return True
    suffixed = _SUFFIXED.match(name)
    if suffixed and suffixed.group("base") in nodes:
        return True
    if name.startswith(_UNNAMED):  # a helper layer fed only by kept layers (e.g. Gemm's alpha scale)
        live = [t.name for t in (layer.get_input(i) for i in range(layer.num_inputs)) if t is not None]
        live = [n for n in live if n not in constants]
        return bool(live) and all(n in pinned for n in live)
    return False


def pin_fp32(trt: Any, network: Any, keep: Sequence[str], tensors: Sequence[str] = ()) -> Dict[str, int]:
    """Pin the layers of kept ONNX nodes to float32 (precision and float outputs).

    The parser names a node's first layer after the node, its later layers ``<node>_<n>``, leaves
    helper layers ``(Unnamed Layer* N)`` and names each node's final tensor after the ONNX output:
    layers are matched by name, by output tensor (``tensors``) and, for unnamed helpers, by being
    fed only by pinned layers. Integer and shape layers are skipped as trtexec skips them.

    Returns:
        ``{"pinned": layers pinned, "skipped_int32": integer/shape layers left alone,
        "unmatched_nodes": kept nodes no layer was named after}``.
    """
    nodes, outs = set(keep), set(tensors)
    pinned_outputs: Set[str] = set()
    constants: Set[str] = set()
    seen: Set[str] = set()
    counts = {"pinned": 0, "skipped_int32": 0}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        if layer.type == trt.LayerType.CONSTANT:
            constants.update(t.name for t in outputs)
        if not _pin_target(layer, nodes, outs, pinned_outputs, constants):
            continue
        suffixed = _SUFFIXED.match(layer.name)
        seen.update({layer.name, suffixed.group("base") if suffixed else layer.name})
        pinned_outputs.update(t.name for t in outputs)
        if _int_layer(trt, layer):
            counts["skipped_int32"] += 1
            continue
        layer.precision = trt.float32
        for j, tensor in enumerate(outputs):
            if tensor.dtype in (trt.float32, trt.float16):
                layer.set_output_type(j, trt.float32)
        counts["pinned"] += 1
    counts["unmatched_nodes"] = len(nodes - seen)
    return counts


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


def add_profile(builder: Any, network: Any, config: Any, shapes: Optional[Dict[str, Shape]]) -> Optional[Dict]:
    """One optimization profile when the network input has dynamic axes."""
    tensor = network.get_input(0)
    if shapes is None or all(int(d) >= 0 for d in tensor.shape):
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


def _builder(trt: Any, logger: Any) -> Any:
    try:
        return trt.Builder(logger)
    except TypeError as exc:  # pybind11: "factory function returned nullptr" (no GPU / CUDA)
        raise BuildError(
            f"trt.Builder failed (CUDA initialization failure: {exc}): run build-engine on the device with the GPU"
        ) from exc


# ---- timing cache -------------------------------------------------------------------------------
def _new_timing_cache(config: Any, blob: bytes) -> Any:
    try:
        cache = config.create_timing_cache(blob)
    except (RuntimeError, TypeError, ValueError):
        return None
    if cache is None or not config.set_timing_cache(cache, False):
        return None
    return cache


def attach_timing_cache(config: Any, path: Path, log: Log) -> None:
    """Use the timing cache file if TensorRT accepts it, else a new empty cache.

    TensorRT rejects a cache from another GPU or TensorRT version (``set_timing_cache`` returns
    False); the file is then replaced by this build's cache.
    """
    blob = path.read_bytes() if path.exists() else b""
    if _new_timing_cache(config, blob) is not None:
        return
    if blob:
        log(f"{path.name} is from another GPU or TensorRT version: starting a new timing cache")
    if _new_timing_cache(config, b"") is None:
        raise BuildError("TensorRT could not create an empty timing cache")


def save_timing_cache(config: Any, path: Path) -> None:
    """Write the cache TensorRT used for this build (``config.get_timing_cache()``)."""
    cache = config.get_timing_cache()
    if cache is not None:
        atomic_write_bytes(path, bytes(cache.serialize()))


# ---- the build ----------------------------------------------------------------------------------
def build_plan_file(
    trt: Any,
    recipe: BuildRecipe,
    source: Path,
    plan: Path,
    calibration: Optional[bytes] = None,
    log: Optional[Log] = None,
) -> Dict[str, Any]:
    """Parse ``source`` and build a raw plan into ``plan`` (atomic) following ``recipe``.

    Returns:
        Build facts for the manifest (version, typing, mode, pins, profile, seconds).

    Raises:
        BuildError: no GPU / CUDA, no fast INT8, parse or build failure.
    """
    log = log or (lambda _m: None)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = _builder(trt, logger)
    if recipe.precision == "int8" and recipe.version.platform_queries and not builder.platform_has_fast_int8:
        raise BuildError("this GPU has no fast INT8 (e.g. the Maxwell Jetson Nano): build --precision fp16")
    network = create_network(trt, builder, recipe)
    parser = _parse(trt, network, logger, source)  # noqa: F841 - keep the parser alive while building
    config = builder.create_builder_config()
    set_workspace(trt, config, recipe)
    set_flags(trt, config, recipe)
    pins = {"pinned": 0, "skipped_int32": 0, "unmatched_nodes": 0}
    if recipe.keep_fp32:
        pins = pin_fp32(trt, network, recipe.keep_fp32, recipe.keep_tensors)
        log(f"pinned {pins['pinned']} layers to fp32 ({pins['skipped_int32']} integer/shape layers left alone)")
    if recipe.mode == "calibration":
        config.int8_calibrator = cache_calibrator(trt, calibration or b"")
    profile = add_profile(builder, network, config, recipe.shapes)
    attach_timing_cache(config, recipe.timing_cache, log)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"TensorRT {recipe.version} failed to build {plan.name} (see the TensorRT log above)")
    atomic_write_bytes(plan, bytes(serialized))
    save_timing_cache(config, recipe.timing_cache)
    return {
        "tensorrt_version": str(trt.__version__),
        "network": recipe.typing,
        "precision_mode": recipe.mode,
        "builder_flags": list(recipe.set_flags),
        "cleared_flags": list(recipe.clear_flags),
        "fp32_pinned_layers": pins["pinned"],
        "fp32_pins": pins,
        "profile": profile,
        "build_seconds": round(time.perf_counter() - start, 1),
    }


def build_engine(
    deploy_dir: Union[str, Path],
    options: Optional[BuildOptions] = None,
    trt: Any = None,
    cuda: Any = None,
    log: Optional[Log] = None,
    **fields: Any,
) -> Artifact:
    """Build ``model.<precision>.plan`` in a deploy dir on this machine and record it in the manifest.

    Args:
        deploy_dir: a directory written by ``b2v-edge export``.
        options: build settings (None = defaults).
        trt: the ``tensorrt`` module (None = import it; tests pass a stand-in).
        cuda: a :class:`~b2v_edge.runtime.engines.cuda.CudaApi` for device facts (None = load one).
        log: progress callback.
        **fields: :class:`BuildOptions` fields overriding ``options`` (e.g. ``precision="fp32"``).

    Raises:
        TensorRTUnavailable: TensorRT is not installed (``.command`` = the trtexec line to run instead).
        ManifestError: no deploy dir / source artifact (the message says which export to run).
        BuildError: lint, parse or build failure; an option this TensorRT or GPU does not support.
    """
    log = log or (lambda _m: None)
    options = replace(options or BuildOptions(), **fields)
    manifest = Manifest.load(deploy_dir)
    trt = trt if trt is not None else find_tensorrt()
    if trt is None:
        raise TensorRTUnavailable(
            "TensorRT is not installed here (it ships with JetPack or NVIDIA's package index); "
            "run build-engine on the device, or run the equivalent trtexec command there",
            trtexec_command(manifest, options),
        )
    version = tensorrt_version(trt)
    recipe = plan_recipe(manifest, options, version)
    manifest.verify(recipe.source)
    src_path = manifest.path_of(recipe.source)
    _lint_for_device(src_path, version, log)
    facts = device_facts(cuda)
    _check_hardware(recipe, facts.get("compute_capability", ""), log)
    calibration = _calibration_cache(recipe, log) if recipe.mode == "calibration" else None
    plan = Path(manifest.root) / plan_name(options.precision)
    log(f"building {plan.name} with TensorRT {version} from {recipe.source.path} ({recipe.mode})")
    built = build_plan_file(trt, recipe, src_path, plan, calibration, log)
    extra = {
        **built,
        **facts,
        "source": recipe.source.path,
        "source_sha256": recipe.source.sha256,
        "build_options": {**options.to_dict(), "timing_cache": str(recipe.timing_cache)},
    }
    art = Artifact(
        path=plan.name,
        kind="tensorrt_plan",
        precision=options.precision,
        sha256=sha256_file(plan),
        warp=recipe.source.warp,
        opset=recipe.source.opset,
        target=version.line,
        extra=extra,
    )
    manifest.upsert(art)
    manifest.save()
    return art


def _check_hardware(recipe: BuildRecipe, compute_capability: str, log: Log) -> None:
    if recipe.hardware != "ampere+":
        return
    if not compute_capability:
        log("unknown GPU: cannot check that it supports ampere+ hardware compatibility")
        return
    if not hardware_compatible_gpu(compute_capability):
        raise BuildError(
            f"--hardware-compatibility ampere+ needs a discrete GPU with sm >= 8.0 (this one is sm "
            f"{compute_capability}; Jetson/JetPack does not support it): build with --hardware-compatibility none"
        )


def _lint_for_device(path: Path, version: TrtVersion, log: Log) -> None:
    try:
        from .lint import lint_model
    except ImportError:  # no onnx on the device: the parser is the judge
        log("onnx is not installed: skipping the pre-build lint")
        return
    report = lint_model(path, version.line, trt_version=str(version))
    for finding in report.warnings:
        log(f"lint warning: {finding}")
    if not report:
        raise BuildError(f"{path.name} fails the lint for TensorRT {version}: {report.errors[0]}")


def _calibration_cache(recipe: BuildRecipe, log: Log) -> bytes:
    """The calibration cache, its header checked against (and stamped for) this TensorRT.

    TensorRT skips a cache whose header names another version, and the build then has no ranges.
    The ranges in a b2v-edge cache come from ONNX Runtime, not from a TensorRT build, so they hold
    for any version: a cache for another release is re-stamped with this one.
    """
    from b2v_edge.calib.options import CalibError
    from b2v_edge.calib.trtcache import ALGORITHM, parse_trt_cache, render_trt_cache

    file = recipe.calibration_cache
    if file is None or not file.exists():
        raise BuildError(
            f"TensorRT {recipe.version.major}.x INT8 needs model.int8.onnx (Q/DQ) or a calibration cache "
            f"({file}): run `b2v-edge calibrate <deploy> --target tensorrt` or pass --calibration-cache"
        )
    try:
        number, algorithm, scales = parse_trt_cache(file.read_text(encoding="utf-8"))
    except (CalibError, UnicodeDecodeError) as exc:
        raise BuildError(f"{file.name} is not a TensorRT calibration cache: {exc}") from exc
    if algorithm != ALGORITHM or not scales:
        raise BuildError(f"{file.name} holds no {ALGORITHM} ranges: re-run `b2v-edge calibrate --target tensorrt`")
    if number != recipe.version.number:
        log(f"{file.name} was written for TRT-{number}: re-stamped for TensorRT {recipe.version}")
    return render_trt_cache(scales, str(recipe.version)).encode()
