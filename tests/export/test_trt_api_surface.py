"""The TensorRT code checked against the real bindings of every extracted version (no network).

``tests/trt_api/surfaces/<version>.json`` hold the API surface of NVIDIA's real ``tensorrt`` module
(``tests/trt_api/extract_surface.py``). Here:

* every version branch of the build and the runtime runs against a stand-in gated by that surface,
  and every ``tensorrt`` name it touched must exist in the real module of that version;
* every ``trt.<Name>[.<member>]`` written in the product code exists in some real version;
* the stand-in offers nothing the real module lacks, with the real enum values and the real
  no-GPU behaviour.

TensorRT 8.0 / 8.2 / 8.5 have no bindings wheel: their surface is 8.6.1's minus what their
``python/src`` does not bind (``trt_surfaces.ADDED_IN``).
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path
from typing import Dict, List, Set, Tuple

import numpy as np
import pytest
import trt_standin
from trt_standin import StandIn, StandInCuda
from trt_surfaces import SURFACES, Surface, surface_versions, union_surface

from b2v_edge.common.manifest import Manifest
from b2v_edge.common.trt_version import TrtVersion
from b2v_edge.export.trt_build import BuildOptions, build_engine
from b2v_edge.runtime.engines.trt import TrtEngine

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [
    ROOT / "export" / "trt_build.py",
    ROOT / "export" / "trt_network.py",
    ROOT / "runtime" / "engines" / "trt.py",
    ROOT / "runtime" / "engines" / "cuda.py",
]
REQUIRED = {"8.6", "10.0", "10.3", "11.0"}  # + the newest 10.x and 11.x on the registry
MODELLED = ["8.0.1", "8.2.1", "8.5.2"]  # no bindings wheel: 8.6 surface minus later names


def test_surfaces_cover_the_required_versions():
    versions = surface_versions()
    assert REQUIRED <= {".".join(v.split(".")[:2]) for v in versions}
    assert [v for v in versions if v.startswith("10.")][-1] == "10.16.1.11"  # sorted by number
    assert [v for v in versions if v.startswith("11.")][-1] == "11.4.0.106"
    for version in versions:
        data = json.loads((SURFACES / f"{version}.json").read_text())
        assert data["tensorrt"] == version and data["source"]["wheel"].endswith(".whl")
        assert len(data["source"]["sha256"]) == 64 and "Builder" in data["classes"]


def _line_for(version: str) -> str:
    return TrtVersion.parse(version).line


def _branches(version: str) -> List[BuildOptions]:
    """Every build branch a TensorRT version can take."""
    v = TrtVersion.parse(version)
    precisions = ["fp32", "fp16"] + (["int8"] if v.line not in ("trt8.0", "trt8.2") else [])
    extra = [{"version_compatible": True, "hardware_compatibility": "ampere+"}] if v.compatibility_modes else []
    return [BuildOptions(precision=p) for p in precisions] + [BuildOptions(precision="fp16", **e) for e in extra]


def _run_all_branches(version: str, trt_deploys: Dict[str, Path], tmp_path: Path) -> List[Tuple[str, str]]:
    deploy = trt_deploys[_line_for(version)]
    touched: List[Tuple[str, str]] = []
    for options in _branches(version):
        trt, cuda = StandIn(version), StandInCuda(cc="8.6")
        art = build_engine(deploy, options, trt=trt, cuda=cuda)
        trt.memory = cuda
        loaded = TrtEngine.from_plan(
            deploy / art.path, cuda=cuda, trt=trt, host_code_allowed=options.version_compatible
        )
        with loaded as engine:
            x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
            assert engine.infer(x).shape == (1, 2, 3, 64, 64)
        touched += trt.touched
    Manifest.load(deploy)  # still readable after every build
    return touched


@pytest.mark.parametrize("version", surface_versions() + MODELLED)
def test_every_name_each_version_branch_touches_exists(version, trt_deploys, tmp_path):
    touched = _run_all_branches(version, trt_deploys, tmp_path)
    surface = Surface(version)
    missing = sorted({f"{owner}.{name}" for owner, name in touched if not surface.has(owner, name)})
    assert not missing, f"TensorRT {version} has no {missing}"
    names = {name for _, name in touched}
    v = TrtVersion.parse(version)
    assert "TF32" in names and "clear_flag" in names
    assert ("execute_async_v3" in names) == v.named_io and ("execute_async_v2" in names) == (not v.named_io)
    assert ("engine_host_code_allowed" in names) == v.host_code_opt_in
    assert ("set_memory_pool_limit" in names) == v.memory_pools


def _trt_chains(path: Path) -> Set[Tuple[str, str]]:
    """``(Name, member)`` of every ``trt.Name`` / ``trt.Name.member`` in a source file (``member`` may be "")."""
    chains: Set[Tuple[str, str]] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base = node.value
        is_trt = (isinstance(base, ast.Name) and base.id == "trt") or (
            isinstance(base, ast.Attribute) and base.attr in ("_trt", "trt") and isinstance(base.value, ast.Name)
        )
        if is_trt:
            chains.add((node.attr, ""))
        elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == "trt":
            chains.add((base.attr, node.attr))
    return chains


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: p.name)
def test_every_trt_name_in_the_code_exists_in_a_real_version(path):
    module = union_surface("module")
    chains = _trt_chains(path)
    bad = [f"trt.{n}" for n, _ in chains if n not in module and n not in ("__version__",)]
    members = [(n, m) for n, m in chains if m and not m.startswith("__")]
    bad += [f"trt.{n}.{m}" for n, m in members if n in module and m not in union_surface(n)]
    assert not bad, f"{path.name} uses names no real TensorRT has: {bad}"


# ---- the stand-in against the real surfaces ------------------------------------------------------
def _standin_classes() -> List[type]:
    return [c for _, c in inspect.getmembers(trt_standin, inspect.isclass) if getattr(c, "_real", "")]


def _implemented(cls: type) -> Set[str]:
    names = {n for n in vars(cls) if not n.startswith("_")}
    init = inspect.getsource(cls.__init__) if "__init__" in vars(cls) else ""
    names |= {n for n in __import__("re").findall(r'setattr\(self, "([a-z][a-z_0-9]*)"', init)}
    return names


def test_standin_implements_only_real_names():
    for cls in _standin_classes():
        extra = _implemented(cls) - union_surface(cls._real) - trt_standin.TEST_API
        assert not extra, f"stand-in {cls.__name__} offers {extra}, which no real {cls._real} has"
    module_names = {n for n in vars(StandIn) if not n.startswith("_")} - trt_standin.TEST_API
    assert module_names <= union_surface("module"), module_names - union_surface("module")


@pytest.mark.parametrize("version", surface_versions() + MODELLED)
def test_standin_offers_nothing_the_version_lacks(version):
    trt = StandIn(version)
    surface = trt.surface
    objects = {
        "IBuilderConfig": trt_standin._Config(trt),
        "Runtime": trt_standin._Runtime(trt),
        "ICudaEngine": trt.engine(),
        "IExecutionContext": trt.engine().create_execution_context(),
        "Builder": trt_standin._Builder(trt),
    }
    for real, obj in objects.items():
        for name in _implemented(type(obj)):
            assert hasattr(obj, name) == surface.has(real, name), f"{real}.{name} in TensorRT {version}"
    for enum in ("BuilderFlag", "NetworkDefinitionCreationFlag", "DataType", "MemoryPoolType"):
        if not surface.has("module", enum):
            assert not hasattr(trt, enum)
            continue
        real = surface.enums[enum]
        assert {k: int(getattr(getattr(trt, enum), k)) for k in real} == real  # the real values


def test_real_enum_values_the_code_relies_on():
    assert int(StandIn("11.0.0.114").NetworkDefinitionCreationFlag.STRONGLY_TYPED) == 0
    assert int(StandIn("10.3.0").NetworkDefinitionCreationFlag.STRONGLY_TYPED) == 1
    assert not hasattr(StandIn("11.4.0.106").BuilderFlag, "FP16") and not hasattr(
        StandIn("10.3.0").NetworkDefinitionCreationFlag, "EXPLICIT_PRECISION"
    )
    assert not hasattr(StandIn("11.0.0.114"), "IInt8EntropyCalibrator2")


@pytest.mark.parametrize("version", surface_versions())
def test_no_gpu_behaviour_is_the_real_one(version):
    data = json.loads((SURFACES / f"{version}.json").read_text())
    assert data["without_gpu"] == {
        "Builder": f"TypeError: {trt_standin.NO_GPU}",
        "Runtime": f"TypeError: {trt_standin.NO_GPU}",
    }
    trt = StandIn(version)
    trt.no_gpu = True
    for factory in (trt.Builder, trt.Runtime):
        with pytest.raises(TypeError, match="factory function returned nullptr"):
            factory(None)
