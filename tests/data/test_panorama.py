"""Tests of the rotational (panorama) blur source on a tiny generated equirectangular image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from b2v_edge.data.panorama import PanoramaBlur, list_panoramas


def test_shapes_and_meta(panorama_root: Path) -> None:
    ds = PanoramaBlur(panorama_root, frames=3, size=(24, 32), split="test", length=4)
    assert len(ds) == 4 and ds.frames == 3 and ds.name == "panorama-test"
    s = ds[1]
    assert s.blurred.shape == (24, 32, 3) and s.frames.shape == (3, 24, 32, 3)
    assert s.blurred.dtype == np.float32 and s.frames.dtype == np.float32
    assert 0.0 <= s.blurred.min() and s.blurred.max() <= 1.0
    assert s.meta["n_subframes"] % 3 == 0 and s.meta["n_subframes"] >= 3
    assert s.meta["blur_strength"] > 0 and s.meta["image"] == "p0.png"


def test_zero_rotation_gives_identical_frames(panorama_root: Path) -> None:
    ds = PanoramaBlur(panorama_root, frames=5, size=(16, 16), max_angle_deg=0.0, split="test")
    s = ds[0]
    assert s.meta["n_subframes"] == 5 and s.meta["blur_strength"] == pytest.approx(0.0, abs=1e-9)
    for f in s.frames:
        np.testing.assert_array_equal(f, s.frames[0])
    np.testing.assert_allclose(s.blurred, s.frames[0], atol=1e-6)


def test_rotation_blurs_and_is_deterministic(panorama_root: Path) -> None:
    ds = PanoramaBlur(panorama_root, frames=3, size=(32, 32), max_angle_deg=20.0, split="test")
    a, b = ds[0], PanoramaBlur(panorama_root, 3, (32, 32), max_angle_deg=20.0, split="test")[0]
    np.testing.assert_array_equal(a.blurred, b.blurred)
    assert not np.array_equal(a.frames[0], a.frames[-1])
    gray = [cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var() for x in (a.blurred, a.frames[1])]
    assert gray[0] < gray[1]


def test_subframe_count_grows_with_angle(panorama_root: Path) -> None:
    ds = PanoramaBlur(panorama_root, 3, (16, 16), subframes_per_deg=2.0, max_subframes=30)
    assert ds.n_subframes(0.0) == 3
    assert ds.n_subframes(4.0) == 9  # ceil(8) -> 9 (multiple of 3)
    assert ds.n_subframes(6.0) == 12
    assert ds.n_subframes(100.0) == 30


def test_even_group_size_renders_group_centres(panorama_root: Path) -> None:
    ds = PanoramaBlur(
        panorama_root, frames=3, size=(16, 16), split="test", subframes_per_deg=0.0, max_subframes=6, max_angle_deg=5.0
    )
    ds.subframes_per_deg = 100.0  # force n_sub = 6 -> groups of 2
    s = ds[0]
    assert s.meta["n_subframes"] == 6 and s.frames.shape == (3, 16, 16, 3)


def test_split_by_sorted_filename(tmp_path: Path, panorama_root: Path) -> None:
    for i in range(10):
        (tmp_path / "many").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "many" / f"img{i:02d}.jpg"), np.zeros((8, 16, 3), np.uint8))
    assert [p.name for p in list_panoramas(tmp_path / "many", "test")] == ["img09.jpg"]
    assert len(list_panoramas(tmp_path / "many", "train")) == 9
    assert list_panoramas(panorama_root, "train") == list_panoramas(panorama_root, "test")


def test_errors(tmp_path: Path, panorama_root: Path) -> None:
    with pytest.raises(ValueError, match="root not found"):
        PanoramaBlur(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .jpg/.png"):
        PanoramaBlur(tmp_path / "empty")
    with pytest.raises(ValueError, match="fov_deg"):
        PanoramaBlur(panorama_root, fov_deg=200.0)
    with pytest.raises(ValueError, match="max_angle_deg"):
        PanoramaBlur(panorama_root, max_angle_deg=-1.0)
