"""The dependency direction of the packages, read from their source (AST, top-level and lazy imports).

common <- runtime <- verify, calib <- export <- the PyTorch core; the numpy blur renderers of ``b2v_edge.data``
sit beside common (the runtime's synthetic stream uses them, torch never). ``common`` imports nothing of b2v-edge above it;
the training core (model, data, losses, train, evaluate, checkpoint) never imports the deploy side.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"b2v_edge.runtime": ROOT / "runtime", "b2v_edge.export": ROOT / "export", "b2v_edge.calib": ROOT / "calib"}


def _package_files(package: str) -> Iterator[Tuple[str, Path]]:
    if package in FOLDERS:
        base = FOLDERS[package]
    else:
        base = ROOT / Path(*package.split("."))
    if base.is_file() or base.with_suffix(".py").is_file():
        yield package, base if base.is_file() else base.with_suffix(".py")
        return
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        yield ".".join([package, *parts]), path


def _imports(module: str, path: Path) -> List[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.append(prefix)
            names += [f"{prefix}.{a.name}" for a in node.names]
    return names


def _violations(package: str, forbidden: Tuple[str, ...]) -> Dict[str, List[str]]:
    bad: Dict[str, List[str]] = {}
    for module, path in _package_files(package):
        hits = sorted({n for n in _imports(module, path) for f in forbidden if n == f or n.startswith(f + ".")})
        if hits:
            bad[module] = hits
    return bad


DEPLOY_SIDE = ("b2v_edge.runtime", "b2v_edge.export", "b2v_edge.calib", "b2v_edge.cli", "b2v_edge.verify")
CORE = ("b2v_edge.model", "b2v_edge.train", "b2v_edge.losses", "b2v_edge.checkpoint", "b2v_edge.evaluate")


def test_common_imports_nothing_above_it():
    above = ("b2v_edge.runtime", "b2v_edge.export", "b2v_edge.calib", "b2v_edge.cli", "b2v_edge.verify")
    above += CORE + ("b2v_edge.data", "torch", "onnx")
    assert _violations("b2v_edge.common", above) == {}


@pytest.mark.parametrize(
    "package", ["b2v_edge.model", "b2v_edge.data", "b2v_edge.train", "b2v_edge.losses", "b2v_edge.evaluate"]
)
def test_training_core_does_not_import_the_deploy_side(package):
    assert _violations(package, DEPLOY_SIDE) == {}


def test_checkpoint_module_does_not_import_the_deploy_side():
    assert _violations("b2v_edge.checkpoint", DEPLOY_SIDE) == {}


def test_runtime_imports_no_training_code():
    """The numpy blur renderers of ``b2v_edge.data`` feed the built-in synthetic stream; nothing else."""
    forbidden = CORE + ("b2v_edge.data.torch_dataset", "torch", "b2v_edge.export", "b2v_edge.calib")
    assert _violations("b2v_edge.runtime", forbidden) == {}


def test_verify_imports_from_export_only_the_torch_free_tensorrt_tables():
    """verify sits below export: doctor reads the TensorRT support table and build defaults, nothing else."""
    allowed = ("b2v_edge.export.targets", "b2v_edge.export.trt_recipe")
    bad = {}
    for module, path in _package_files("b2v_edge.verify"):
        hits = [n for n in _imports(module, path) if n.startswith("b2v_edge.export") and not n.startswith(allowed)]
        if hits:
            bad[module] = hits
    assert bad == {}
    assert _violations("b2v_edge.verify", ("b2v_edge.calib", "b2v_edge.cli", "b2v_edge.train")) == {}


def test_the_checker_sees_a_forbidden_import(tmp_path):
    fake = tmp_path / "mod.py"
    fake.write_text("from .runtime.engine import Engine\nimport torch\n", encoding="utf-8")
    names = _imports("b2v_edge.mod", fake)
    assert "b2v_edge.runtime.engine" in names and "torch" in names
