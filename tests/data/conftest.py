"""Tiny on-disk dataset fixtures for the data tests (generated, never committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import pytest


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def make_gopro_all(root: Path, scenes: Dict[str, Dict[str, int]], hw=(16, 24)) -> Dict[str, List[np.ndarray]]:
    """Write ``root/<split>/<scene>/NNNNNN.png`` random frames; return RGB uint8 frames by scene."""
    rng = np.random.default_rng(0)
    written: Dict[str, List[np.ndarray]] = {}
    for split, counts in scenes.items():
        for scene, count in counts.items():
            frames = [rng.integers(0, 256, (*hw, 3), dtype=np.uint8) for _ in range(count)]
            for j, rgb in enumerate(frames):
                _write(root / split / scene / f"{j + 1:06d}.png", rgb)
            written[f"{split}/{scene}"] = frames
    return written


def make_gopro_pairs(root: Path, count: int = 3, hw=(16, 24)) -> None:
    """Write ``root/{train,test}/<scene>/{blur,blur_gamma,sharp}/NNNNNN.png``."""
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for j in range(count):
            for sub in ("blur", "blur_gamma", "sharp"):
                rgb = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
                _write(root / split / "GOPR0001_11_00" / sub / f"{j + 1:06d}.png", rgb)


def make_panorama(path: Path, hw=(64, 128)) -> np.ndarray:
    """Write a 2:1 equirectangular checkerboard + gradient image; return it as RGB uint8."""
    h, w = hw
    v, u = np.mgrid[0:h, 0:w]
    checker = ((u // 8 + v // 8) % 2) * 180 + 40
    rgb = np.stack([checker, u * 255 // w, v * 255 // h], axis=-1).astype(np.uint8)
    _write(path, rgb)
    return rgb


@pytest.fixture
def gopro_all_root(tmp_path: Path) -> Path:
    make_gopro_all(tmp_path / "GOPRO_Large_all", {"train": {"sceneA": 15, "sceneB": 7}, "test": {"sceneC": 8}})
    return tmp_path / "GOPRO_Large_all"


@pytest.fixture
def gopro_pairs_root(tmp_path: Path) -> Path:
    make_gopro_pairs(tmp_path / "GOPRO_Large")
    return tmp_path / "GOPRO_Large"


@pytest.fixture
def panorama_root(tmp_path: Path) -> Path:
    make_panorama(tmp_path / "pano" / "p0.png")
    return tmp_path / "pano"
