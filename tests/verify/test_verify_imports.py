"""b2v_edge.verify imports neither torch nor onnx (checked in a fresh interpreter): parity of a stored
reference set and doctor run on the base install."""

from __future__ import annotations

import pkgutil
import subprocess
import sys


def test_verify_modules_do_not_import_torch_or_onnx():
    import b2v_edge.verify as verify

    modules = [f"b2v_edge.verify.{m.name}" for m in pkgutil.iter_modules(verify.__path__)]
    assert {"b2v_edge.verify.parity", "b2v_edge.verify.reference", "b2v_edge.verify.doctor"} <= set(modules)
    modules += ["b2v_edge.cli.parity", "b2v_edge.cli.doctor", "b2v_edge.cli.main"]
    script = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    script += "import sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx'))[:5])\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
