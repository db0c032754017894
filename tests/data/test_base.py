"""Tests of the common data contract helpers (b2v_edge.data.base)."""

from __future__ import annotations

import numpy as np
import pytest

from b2v_edge.data.base import Sample, average_frames, check_size, random_crop_flip


def _frames(n: int = 4, h: int = 10, w: int = 12) -> np.ndarray:
    return np.random.default_rng(0).random((n, h, w, 3), dtype=np.float32)


def test_average_frames_plain_and_linear() -> None:
    frames = _frames()
    np.testing.assert_allclose(average_frames(frames, linear=False), frames.mean(0), atol=1e-6)
    lin = average_frames(frames, linear=True, gamma=2.2)
    np.testing.assert_allclose(lin, (frames**2.2).mean(0) ** (1 / 2.2), atol=1e-5)
    assert lin.dtype == np.float32 and lin.shape == (10, 12, 3)
    # the power mean is >= the arithmetic mean
    assert np.all(lin >= average_frames(frames, linear=False) - 1e-6)


def test_average_frames_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        average_frames(np.zeros((4, 5), np.float32), linear=False)
    with pytest.raises(ValueError, match="gamma"):
        average_frames(_frames(), linear=True, gamma=0.0)


def test_random_crop_flip_is_consistent() -> None:
    frames = _frames(3, 20, 30)
    sample = Sample(average_frames(frames, False), frames, {"index": 0})
    rng = np.random.default_rng(3)
    for _ in range(8):
        out = random_crop_flip(sample, (8, 12), rng, flip=True)
        assert out.blurred.shape == (8, 12, 3) and out.frames.shape == (3, 8, 12, 3)
        assert out.blurred.flags.c_contiguous and out.frames.flags.c_contiguous
        np.testing.assert_allclose(out.blurred, out.frames.mean(0), atol=1e-6)
        assert {"crop", "hflip", "vflip"} <= set(out.meta)
    unchanged = random_crop_flip(sample, None, rng, flip=False)
    np.testing.assert_array_equal(unchanged.frames, frames)


def test_random_crop_too_large() -> None:
    frames = _frames(2, 8, 8)
    with pytest.raises(ValueError, match="larger"):
        random_crop_flip(Sample(frames[0], frames, {}), (16, 16), np.random.default_rng(), False)


def test_check_size() -> None:
    assert check_size(32) == (32, 32)
    assert check_size((16, 24)) == (16, 24)
    with pytest.raises(ValueError):
        check_size((4, 4))
    with pytest.raises(ValueError):
        check_size("big")
