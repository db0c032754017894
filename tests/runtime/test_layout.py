"""runtime/layout.py: full-resolution layouts (padded dynamic pass, blended static tiles) and rescales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from b2v_edge.runtime.engines import Engine, EngineSpec
from b2v_edge.runtime.layout import FrameLayout, InputLimits, plan_layout, run_passes, tile_starts


class Echo(Engine):
    """Returns its input N times; records the batch shapes it was given."""

    def __init__(self, shape, n=3, **limits):
        b, _, h, w = shape
        spec = EngineSpec(
            "blurred", shape, "frames", (b, n, 3, h, w), "fp32", n, "stand-in", "none", Path("e"), **limits
        )
        super().__init__(spec)
        self.calls = []

    def _infer_impl(self, x):
        self.calls.append(x.shape)
        return np.repeat(x[:, None], self.spec.frames, axis=1)


def _frame(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _restore(engine, frame, fit="full"):
    limits = InputLimits.from_spec(engine.spec)
    layout = plan_layout(frame.shape[:2], limits, fit)
    return layout, layout.merge(run_passes(engine, layout.split(frame), limits))


# ---- geometry ---------------------------------------------------------------------------------
def test_tile_starts_cover_with_overlap():
    assert tile_starts(256, 256, 32) == [0]
    starts = tile_starts(640, 256, 32)
    assert starts[0] == 0 and starts[-1] == 640 - 256 and len(starts) == 3
    assert all(b - a <= 256 - 32 for a, b in zip(starts, starts[1:]))  # every seam overlaps >= 32 px
    with pytest.raises(ValueError):
        tile_starts(100, 256, 32)


def test_static_graph_tiles_a_640x360_frame():
    layout = plan_layout((360, 640), InputLimits((256, 256)))
    assert layout.mode == "tiles" and layout.input_size == (256, 256) and layout.passes == 6
    assert layout.canvas == (360, 640) and layout.full_resolution
    assert "6 overlapping 256x256 tiles" in layout.describe() and "static graph" in layout.describe()
    for w, (y0, x0) in zip(layout.weights(), layout.origins):
        assert w.shape == (256, 256) and w.min() > 0 and w.max() == 1.0
        if y0 == 0 and x0 == 0:
            assert w[0, 0] == 1.0 and w[-1, -1] < 0.1  # frame corner kept, inner corner faded


def test_dynamic_graph_pads_to_32_and_respects_a_profile():
    layout = plan_layout((360, 640), InputLimits(None, multiple=32))
    assert (layout.mode, layout.input_size, layout.passes) == ("pad", (384, 640), 1)
    assert "one pass, padded to 384x640 (dynamic graph)" in layout.describe()
    capped = plan_layout((720, 1280), InputLimits(None, multiple=32, max_size=(480, 640)))
    assert capped.mode == "tiles" and capped.input_size == (480, 640) and capped.passes == 2 * 3
    small = plan_layout((40, 50), InputLimits(None, multiple=32, min_size=(64, 64)))
    assert small.input_size == (64, 64)


def test_small_frame_on_static_graph_is_edge_padded_not_scaled():
    layout = plan_layout((100, 120), InputLimits((256, 256)))
    assert layout.passes == 1 and layout.canvas == (256, 256)
    x = layout.split(_frame(100, 120))
    assert x.shape == (1, 3, 256, 256)
    assert np.array_equal(x[0, :, 100:, :120], np.repeat(x[0, :, 99:100, :120], 156, axis=1))  # edge rows


def test_rescale_fits_are_described_as_lossy():
    layout = plan_layout((360, 640), InputLimits((256, 256)), "letterbox")
    assert layout.mode == "letterbox" and layout.passes == 1 and not layout.full_resolution
    assert "resolution reduced" in layout.describe()
    with pytest.raises(ValueError, match="fit must be one of full, letterbox, resize"):
        plan_layout((10, 10), InputLimits((8, 8)), "crop")


# ---- numerics: an identity engine gives the frame back exactly --------------------------------------
@pytest.mark.parametrize(
    "shape, limits, size",
    [
        ((1, 3, 64, 96), {}, (150, 250)),  # static: overlapping tiles
        ((1, 3, 64, 96), {}, (40, 50)),  # static, frame smaller than the tile
        ((None, 3, None, None), {"pad_multiple": 32}, (150, 250)),  # dynamic: one padded pass
        ((None, 3, None, None), {"pad_multiple": 32, "max_input_shape": (2, 3, 96, 128)}, (150, 250)),  # capped
    ],
)
def test_identity_engine_round_trips_every_pixel(shape, limits, size):
    frame = _frame(*size)
    layout, images = _restore(Echo(shape, **limits), frame)
    assert len(images) == 3 and all(img.shape == frame.shape and img.dtype == np.uint8 for img in images)
    assert max(int(np.abs(img.astype(int) - frame).max()) for img in images) <= 1  # float blend, rounding
    assert layout.full_resolution


def test_tiles_are_batched_when_the_batch_is_dynamic():
    engine = Echo((None, 3, 64, 96))
    layout, _ = _restore(engine, _frame(150, 250))
    assert layout.passes == 9 and [c[0] for c in engine.calls] == [8, 1]  # at most 8 tiles per call
    one = Echo((1, 3, 64, 96))
    _restore(one, _frame(150, 250))
    assert len(one.calls) == layout.passes and {c[0] for c in one.calls} == {1}
    four = Echo((4, 3, 64, 96))
    _, images = _restore(four, _frame(150, 250))  # a static batch of 4: the last call is filled up
    assert {c[0] for c in four.calls} == {4} and images[0].shape == (150, 250, 3)


def test_merge_keeps_only_the_requested_frames_and_checks_shapes():
    engine = Echo((1, 3, 64, 96), n=5)
    limits = InputLimits.from_spec(engine.spec)
    layout = plan_layout((70, 100), limits)
    out = run_passes(engine, layout.split(_frame(70, 100)), limits)
    assert len(layout.merge(out, [2])) == 1
    with pytest.raises(ValueError, match="expected"):
        layout.merge(out[:1])
    with pytest.raises(ValueError, match="layout is for"):
        layout.split(_frame(10, 10))
    assert isinstance(layout, FrameLayout)


# ---- the shipped demo model on a 640x360 frame: full resolution, no softer ------------------------------
def _sharp_pattern():
    """A static, sharp 640x360 test card: a timestamp, a checkerboard and 1-pixel lines."""
    import cv2

    img = np.full((360, 640, 3), 200, np.uint8)
    for y in range(0, 360, 20):
        for x in range(0, 640, 20):
            if (x // 20 + y // 20) % 2:
                img[y : y + 10, x : x + 10] = (20, 90, 160)
    cv2.putText(img, "12:34:56 b2v-edge 0123456789", (20, 180), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    img[250:350:8, 20:620] = 30
    return img


def _sharpness(bgr):
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F).var())


def test_demo_model_keeps_a_640x360_frame_sharp():
    from b2v_edge.runtime import open_engine

    frame = _sharp_pattern()
    with open_engine(Path(__file__).parents[2] / "b2v_edge" / "weights" / "demo") as engine:
        assert engine.spec.size == (256, 256)  # a static graph: tiles
        full_layout, full = _restore(engine, frame)
        _, scaled = _restore(engine, frame, "letterbox")
    middle = full[len(full) // 2]
    assert middle.shape == frame.shape and full_layout.passes == 6
    assert _sharpness(middle) >= 0.9 * _sharpness(frame)  # no softer than the input
    psnr = 10 * np.log10(255.0**2 / np.mean((middle.astype(float) - frame) ** 2))
    assert psnr > 30  # a sharp, still frame comes back as itself
    assert _sharpness(scaled[len(scaled) // 2]) < 0.2 * _sharpness(frame)  # what squeezing to 256x256 did
