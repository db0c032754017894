"""The public API of real ``tensorrt`` modules, as recorded in ``tests/trt_api/surfaces`` (TESTS ONLY).

One JSON file per TensorRT version, extracted from NVIDIA's bindings: module names, class members
and enum values. TensorRT 8.0 / 8.2 / 8.5 have no bindings wheel: their surface is 8.6.1's minus the
names ``python/src`` of ``release/8.0`` / ``8.2`` / ``8.4`` / ``8.5`` does not bind (:data:`ADDED_IN`).
``trt_standin.py`` gates its stand-in ``tensorrt`` module by these surfaces.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

SURFACES = Path(__file__).resolve().parents[1] / "trt_api" / "surfaces"
#: Names TensorRT 8.6's bindings have that older 8.x bindings do not, with the first release binding
#: them (grep of ``python/src/**/*.cpp`` on NVIDIA/TensorRT release/8.0, 8.2, 8.4, 8.5).
ADDED_IN: Dict[Tuple[str, str], Tuple[int, int]] = {
    ("BuilderFlag", "OBEY_PRECISION_CONSTRAINTS"): (8, 2),
    ("BuilderFlag", "PREFER_PRECISION_CONSTRAINTS"): (8, 2),
    ("module", "MemoryPoolType"): (8, 4),
    ("IBuilderConfig", "set_memory_pool_limit"): (8, 4),
    ("IBuilderConfig", "get_memory_pool_limit"): (8, 4),
    ("module", "TensorIOMode"): (8, 5),
    ("ICudaEngine", "num_io_tensors"): (8, 5),
    ("ICudaEngine", "get_tensor_name"): (8, 5),
    ("ICudaEngine", "get_tensor_mode"): (8, 5),
    ("ICudaEngine", "get_tensor_shape"): (8, 5),
    ("ICudaEngine", "get_tensor_dtype"): (8, 5),
    ("IExecutionContext", "set_input_shape"): (8, 5),
    ("IExecutionContext", "get_tensor_shape"): (8, 5),
    ("IExecutionContext", "set_tensor_address"): (8, 5),
    ("IExecutionContext", "execute_async_v3"): (8, 5),
    ("BuilderFlag", "VERSION_COMPATIBLE"): (8, 6),
    ("module", "HardwareCompatibilityLevel"): (8, 6),
    ("IBuilderConfig", "hardware_compatibility_level"): (8, 6),
    ("Runtime", "engine_host_code_allowed"): (8, 6),
}


def version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:4])


def surface_versions() -> List[str]:
    """Versions with a surface extracted from real bindings, oldest first."""
    return sorted((p.stem for p in SURFACES.glob("*.json")), key=version_key)


@functools.lru_cache(maxsize=None)
def _read(version: str) -> Dict[str, Any]:
    return json.loads((SURFACES / f"{version}.json").read_text(encoding="utf-8"))


class Surface:
    """The public names (and enum values) of one TensorRT version's ``tensorrt`` module."""

    def __init__(self, version: str) -> None:
        self.version = version
        key = version_key(version)[:2]
        real = [v for v in surface_versions() if version_key(v)[:2] == key]
        lower = [v for v in surface_versions() if version_key(v)[0] == key[0] and version_key(v)[:2] <= key]
        self.source = (real or lower or ["8.6.1"])[-1]
        data = _read(self.source)
        self.module: Set[str] = set(data["module"])
        self.classes: Dict[str, Set[str]] = {k: set(v) for k, v in data["classes"].items()}
        self.enums: Dict[str, Dict[str, int]] = {k: dict(v) for k, v in data["enums"].items()}
        if key < (8, 6) and self.source.startswith("8."):
            self._drop_newer(key)

    def _drop_newer(self, key: Tuple[int, ...]) -> None:
        for (owner, name), since in ADDED_IN.items():
            if key >= since:
                continue
            if owner == "module":
                self.module.discard(name)
                self.classes.pop(name, None)
                self.enums.pop(name, None)
            else:
                self.classes.get(owner, set()).discard(name)
                self.enums.get(owner, {}).pop(name, None)

    def has(self, owner: str, name: str) -> bool:
        """Whether ``owner.name`` exists (``owner`` = ``"module"`` or a class/enum name)."""
        if owner == "module":
            return name in self.module
        return name in self.classes.get(owner, ()) or name in self.enums.get(owner, {})


def union_surface(owner: str) -> Set[str]:
    """Every name ``owner`` has in any extracted version (what a stand-in may implement)."""
    names: Set[str] = set()
    for version in surface_versions():
        data = _read(version)
        names |= set(data["module"]) if owner == "module" else set(data["classes"].get(owner, ()))
        names |= set(data["enums"].get(owner, {}))
    return names
