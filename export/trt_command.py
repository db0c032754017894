"""The ``trtexec`` command line equivalent to ``b2v-edge build-engine`` for a device's TensorRT.

Without TensorRT on this machine the build cannot run here; the line printed instead does the same
build on the device: it follows the same :class:`~b2v_edge.export.trt_recipe.BuildRecipe` (source
graph, network typing, builder flags, float32 pins, TF32 off, compatibility, workspace, profile,
timing and calibration caches) with only the options that release's trtexec accepts
(:attr:`TrtVersion.trtexec_options`).

Float32 pins: trtexec 8.4+ takes ``--layerPrecisions``. The line pins every layer to fp32 and lists
the nodes free to run in fp16 (``*:fp32,<node>:fp16,...``; trtexec leaves integer and shape layers
alone), which also covers the unnamed helper layers of kept nodes; without onnx to list the graph's
nodes it lists the kept nodes (``<node>:fp32,...``). One argument must fit Linux's 128 KiB
``MAX_ARG_STRLEN``. When trtexec cannot express the pins (8.0 / 8.2 have no ``--layerPrecisions``)
or the list does not fit, the equivalent command is ``b2v-edge build-engine`` on the device.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import List, Optional, Sequence

from b2v_edge.common.manifest import Manifest
from b2v_edge.common.trt_version import TrtVersion

from .deploy import ONNX_NAMES, find_artifact, plan_name
from .trt_recipe import BuildOptions, BuildRecipe, build_shapes, plan_recipe

__all__ = ["MAX_ARG_BYTES", "build_shapes", "layer_precisions", "trtexec_args", "trtexec_command"]

MAX_ARG_BYTES = 32 * 4096  # MAX_ARG_STRLEN: the longest single argv string execve accepts


def _dims(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def device_version(manifest: Manifest) -> TrtVersion:
    """The TensorRT the deploy dir targets (the fp32 graph's target line; trt10 when unknown)."""
    fp32 = find_artifact(manifest, ONNX_NAMES["fp32"])
    line = (fp32.target if fp32 else None) or "trt10"
    return TrtVersion.for_line(line if line.startswith("trt") else "trt10")


def _graph_nodes(path: Path) -> Optional[List[str]]:
    """Node names of an ONNX file, or None without onnx."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    return [n.name for n in model.graph.node]


def layer_precisions(recipe: BuildRecipe, source: Path) -> Optional[str]:
    """The ``--layerPrecisions`` argument pinning the recipe's kept nodes, or None if it cannot fit."""
    keep = set(recipe.keep_fp32)
    nodes = _graph_nodes(source)
    if nodes is not None:
        spec = ",".join(["*:fp32"] + [f"{n}:fp16" for n in nodes if n and n not in keep])
    else:
        spec = ",".join(f"{n}:fp32" for n in recipe.keep_fp32)
    arg = f"--layerPrecisions={spec}"
    return arg if len(arg.encode()) < MAX_ARG_BYTES else None


def trtexec_args(manifest: Manifest, recipe: BuildRecipe) -> Optional[List[str]]:
    """The trtexec arguments of ``recipe``, or None when this release's trtexec cannot do the build."""
    root = Path(manifest.root)
    options = recipe.version.trtexec_options
    source = manifest.path_of(recipe.source)
    args: List[str] = ["trtexec", f"--onnx={source}"]
    if recipe.network_flag == "STRONGLY_TYPED":
        args.append("--stronglyTyped")
    flag_options = {"FP16": "--fp16", "INT8": "--int8", "OBEY_PRECISION_CONSTRAINTS": "--precisionConstraints=obey"}
    flag_options.update({"VERSION_COMPATIBLE": "--versionCompatible"})
    for flag in recipe.set_flags:
        option = flag_options.get(flag)
        if option is None or option.split("=")[0] not in options:
            return None  # e.g. STRICT_TYPES: trtexec 8.0 has no way to make layer precisions binding
        args.append(option)
    if recipe.keep_fp32:
        if "--layerPrecisions" not in options:
            return None
        pins = layer_precisions(recipe, source)
        if pins is None:
            return None
        args.append(pins)
    if "TF32" in recipe.clear_flags:
        args.append("--noTF32")
    if recipe.hardware == "ampere+":
        args.append("--hardwareCompatibilityLevel=ampere+")
    if recipe.calibration_cache is not None:
        args.append(f"--calib={recipe.calibration_cache}")
    args.append(f"--saveEngine={root / plan_name(recipe.precision)}")
    mib = recipe.workspace_mib
    args.append(f"--memPoolSize=workspace:{mib}" if recipe.version.memory_pools else f"--workspace={mib}")
    args.append(f"--timingCacheFile={recipe.timing_cache}")
    if recipe.shapes is not None:
        name = manifest.input.get("name", "blurred")
        for key in ("min", "opt", "max"):
            args.append(f"--{key}Shapes={name}:{_dims(recipe.shapes[key])}")
    return args


def trtexec_command(manifest: Manifest, options: BuildOptions, version: Optional[TrtVersion] = None) -> str:
    """The command that builds the same plan on a device: a trtexec line, or ``b2v-edge build-engine``.

    Args:
        manifest: the deploy dir's manifest.
        options: :class:`~b2v_edge.export.trt_recipe.BuildOptions`.
        version: the device's TensorRT (None = the release of the manifest's target line).
    """
    version = version or device_version(manifest)
    recipe = plan_recipe(manifest, options, version)
    args = trtexec_args(manifest, recipe)
    if args is None:
        args = build_engine_args(manifest, options)
    return " ".join(shlex.quote(a) for a in args)


def build_engine_args(manifest: Manifest, options: BuildOptions) -> List[str]:
    """``b2v-edge build-engine`` with the same options (for builds trtexec cannot express)."""
    args = ["b2v-edge", "build-engine", str(manifest.root), "--precision", options.precision]
    if options.workspace_mib != BuildOptions.workspace_mib:
        args += ["--workspace", str(options.workspace_mib)]
    for name in ("min_shape", "opt_shape", "max_shape"):
        shape = getattr(options, name)
        if shape is not None:
            args += [f"--{name.replace('_', '-')}", _dims(shape)]
    for name in ("timing_cache", "calibration_cache"):
        if getattr(options, name):
            args += [f"--{name.replace('_', '-')}", str(getattr(options, name))]
    if options.version_compatible:
        args.append("--version-compatible")
    if options.hardware_compatibility != "none":
        args += ["--hardware-compatibility", options.hardware_compatibility]
    return args
