"""The TensorRT network and builder config of one plan build, one function per concern.

Each TensorRT-version difference is one visible branch on the :class:`BuildRecipe` (which knows the
version): explicit-batch vs strongly typed networks, workspace limit vs memory pools, precision
flags, and float32 pins of the warp-geometry layers (8.x). Also the calibrator that serves a stored
INT8 cache, the optimization profile and the timing cache. Every function takes the imported
``tensorrt`` module as ``trt`` (tests pass a stand-in).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from b2v_edge.common.atomic import atomic_write_bytes

from .trt_recipe import BuildError, BuildRecipe, Shape

__all__ = [
    "add_profile",
    "attach_timing_cache",
    "cache_calibrator",
    "create_network",
    "pin_fp32",
    "save_timing_cache",
    "set_flags",
    "set_workspace",
]

Log = Callable[[str], None]


_UNNAMED = "(Unnamed Layer*"


_SUFFIXED = re.compile(r"^(?P<base>.+)_\d+$")  # onnx-tensorrt's name for a node's later layers


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
