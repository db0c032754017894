"""The two model generations the bench scripts compare, and how to run code from either.

* ``before``: the per-frame decoders (checkpoint format 1), commit :data:`BEFORE_REV`, checked out
  as a detached ``git worktree`` under ``bench/.work/before`` (created on first use);
* ``after``: this checkout (frame-batched decoders).

:func:`python_cmd` builds a command that runs a module of one generation with this interpreter:
``bench/launch.py`` puts a meta-path finder in front that maps ``b2v_edge``, ``b2v_edge.export``,
``b2v_edge.runtime`` and ``b2v_edge.calib`` onto that tree's folders (the package-dir mapping of
pyproject.toml), so both generations share one virtualenv and neither is installed twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from b2v_edge.common.atomic import atomic_write_bytes

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
RAW = HERE / "raw"
#: The last commit with per-frame decoders.
BEFORE_REV = "28e4a69^"
#: The demo checkpoint, relative to a generation's tree (:func:`demo`).
DEMO = "b2v_edge/weights/demo_lite_n7.pt"
#: The commit whose demo checkpoint ``after`` runs: the dense-block lite model ``before`` also ships,
#: so both generations run the same weights whatever demo this checkout ships.
DENSE_DEMO_REV = "1fa19cd"
GENERATIONS = ("before", "after")
SIZE = (256, 256)


def tree(generation: str) -> Path:
    """Source root of ``generation`` (``before`` is checked out on first use)."""
    if generation == "after":
        return REPO
    if generation != "before":
        raise ValueError(f"generation must be one of {GENERATIONS}, got {generation!r}")
    root = WORK / "before"
    if not (root / "b2v_edge").is_dir():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(root), BEFORE_REV], check=True)
    return root


def demo(generation: str) -> Path:
    """The dense demo checkpoint in ``generation``'s format (``before`` reads format 1 only, its own file)."""
    if generation != "after":
        return tree(generation) / DEMO
    out = WORK / f"after-demo-{DENSE_DEMO_REV}.pt"
    if not out.is_file():
        blob = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{DENSE_DEMO_REV}:{DEMO}"], capture_output=True, check=True
        )
        WORK.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, blob.stdout)
    return out


def commit(generation: str) -> str:
    """The commit hash ``generation`` runs (``after``: HEAD, plus ``+dirty`` with local changes)."""
    root = tree(generation)
    sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return sha.stdout.strip()


def python_cmd(generation: str, *args: str) -> List[str]:
    """``python bench/launch.py ROOT args...``: ``args`` run as ``python -m``/script with ROOT's b2v_edge."""
    return [sys.executable, str(HERE / "launch.py"), str(tree(generation)), *args]


def nice_env(threads: int) -> Dict[str, str]:
    """Environment of a measuring child: fixed thread counts for OpenMP/MKL users."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env
