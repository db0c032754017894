"""The formatter and the linter configured in pyproject.toml pass on the whole tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff")
    cmd = [exe] if exe else [sys.executable, "-m", "ruff"]
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def _needs_ruff() -> None:
    if shutil.which("ruff") is None:
        pytest.importorskip("ruff", reason="ruff is in the [dev] extra")


def test_ruff_format_is_clean() -> None:
    res = _ruff("format", "--check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_lint_is_clean() -> None:
    res = _ruff("check", ".")
    assert res.returncode == 0, res.stdout + res.stderr
