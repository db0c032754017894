"""The runtime never imports torch (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _runtime_modules():
    """Every module of b2v_edge.runtime (found on disk, so new modules are covered too) + the run CLI."""
    import pkgutil

    import b2v_edge.runtime as rt

    names = [m.name for m in pkgutil.walk_packages(rt.__path__, prefix="b2v_edge.runtime.")]
    return ["b2v_edge.runtime", *names, "b2v_edge.cli.run"]


def _check(code: str) -> None:
    script = (
        textwrap.dedent(code) + "\nimport sys\nbad = sorted(m for m in sys.modules if m.split('.')[0] == 'torch')\n"
    )
    script += "print('TORCH' if bad else 'CLEAN', bad[:5])\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("CLEAN"), out.stdout


def test_runtime_modules_do_not_import_torch():
    modules = _runtime_modules()
    assert "b2v_edge.runtime.engines.trt" in modules and "b2v_edge.runtime.pipeline" in modules
    _check("import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in modules))


def test_running_the_synthetic_source_does_not_import_torch():
    _check(
        """
        from b2v_edge.runtime import open_source
        src = open_source("synthetic", size=(16, 16), frames=3)
        next(iter(src))
        """
    )
