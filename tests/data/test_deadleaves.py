"""b2v_edge/data/deadleaves.py: procedural dead-leaves images."""

from __future__ import annotations

import numpy as np
import pytest

from b2v_edge.data.deadleaves import DeadLeavesOptions, dead_leaves


def _spectrum_slope(gray: np.ndarray) -> float:
    """Slope of log power vs log radial frequency (natural images: about -2)."""
    f = np.abs(np.fft.fftshift(np.fft.fft2(gray - gray.mean()))) ** 2
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h // 2, xx - w // 2).astype(int)
    radial = np.bincount(r.ravel(), f.ravel()) / np.maximum(np.bincount(r.ravel()), 1)
    k = np.arange(4, min(h, w) // 2)
    return float(np.polyfit(np.log(k), np.log(radial[k]), 1)[0])


def test_shape_dtype_and_determinism():
    a = dead_leaves((64, 80), np.random.default_rng(3))
    b = dead_leaves((64, 80), np.random.default_rng(3))
    c = dead_leaves((64, 80), np.random.default_rng(4))
    assert a.shape == (64, 80, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_images_have_edges_texture_and_colour():
    img = dead_leaves((128, 128), np.random.default_rng(0)).astype(np.float32)
    assert img.std() > 20  # not flat
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 500  # many colours (anti-aliasing, gradients, textures)
    grad = np.abs(np.diff(img.mean(axis=2), axis=1))
    assert (grad > 30).mean() > 0.01  # sharp edges exist


def test_power_spectrum_is_close_to_natural_images():
    slopes = [_spectrum_slope(dead_leaves((128, 128), np.random.default_rng(s)).mean(axis=2)) for s in range(4)]
    assert -3.2 < float(np.mean(slopes)) < -1.2


def test_alpha_controls_the_share_of_small_leaves():
    rough = [
        np.abs(
            np.diff(
                dead_leaves((96, 96), np.random.default_rng(s), DeadLeavesOptions(alpha=3.2)).astype(np.float32), axis=0
            )
        ).mean()
        for s in range(3)
    ]
    smooth = [
        np.abs(
            np.diff(
                dead_leaves((96, 96), np.random.default_rng(s), DeadLeavesOptions(alpha=2.2)).astype(np.float32), axis=0
            )
        ).mean()
        for s in range(3)
    ]
    assert np.mean(rough) > np.mean(smooth)


@pytest.mark.parametrize(
    "kwargs", [dict(alpha=1.0), dict(min_radius=0.0), dict(max_radius_frac=2.0), dict(textured=1.5), dict(defocus=-0.1)]
)
def test_bad_options(kwargs):
    with pytest.raises(ValueError):
        DeadLeavesOptions(**kwargs)


def test_too_small():
    with pytest.raises(ValueError, match="at least 8x8"):
        dead_leaves((4, 64), np.random.default_rng(0))
