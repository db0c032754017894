"""runtime/preprocess.py: shapes, letterbox geometry, BGR→RGB, and the round trip back."""

from __future__ import annotations

import numpy as np
import pytest

from b2v_edge.runtime.preprocess import FrameMapping, postprocess, preprocess, to_bgr_uint8


def _frame(h=48, w=64):
    """A smooth colour image (survives resampling up to interpolation error)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 0.5 + 0.4 * np.sin(x / 9.0 + y / 13.0)], axis=-1)
    return (img * 255 + 0.5).astype(np.uint8)


def test_output_layout_range_and_color_order():
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[..., 2] = 255  # red in BGR
    x, m = preprocess(frame, (32, 32))
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    assert x[0, 0].min() == 1.0 and x[0, 1:].max() == 0.0  # channel 0 is R
    assert m == FrameMapping((32, 32), (32, 32), (0, 0, 32, 32), "letterbox")


def test_letterbox_keeps_aspect_and_pads():
    x, m = preprocess(np.full((48, 64, 3), 255, np.uint8), (64, 64), pad_value=0)
    assert m.content == (8, 0, 48, 64) and m.scale == (1.0, 1.0)
    assert x[0, :, :8].max() == 0.0 and x[0, :, 56:].max() == 0.0 and x[0, :, 8:56].min() == 1.0
    assert m.to_source(0.0, 8.0) == (0.0, 0.0)


def test_resize_mode_stretches():
    x, m = preprocess(_frame(48, 64), (32, 32), mode="resize")
    assert x.shape == (1, 3, 32, 32) and m.content == (0, 0, 32, 32)
    assert m.scale == pytest.approx((32 / 48, 32 / 64))


@pytest.mark.parametrize("mode", ["letterbox", "resize"])
@pytest.mark.parametrize("size", [(48, 64), (96, 128), (64, 64)])
def test_round_trip_identity_engine(mode, size):
    frame = _frame(48, 64)
    x, m = preprocess(frame, size, mode=mode)
    frames = np.repeat(x[:, None], 3, axis=1)  # an engine that returns its input N=3 times
    out = postprocess(frames, m)
    assert len(out) == 3 and all(o.shape == frame.shape and o.dtype == np.uint8 for o in out)
    err = np.abs(out[0].astype(int) - frame.astype(int))
    tol = 1 if size == (48, 64) else 6  # exact at native size; interpolation error otherwise
    assert err.max() <= tol and err.mean() < 2


def test_postprocess_without_mapping_and_clipping():
    frames = np.zeros((2, 3, 4, 5), np.float32)
    frames[0] = 2.0
    frames[1] = -1.0
    out = postprocess(frames)
    assert out[0].shape == (4, 5, 3) and out[0].max() == 255 and out[1].max() == 0
    keep = postprocess(
        np.zeros((1, 2, 3, 8, 8), np.float32),
        FrameMapping((4, 4), (8, 8), (2, 2, 4, 4), "letterbox"),
        to_source_size=False,
    )
    assert keep[0].shape == (4, 4, 3)


def test_gray_and_bgra_frames_are_accepted():
    assert preprocess(np.zeros((16, 16), np.uint8), (8, 8))[0].shape == (1, 3, 8, 8)
    assert preprocess(np.zeros((16, 16, 4), np.uint8), (8, 8))[0].shape == (1, 3, 8, 8)


@pytest.mark.parametrize(
    "frame, kwargs, match",
    [
        (np.zeros((8, 8, 3), np.float32), {}, "uint8"),
        (np.zeros((8, 8, 2), np.uint8), {}, r"shape \(8, 8, 2\)"),
        (np.zeros((8, 8, 3), np.uint8), {"mode": "crop"}, "mode"),
        (np.zeros((8, 8, 3), np.uint8), {"size": (0, 8)}, "positive"),
    ],
)
def test_bad_input(frame, kwargs, match):
    size = kwargs.pop("size", (8, 8))
    with pytest.raises(ValueError, match=match):
        preprocess(frame, size, **kwargs)
    with pytest.raises(TypeError):
        preprocess([[0]], (8, 8))


def test_postprocess_bad_shapes():
    with pytest.raises(ValueError, match="one sample"):
        postprocess(np.zeros((2, 3, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"\[N,3,H,W\]"):
        postprocess(np.zeros((3, 4, 4), np.float32))


def test_to_bgr_uint8_rounds():
    img = to_bgr_uint8(np.full((3, 1, 1), 0.5, np.float32))
    assert img.shape == (1, 1, 3) and img[0, 0, 0] == 128


def test_full_mode_is_a_centred_crop_at_native_resolution():
    frame = np.arange(40 * 60 * 3, dtype=np.uint32).reshape(40, 60, 3).astype(np.uint8)
    x, mapping = preprocess(frame, (32, 32), "full")
    expected, _ = preprocess(np.ascontiguousarray(frame[4:36, 14:46]), (32, 32), "resize")
    np.testing.assert_array_equal(x, expected)  # nothing resampled
    assert mapping.src_size == (32, 32) and mapping.content == (0, 0, 32, 32) and mapping.mode == "full"
    small, m = preprocess(frame[:20, :10], (32, 32), "full")  # smaller: edge-padded, not scaled
    assert m.content == (0, 0, 20, 10) and np.array_equal(
        small[0, :, 20:, :10], np.repeat(small[0, :, 19:20, :10], 12, 1)
    )
    assert [img.shape for img in postprocess(np.repeat(small[:, None], 2, 1), m)] == [(20, 10, 3)] * 2
