"""export/numerics.py: a graph whose outputs hold NaN/Inf never passes verification."""

from __future__ import annotations

import math

import numpy as np
import pytest

from b2v_edge.export.numerics import compare


@pytest.mark.parametrize("where", ["output", "reference"])
def test_nan_never_verifies(where):
    ref = [np.full((1, 3, 3, 8, 8), 0.5, np.float32) for _ in range(2)]
    out = [r.copy() for r in ref]
    (out if where == "output" else ref)[1][0, 0, 0, 0, 0] = np.nan
    result = compare(ref, out, "fp32", 40.0)
    assert not result and math.isnan(result.psnr_db) and math.isnan(result.max_abs_err)
    assert result.to_dict()["passed"] is False


def test_identical_outputs_pass():
    ref = [np.full((1, 3, 3, 8, 8), 0.5, np.float32)]
    assert compare(ref, [ref[0].copy()], "fp32", 40.0)
