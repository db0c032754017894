"""Helpers of the fault-injection tests (tests/faults): CLI runners, the failure contract, digests.

Every case asserts the same contract: a non-zero exit with one ``error:`` line and no traceback,
nothing outside the deploy dir touched, and the deploy dir still verifying afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

from tiny_model import TINY  # noqa: F401  (a Blur2Video small enough to export in seconds)
from typer.testing import CliRunner

from b2v_edge.cli.main import app
from b2v_edge.common.manifest import Manifest


def invoke(*args: object):
    """``b2v-edge *args`` in process (``result.exception`` holds any uncaught exception)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def run_cli(*args: object, timeout: float = 600, cwd: Path = None) -> subprocess.CompletedProcess:
    """``b2v-edge *args`` in a fresh interpreter (what a user's shell sees, tracebacks included)."""
    code = "from b2v_edge.cli.main import app; app(prog_name='b2v-edge')"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def assert_clean_failure(result, code: Optional[int] = 2, match: str = "") -> str:
    """Exit ``code`` (None: any non-zero), one stderr line ``error: ...`` containing ``match``, no traceback."""
    exc = getattr(result, "exception", None)
    assert exc is None or isinstance(exc, SystemExit), f"uncaught {exc!r}"
    rc = getattr(result, "exit_code", getattr(result, "returncode", None))
    out = (result.stdout or "") + (result.stderr or "")
    assert "Traceback" not in out, out
    assert rc == code if code is not None else rc not in (0, None), out
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and match in errors[0], result.stderr
    return errors[0]


def tree_digest(root: Path) -> Dict[str, str]:
    """``relative path -> sha256`` (``-> link target`` for symlinks) of everything under ``root``."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            out[rel] = "->" + os.readlink(path) if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def verify_deploy(root: Path) -> Manifest:
    """Load the manifest and check every file it lists against its sha256 (raises otherwise)."""
    manifest = Manifest.load(root)
    for art in manifest.artifacts:
        manifest.verify(art)
    for target, record in manifest.calibration.items():
        for entry in (record.get("files") or {}).values() if isinstance(record, dict) else ():
            path = manifest.resolve(entry["path"], f"calibration.{target}")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], path
    return manifest
