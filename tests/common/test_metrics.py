"""common/metrics.py: PSNR/SSIM and the finite-or-fail helpers every pass/fail decision uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from b2v_edge.common.metrics import (
    MAX_PSNR,
    NonFiniteError,
    better,
    count_nonfinite,
    passes,
    psnr,
    require_finite,
    sequence_scores,
    worst,
)


def test_psnr_of_identical_images_is_capped():
    a = np.full((4, 4, 3), 0.5)
    assert psnr(a, a) == MAX_PSNR
    assert psnr(a, a + 0.1) == pytest.approx(20.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_psnr_of_a_nonfinite_output_is_nan_never_a_high_score(bad):
    a = np.full((4, 4, 3), 0.5)
    b = a.copy()
    b[0, 0, 0] = bad
    assert math.isnan(psnr(b, a)) and math.isnan(psnr(a, b))
    assert all(math.isnan(v) for v in sequence_scores(b[None], a[None], with_ssim=False).psnr)


def test_nan_fails_every_decision():
    nan = float("nan")
    assert passes(30.0, 25.0) and not passes(20.0, 25.0)
    assert not passes(nan, 25.0) and not passes(math.inf, 25.0) and not passes(None, 0.0)
    assert better(1.0, -math.inf) and better(2.0, 1.0) and better(1.0, nan)
    assert not better(nan, -math.inf) and not better(1.0, 2.0)
    assert math.isnan(worst([30.0, nan, 40.0])) and math.isnan(worst([nan, 30.0]))
    assert worst([30.0, 20.0]) == 20.0


def test_require_finite_counts_bad_values():
    x = np.zeros((2, 3), np.float32)
    assert require_finite(x, "outputs") is x
    x[0, 1], x[1, 2] = np.nan, np.inf
    assert count_nonfinite(x) == 2
    with pytest.raises(NonFiniteError, match="outputs hold 2 NaN/Inf value"):
        require_finite(x, "outputs")
