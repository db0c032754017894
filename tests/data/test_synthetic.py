"""Tests of the zero-download synthetic blur source."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from b2v_edge.data.bundled import PHOTOS, load_bundled, split_images
from b2v_edge.data.synthetic import SyntheticBlur, SyntheticStream, default_subframes


def _lap_var(rgb: np.ndarray) -> float:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


@pytest.mark.parametrize("frames", [3, 7])
def test_shapes_dtypes_range(frames: int) -> None:
    ds = SyntheticBlur(frames=frames, size=(48, 64), split="test", length=3)
    assert len(ds) == 3 and ds.frames == frames and ds.name == "synthetic-test"
    for s in ds:
        assert s.blurred.shape == (48, 64, 3) and s.frames.shape == (frames, 48, 64, 3)
        assert s.blurred.dtype == np.float32 and s.frames.dtype == np.float32
        for arr in (s.blurred, s.frames):
            assert arr.min() >= 0.0 and arr.max() <= 1.0
        assert s.meta["source"] == "synthetic" and s.meta["blur_strength"] > 0
        assert s.meta["n_subframes"] == frames * default_subframes(frames)


def test_default_subframes() -> None:
    assert default_subframes(7) == 5 and default_subframes(5) == 7 and default_subframes(3) == 13


def test_test_split_is_deterministic() -> None:
    a = SyntheticBlur(5, (32, 32), "test", seed=1)[3]
    b = SyntheticBlur(5, (32, 32), "test", seed=1)[3]
    np.testing.assert_array_equal(a.blurred, b.blurred)
    np.testing.assert_array_equal(a.frames, b.frames)
    c = SyntheticBlur(5, (32, 32), "test", seed=2)[3]
    assert not np.array_equal(a.blurred, c.blurred)


def test_bundled_photos_are_distinct_and_cycled_by_the_test_split() -> None:
    names, images = split_images("test")
    assert names == PHOTOS and len(names) >= 12
    for i, a in enumerate(images):  # no identical picture under another name (e.g. cat == chelsea)
        assert not any(a.shape == b.shape and np.array_equal(a, b) for b in images[i + 1 :])
    te = SyntheticBlur(3, (32, 32), "test", length=2 * len(names))
    assert [te[i].meta["image"] for i in range(len(names))] == list(names)
    assert te[len(names)].meta["image"] == names[0]


def test_splits_share_the_photos_but_not_the_seeds() -> None:
    tr, te = SyntheticBlur(3, (32, 32), "train")[0], SyntheticBlur(3, (32, 32), "test")[0]
    assert tr.meta["image"] == te.meta["image"] and not np.array_equal(tr.blurred, te.blurred)


def test_bundled_loader_skips_unavailable() -> None:
    assert load_bundled("no_such_image") is None
    assert load_bundled("camera").shape[2] == 3  # gray -> RGB


def test_blur_is_mean_of_subframes_when_k_is_1() -> None:
    ds = SyntheticBlur(5, (32, 32), "test", subframes=1)
    s = ds[0]
    np.testing.assert_allclose(s.blurred, s.frames.mean(0), atol=1e-5)
    lin = SyntheticBlur(5, (32, 32), "test", subframes=1, linear=True)[0]
    np.testing.assert_allclose(lin.blurred, ((s.frames**2.2).mean(0)) ** (1 / 2.2), atol=1e-4)
    assert not np.allclose(lin.blurred, s.blurred, atol=1e-3)


def test_blurred_is_blurrier_than_middle_frame() -> None:
    ds = SyntheticBlur(7, (64, 64), "test", strength=(12.0, 24.0))
    for i in range(4):
        s = ds[i]
        assert _lap_var(s.blurred) < _lap_var(s.frames[3])


def test_strength_scales_blur() -> None:
    weak = SyntheticBlur(3, (48, 48), "test", strength=(1.0, 2.0), subframes=3)
    strong = SyntheticBlur(3, (48, 48), "test", strength=(16.0, 20.0), subframes=3)
    w = np.mean([weak[i].meta["blur_strength"] for i in range(6)])
    s = np.mean([strong[i].meta["blur_strength"] for i in range(6)])
    assert s > 5 * w


def test_even_subframes_and_indexing() -> None:
    ds = SyntheticBlur(3, (32, 32), "train", subframes=2, length=5)
    assert ds[0].frames.shape == (3, 32, 32, 3)
    assert ds[10**6].meta["index"] == 10**6  # train is an unbounded stream
    with pytest.raises(IndexError):
        SyntheticBlur(3, (32, 32), "test", length=5)[5]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="strength"):
        SyntheticBlur(strength=(5.0, 1.0))
    with pytest.raises(ValueError, match="frames"):
        SyntheticBlur(frames=0)
    with pytest.raises(ValueError, match="split"):
        SyntheticBlur(split="val")


def test_stream_yields_bgr_uint8_with_timestamps() -> None:
    stream = SyntheticStream(frames=3, size=(32, 48), seed=0, fps=10.0, length=2)
    out = [next(stream) for _ in range(3)]
    assert all(f.dtype == np.uint8 and f.shape == (32, 48, 3) for f, _ in out)
    assert [t for _, t in out] == pytest.approx([0.0, 0.1, 0.2])
    np.testing.assert_array_equal(out[0][0], out[2][0])  # cycles over `length` samples
    rgb = (SyntheticBlur(3, (32, 48), "test", length=2)[0].blurred * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out[0][0], rgb[:, :, ::-1])


def test_blur_is_centred_on_the_middle_frame() -> None:
    """Blurred-vs-target PSNR peaks at the middle frame and falls off symmetrically.

    Regression: the middle target used to land exactly on the canvas grid (the only frame not
    smoothed by bilinear resampling), so its baseline PSNR dipped below frames 3 and 5.
    """
    ds = SyntheticBlur(frames=7, size=(96, 96), split="test", length=24)
    psnr = np.mean([[-10 * np.log10(np.mean((s.blurred - f) ** 2)) for f in s.frames] for s in ds], axis=0)
    assert int(np.argmax(psnr)) == 3, psnr
    assert psnr[3] > psnr[2] and psnr[3] > psnr[4]
    assert np.all(np.diff(psnr[:4]) > 0) and np.all(np.diff(psnr[3:]) < 0), psnr


def test_blur_px_sets_the_blur_in_output_pixels_whatever_the_size() -> None:
    small = SyntheticBlur(3, (48, 48), "test", subframes=3, blur_px=(16.0, 20.0))
    large = SyntheticBlur(3, (96, 96), "test", subframes=3, blur_px=(16.0, 20.0))
    default_small = SyntheticBlur(3, (48, 48), "test", subframes=3, strength=(16.0, 20.0))
    s, big, d = (np.mean([src[i].meta["blur_strength"] for i in range(6)]) for src in (small, large, default_small))
    assert 10.0 < s < 24.0 and 10.0 < big < 24.0  # the same range in pixels at both sizes
    assert d < 0.6 * s  # the default scales the 128-px strength down with the size
    with pytest.raises(ValueError, match="blur_px"):
        SyntheticBlur(3, (48, 48), "test", blur_px=(5.0, 1.0))
