"""b2v_edge/evaluate.py: means per frame position, and the breakdown per photo and per blur size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from b2v_edge.data.base import Sample
from b2v_edge.evaluate import blur_bin, evaluate


class _Source:
    """Two photos, blur sizes 4 and 20 px; the targets are a constant image, the blur a brighter one."""

    frames = 3
    name = "toy"

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> Sample:
        frames = np.full((3, 8, 8, 3), 0.5, np.float32)
        blurred = np.full((8, 8, 3), 0.6 if i % 2 else 0.7, np.float32)
        return Sample(blurred, frames, {"image": f"photo{i % 2}", "blur_strength": 4.0 if i < 2 else 20.0})


class _Perfect(torch.nn.Module):
    """Predicts 0.55 everywhere: halfway between blur and truth for photo1, better than both for photo0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 3, 3, x.shape[2], x.shape[3]), 0.55)


def test_groups_per_photo_and_blur_size():
    res = evaluate(_Perfect(), _Source(), with_ssim=False, batch=3)
    assert res.count == 4 and set(res.groups) == {"image", "blur"}
    photo0, photo1 = res.groups["image"]["photo0"], res.groups["image"]["photo1"]
    assert photo0.count == photo1.count == 2
    # photo0: blurred 0.7 (err 0.2) vs model 0.55 (err 0.05): +12.04 dB; photo1: 0.1 vs 0.05: +6.02 dB
    assert photo0.middle_gain == pytest.approx(20 * np.log10(0.2 / 0.05), abs=1e-3)
    assert photo1.ends_gain == pytest.approx(20 * np.log10(0.1 / 0.05), abs=1e-3)
    assert set(res.groups["blur"]) == {"< 8 px", ">= 16 px"}
    d = res.to_dict()
    assert d["groups"]["image"]["photo1"]["middle_gain_db"] == pytest.approx(photo1.middle_gain)


@pytest.mark.parametrize(("px", "label"), [(0.0, "< 8 px"), (7.99, "< 8 px"), (8.0, "8-16 px"), (30.0, ">= 16 px")])
def test_blur_bins(px, label):
    assert blur_bin(px) == label


class _Broken(torch.nn.Module):
    """Outputs NaN everywhere (a diverged checkpoint)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 3, 3, x.shape[2], x.shape[3]), float("nan"))


def test_nan_outputs_fail_instead_of_scoring_100_db():
    from b2v_edge.common.metrics import NonFiniteError

    with pytest.raises(NonFiniteError, match="NaN/Inf"):
        evaluate(_Broken(), _Source(), with_ssim=False)
    scored = evaluate(_Broken(), _Source(), with_ssim=False, allow_nonfinite=True)
    assert all(np.isnan(scored.psnr)) and not np.isnan(scored.baseline_psnr).any()
