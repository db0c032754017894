"""runtime/engines: one module per concern and no import cycle (base imports no backend)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set

ENGINES = Path(__file__).resolve().parents[3] / "runtime" / "engines"


def _sibling_imports() -> Dict[str, Set[str]]:
    """``{module: engines modules it imports}`` from the source (relative imports, any depth)."""
    graph: Dict[str, Set[str]] = {}
    for path in ENGINES.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            if isinstance(node, ast.ImportFrom) and (
                node.level > 1 or (node.module or "").startswith("b2v_edge.runtime")
            ):
                found.add("<outside engines: " + str(node.module) + ">")
        graph[path.stem] = found
    return graph


def test_no_import_cycle_and_base_imports_no_backend():
    graph = _sibling_imports()
    assert graph["base"] == set() and graph["selection"] == set()
    assert graph["cuda"] == {"base"} and graph["ort"] == {"base"} and graph["trt"] == {"base", "cuda"}
    assert graph["__init__"] == {"base"}
    seen, stack = set(), []

    def visit(node: str) -> None:
        assert node not in stack, f"import cycle: {' -> '.join(stack + [node])}"
        if node in seen:
            return
        stack.append(node)
        for nxt in graph.get(node, ()):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for module in graph:
        visit(module)


def test_engines_import_nothing_from_the_rest_of_the_runtime():
    assert not [m for deps in _sibling_imports().values() for m in deps if m.startswith("<outside")]
