"""bench/launch.py and bench/count_nodes.py: a generation's code runs from its own tree; node counts are exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> Path:
    """A stand-in source tree: b2v_edge/ and export/ packages that name themselves."""
    for folder in ("b2v_edge", "export"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text(f"WHO = {str(root / folder)!r}\n")
    (root / "export" / "api.py").write_text("WHERE = __file__\n")
    return root


def test_launch_maps_the_package_dirs_of_another_tree(tmp_path):
    tree = _tree(tmp_path / "tree")
    script = tmp_path / "probe.py"
    script.write_text(
        "import b2v_edge, b2v_edge.export, b2v_edge.export.api as api\n"
        "print(b2v_edge.WHO); print(b2v_edge.export.WHO); print(api.WHERE)\n"
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "launch.py"), str(tree), str(script)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [str(tree / "b2v_edge"), str(tree / "export"), str(tree / "export" / "api.py")]


def test_histogram_counts_every_top_level_node(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import count_nodes
    finally:
        sys.path.remove(str(ROOT / "bench"))
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", vi[:1], vi[1:])), str(path))
    h = count_nodes.histogram(path)
    assert h["nodes"] == 3 and h["ops"] == {"Add": 1, "Relu": 2} and h["bytes"] == path.stat().st_size
