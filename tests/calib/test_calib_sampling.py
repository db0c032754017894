"""Blur-stratified sampling and its coverage summary."""

from __future__ import annotations

import numpy as np
import pytest

from b2v_edge.calib.sampling import Coverage, stratified_sample


def test_rare_strong_blur_is_represented():
    scores = np.concatenate([np.full(90, 1.0) + np.linspace(0, 0.1, 90), np.linspace(9, 10, 10)])
    idx, cov = stratified_sample(scores, 20, bins=2, seed=0, metric="blur_px")
    assert len(idx) == 20 == len(set(idx)) and idx == sorted(idx)
    assert sum(1 for i in idx if i >= 90) == 10  # the rare stratum gets an equal share
    assert [s.selected for s in cov.strata] == [10, 10] and cov.candidates == 100 and cov.empty_strata == 0


def test_water_filling_redistributes_and_is_deterministic():
    scores = [0.0] * 30 + [10.0] * 2
    a, cov = stratified_sample(scores, 12, bins=4, seed=3, metric="m")
    b, _ = stratified_sample(scores, 12, bins=4, seed=3, metric="m")
    assert a == b and sum(s.selected for s in cov.strata) == 12
    assert cov.strata[-1].selected == 2 and cov.strata[0].selected == 10


def test_constant_and_nan_scores():
    idx, cov = stratified_sample([1.0, 1.0, float("nan"), 1.0], 3, bins=4, seed=0, metric="m")
    assert len(idx) == 3 and cov.selected == 3


def test_coverage_roundtrip():
    _, cov = stratified_sample(list(range(50)), 10, bins=5, seed=0, metric="laplacian")
    assert Coverage.from_dict(cov.to_dict()) == cov


@pytest.mark.parametrize("count", [0, 5])
def test_bad_counts(count):
    with pytest.raises(ValueError, match="cannot pick"):
        stratified_sample([1.0, 2.0, 3.0], count, bins=2, seed=0, metric="m")
