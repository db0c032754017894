"""Tests of the GoPro readers on tiny generated GOPRO_Large_all / GOPRO_Large trees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from b2v_edge.data.gopro import GoProAll, GoProPairs


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def test_windows_are_sorted_and_non_overlapping(gopro_all_root: Path) -> None:
    ds = GoProAll(gopro_all_root, "train", frames=7)
    assert len(ds) == 3 and ds.frames == 7  # sceneA: 15 frames -> 2 windows, sceneB: 7 -> 1
    assert [w[0] for w in ds.windows] == ["sceneA", "sceneA", "sceneB"]
    assert ds.windows[0][1][0].name == "000001.png" and ds.windows[1][1][0].name == "000008.png"
    assert len(GoProAll(gopro_all_root, "test", frames=7)) == 1
    assert len(GoProAll(gopro_all_root, "train", frames=5)) == 4  # 3 + 1


def test_blur_is_mean_of_the_frames(gopro_all_root: Path) -> None:
    ds = GoProAll(gopro_all_root, "train", frames=7)
    s = ds[1]
    expected = np.stack([_read(f) for f in ds.windows[1][1]])
    assert s.frames.shape == (7, 16, 24, 3) and s.frames.dtype == np.float32
    np.testing.assert_allclose(s.frames, expected, atol=1e-6)
    np.testing.assert_allclose(s.blurred, expected.mean(0), atol=1e-5)
    assert s.meta["scene"] == "sceneA" and s.meta["files"][0] == "000008.png"
    lin = GoProAll(gopro_all_root, "train", frames=7, linear=True)[1]
    np.testing.assert_allclose(lin.blurred, (expected**2.2).mean(0) ** (1 / 2.2), atol=1e-4)
    assert np.abs(lin.blurred - s.blurred).max() > 1e-2


def test_crop_and_flip(gopro_all_root: Path) -> None:
    ds = GoProAll(gopro_all_root, "train", frames=7, crop=(8, 12), flip=True, seed=3)
    for i in range(len(ds)):
        s = ds[i]
        assert s.blurred.shape == (8, 12, 3) and s.frames.shape == (7, 8, 12, 3)
        np.testing.assert_allclose(s.blurred, s.frames.mean(0), atol=1e-5)
    with pytest.raises(ValueError, match="larger"):
        GoProAll(gopro_all_root, "train", frames=7, crop=(64, 64))[0]


def test_errors_name_path_and_layout(tmp_path: Path, gopro_all_root: Path) -> None:
    with pytest.raises(ValueError, match=r"root not found: .*nope.*GOPRO_Large_all"):
        GoProAll(tmp_path / "nope")
    (tmp_path / "empty" / "train" / "scene").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"split folder not found: .*test"):
        GoProAll(tmp_path / "empty", "test")
    with pytest.raises(ValueError, match=r"no PNG frames under .*train"):
        GoProAll(tmp_path / "empty", "train")
    with pytest.raises(ValueError, match="has 9 frames"):
        GoProAll(gopro_all_root, "test", frames=9)
    with pytest.raises(ValueError, match="split"):
        GoProAll(gopro_all_root, "val")
    with pytest.raises(IndexError):
        GoProAll(gopro_all_root, "test")[1]


def test_pairs_middle_frame_only(gopro_pairs_root: Path) -> None:
    ds = GoProPairs(gopro_pairs_root, "test")
    assert len(ds) == 3 and ds.frames == 1
    s = ds[0]
    scene = gopro_pairs_root / "test" / "GOPR0001_11_00"
    np.testing.assert_allclose(s.blurred, _read(scene / "blur" / "000001.png"), atol=1e-6)
    np.testing.assert_allclose(s.frames[0], _read(scene / "sharp" / "000001.png"), atol=1e-6)
    assert s.frames.shape == (1, 16, 24, 3)
    gamma = GoProPairs(gopro_pairs_root, "test", blur_dir="blur_gamma")[0]
    np.testing.assert_allclose(gamma.blurred, _read(scene / "blur_gamma" / "000001.png"), atol=1e-6)
    cropped = GoProPairs(gopro_pairs_root, "train", crop=(8, 8), flip=True)[2]
    assert cropped.blurred.shape == (8, 8, 3) and cropped.frames.shape == (1, 8, 8, 3)


def test_pairs_errors(tmp_path: Path, gopro_pairs_root: Path, gopro_all_root: Path) -> None:
    with pytest.raises(ValueError, match=r"root not found: .*GOPRO_Large layout"):
        GoProPairs(tmp_path / "missing")
    with pytest.raises(ValueError, match="blur_dir"):
        GoProPairs(gopro_pairs_root, blur_dir="sharp")
    with pytest.raises(ValueError, match=r"no PNGs under .*blur"):
        GoProPairs(gopro_all_root, "test")  # wrong layout: no blur/ sub-folders
    (gopro_pairs_root / "test" / "GOPR0001_11_00" / "sharp" / "000002.png").unlink()
    with pytest.raises(ValueError, match="missing sharp frame"):
        GoProPairs(gopro_pairs_root, "test")
