"""b2v_edge/common/paths.py: the per-user cache folder."""

from __future__ import annotations

from pathlib import Path

from b2v_edge.common.paths import cache_dir


def test_cache_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "b2v-edge"
    assert cache_dir("calib") == tmp_path / "b2v-edge" / "calib"
    assert not cache_dir("calib").exists()


def test_cache_dir_defaults_to_home_cache(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir("x") == Path.home() / ".cache" / "b2v-edge" / "x"
