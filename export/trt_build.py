"""The one module that builds TensorRT plans (``b2v-edge build-engine`` / ``export --engine``).

What a build does is decided once in :func:`~b2v_edge.export.trt_recipe.plan_recipe` (the same
recipe prints the ``trtexec`` line, :mod:`.trt_command`); this module turns it into TensorRT Python
API calls; the network and config steps live in :mod:`.trt_network`. Version differences are visible
branches on :class:`~b2v_edge.common.trt_version.TrtVersion`:

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
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

from b2v_edge.common import deploydir
from b2v_edge.common.atomic import atomic_write_bytes
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file
from b2v_edge.common.trt_version import TrtVersion, TrtVersionError, hardware_compatible_gpu

from .deploy import plan_name
from .device import device_facts
from .trt_command import trtexec_command
from .trt_network import (
    add_profile,
    attach_timing_cache,
    cache_calibrator,
    create_network,
    pin_fp32,
    save_timing_cache,
    set_flags,
    set_workspace,
)
from .trt_recipe import HW_COMPAT, BuildError, BuildOptions, BuildRecipe, build_shapes, plan_recipe

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
    with deploydir.update(manifest.root) as stage:  # the plan and its manifest entry: both or neither
        return _build_into(stage, trt, recipe, options, src_path, calibration, facts, log)


def _build_into(
    stage: Path,
    trt: Any,
    recipe: BuildRecipe,
    options: BuildOptions,
    src_path: Path,
    calibration: Optional[bytes],
    facts: Dict[str, Any],
    log: Log,
) -> Artifact:
    """Build the plan into the staged generation ``stage`` and list it in its manifest."""
    version = recipe.version
    plan = stage / plan_name(options.precision)
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
    manifest = Manifest.load(stage)
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
