"""runtime/engines/base.py: the input and output checks every backend shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from b2v_edge.runtime.engines.base import Engine, EngineError, EngineSpec, NonFiniteOutputError


class _Identity(Engine):
    """Stand-in backend: returns the input N times (or a fixed array)."""

    def __init__(self, n=2, shape=(1, 3, 8, 8), out=None):
        super().__init__(
            EngineSpec(
                "blurred",
                shape,
                "frames",
                (shape[0], n, *shape[1:]),
                "fp32",
                n,
                "test",
                "none",
                Path("x.onnx"),
            )
        )
        self.out = out
        self.closed = False

    def _infer_impl(self, x):
        return self.out if self.out is not None else np.repeat(x[:, None], self.spec.frames, axis=1)

    def close(self):
        self.closed = True


# ---- checks in the base class -------------------------------------------------------------
@pytest.mark.parametrize(
    "x, match",
    [
        ([[0.0]], "numpy array"),
        (np.zeros((1, 3, 8, 8), np.float64), "float32"),
        (np.zeros((1, 3, 8, 8), np.uint8), "divide uint8"),
        (np.zeros((3, 8, 8), np.float32), "rank 4"),
        (np.zeros((1, 3, 8, 9), np.float32), r"does not match the model's \[1,3,8,8\]"),
        (np.full((1, 3, 8, 8), 200.0, np.float32), "looks like 0..255"),
        (np.full((1, 3, 8, 8), -0.5, np.float32), r"in \[0, 1\]"),
        (np.full((1, 3, 8, 8), np.nan, np.float32), "NaN"),
    ],
)
def test_input_checks_live_in_the_base(x, match):
    with pytest.raises(EngineError, match=match):
        _Identity().infer(x)


def test_output_checks_shape_nan_and_cast():
    x = np.full((1, 3, 8, 8), 0.5, np.float32)
    assert _Identity().infer(x).shape == (1, 2, 3, 8, 8)
    half = _Identity(out=np.zeros((1, 2, 3, 8, 8), np.float16)).infer(x)
    assert half.dtype == np.float32
    with pytest.raises(EngineError, match="returned shape"):
        _Identity(out=np.zeros((1, 3, 8, 8), np.float32)).infer(x)
    bad = np.zeros((1, 2, 3, 8, 8), np.float32)
    bad[0, 1, 0, 0, 0] = np.nan
    with pytest.raises(NonFiniteOutputError, match="NaN/Inf"):
        _Identity(out=bad).infer(x)
    assert np.isnan(_Identity(out=bad).infer(x, check_finite=False)).any()


def test_context_manager_closes():
    with _Identity() as eng:
        pass
    assert eng.closed
    assert "x.onnx" in repr(eng) and eng.spec.label == "test/none fp32"
