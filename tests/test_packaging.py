"""pyproject.toml lists every package on disk (a non-editable install ships only the listed ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]


def _on_disk(cfg: dict) -> set:
    dirs = cfg["tool"]["setuptools"]["package-dir"]
    found = set()
    for top, folder in dirs.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join([top, *rel]))
    return found


def test_every_package_is_listed():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(cfg["tool"]["setuptools"]["packages"])
    assert _on_disk(cfg) - listed == set()
