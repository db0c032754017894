"""The TensorRT op-support data table (``trt_ops.json``) and target helpers.

A *target* names where a graph will run: a TensorRT version line (``trt8.0`` ... ``trt11``) or
``onnxruntime``. The table itself is data with its sources; this module only loads and queries it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any, Dict, FrozenSet, Optional, Tuple

from b2v_edge.common.trt_version import LINES, TrtVersion

TARGETS: Tuple[str, ...] = (*LINES, "onnxruntime")
TABLE_FILE = "trt_ops.json"


@functools.lru_cache(maxsize=1)
def load_table() -> Dict[str, Any]:
    """The parsed ``trt_ops.json`` shipped with the package."""
    ref = importlib.resources.files("b2v_edge.export").joinpath(TABLE_FILE)
    return json.loads(ref.read_text(encoding="utf-8"))


def version_key(version: str) -> Tuple[int, ...]:
    """``"8.6.1.6"`` -> ``(8, 6, 1, 6)``; non-numeric parts end the key."""
    parts = []
    for piece in str(version).split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def target_info(target: str) -> Dict[str, Any]:
    """The table row of ``target`` (``tensorrt``, ``opset``, ``int8``, ``devices``...)."""
    targets = load_table()["targets"]
    if target not in targets:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    return dict(targets[target])


def trt_version_of(target: str) -> Optional[str]:
    """TensorRT version a target stands for (``"8.5"``), None for ``onnxruntime``."""
    return target_info(target)["tensorrt"]


def table_version(trt_version: str) -> str:
    """The newest table version not newer than ``trt_version`` (``"8.6.1"`` -> ``"8.6"``)."""
    key = version_key(trt_version)
    known = sorted(load_table()["versions"], key=version_key)
    best = known[0]
    for version in known:
        if version_key(version) <= key:
            best = version
    return best


def supported_ops(trt_version: str) -> FrozenSet[str]:
    """ONNX ops the TensorRT ``trt_version`` parser accepts (cumulative over the table)."""
    key = version_key(table_version(trt_version))
    ops = set()
    for version, names in load_table()["supported_ops"].items():
        if version_key(version) <= key:
            ops.update(names)
    return frozenset(ops)


def opset_range(trt_version: str) -> Tuple[int, int]:
    """(min, max) ai.onnx opset the parser of ``trt_version`` supports."""
    row = load_table()["versions"][table_version(trt_version)]
    return int(row["min_opset"]), int(row["max_opset"])


def target_for_trt(trt_version: str) -> str:
    """The target name for an installed TensorRT version (``"10.3.0"`` -> ``"trt10"``).

    Raises:
        ValueError: not a version, or older than 8.0.
    """
    return TrtVersion.parse(trt_version).line
