"""b2v_edge/verify/data.py: parity/bench samples keep the images' own resolution (no resampling)."""

from __future__ import annotations

import cv2
import numpy as np

from b2v_edge.verify.data import load_samples, read_images


def test_images_are_centre_cropped_at_native_resolution(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (100, 150, 3), dtype=np.uint8)
    small = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "1.png"), big)
    cv2.imwrite(str(tmp_path / "2.png"), small)
    first, second = read_images(tmp_path, (64, 64), 2)
    np.testing.assert_allclose(first.blurred, big[18:82, 43:107, ::-1] / 255.0, atol=1e-6)  # every pixel kept
    assert second.blurred.shape == (64, 64, 3) and first.frames is None
    np.testing.assert_allclose(second.blurred[:40, :50], small[:, :, ::-1] / 255.0, atol=1e-6)
    assert np.array_equal(second.blurred[40:, :50], np.repeat(second.blurred[39:40, :50], 24, axis=0))  # edge pad
    samples, notes = load_samples(f"images:{tmp_path}", 3, (64, 64), 3)
    assert len(samples) == 2 and notes == [f"images:{tmp_path} holds only 2 images"]
