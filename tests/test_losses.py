import pytest
import torch

from b2v_edge.losses import LossConfig, consistency_loss, downsample, penalty_term, photometric_loss, total_loss
from b2v_edge.model import ModelOutput


def _out(full, thetas=None):
    b, n = full.shape[:2]
    scales = [downsample(full, (full.shape[-2] // 2 ** (5 - s), full.shape[-1] // 2 ** (5 - s))) for s in range(6)]
    eye = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    ftn = eye.expand(b, n - 1, 5, 2, 3).clone() if thetas is None else thetas
    itn = eye.expand(b, n - 1, 6, 2, 3).clone()
    return ModelOutput(scales, ftn, itn)


def test_photometric_zero_for_perfect_prediction_and_scales_with_error():
    gt = torch.rand(2, 3, 3, 64, 64)
    w = torch.full((3,), 1 / 3)
    zero = photometric_loss(_out(gt).scales, gt, (0, 0, 0, 0, 0, 1.0), w)
    assert torch.allclose(zero, torch.zeros(2), atol=1e-6)
    off = photometric_loss(_out(gt + 0.1).scales, gt, (0, 0, 0, 0, 0, 1.0), w)
    assert torch.allclose(off, torch.full((2,), 0.1), atol=1e-5)  # L1 at full res = the offset
    with pytest.raises(ValueError, match="scale weights"):
        photometric_loss(_out(gt).scales, gt, (1.0,), w)


def test_consistency_loss_zero_when_equal_positive_when_not():
    eye = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    same = eye.expand(1, 2, 5, 2, 3)
    assert float(consistency_loss(same, eye.expand(1, 2, 6, 2, 3)).sum()) == 0.0
    diff = same.clone()
    diff[:, :, 2, 0, 2] = 0.5
    assert float(consistency_loss(diff, eye.expand(1, 2, 6, 2, 3)).sum()) > 0.0


def test_penalty_is_negative_sad_to_time_symmetric_partner():
    gt = torch.zeros(1, 3, 3, 8, 8)
    gt[:, 2] = 1.0  # last frame white
    pred = torch.zeros(1, 3, 3, 8, 8)  # predicts first frame (black) correctly
    # partner of frame 0 is frame 2 (white): |0-1| = 1; partner of frame 2 is frame 0: |0-0| = 0
    assert torch.allclose(penalty_term(pred, gt), torch.tensor([-0.5]))


def test_total_loss_order_invariant_and_weighted():
    gt = torch.rand(2, 3, 3, 64, 64)
    out_rev = _out(gt.flip(dims=[1]))
    loss_inv, terms = total_loss(out_rev, gt, LossConfig(lambda_pt=0.0))
    assert terms["photo"] < 1e-5  # reversed prediction is as good as forward
    loss_fix, _ = total_loss(out_rev, gt, LossConfig(lambda_pt=0.0, order_invariant=False))
    assert float(loss_fix) > 0.05
    _, t = total_loss(_out(gt), gt, LossConfig(lambda_pt=1.0, lambda_tcl=0.0))
    assert t["pt"] < 0 and abs(t["loss"] - (t["photo"] + t["pt"])) < 1e-5
    with pytest.raises(ValueError, match="differ"):
        total_loss(_out(gt), gt[:, :, :, :32], LossConfig())


def test_middle_weight_scales_the_middle_frame_error():
    gt = torch.rand(1, 3, 3, 64, 64)
    pred = gt.clone()
    pred[:, 1] += 0.1  # only the middle frame is wrong
    cfg = dict(lambda_pt=0.0, lambda_tcl=0.0, order_invariant=False, scale_weights=(0, 0, 0, 0, 0, 1.0))
    _, equal = total_loss(_out(pred), gt, LossConfig(**cfg))
    _, heavy = total_loss(_out(pred), gt, LossConfig(middle_weight=3.0, **cfg))
    assert equal["photo"] == pytest.approx(0.1 / 3, rel=1e-3)  # weights normalised: 1/3 each
    assert heavy["photo"] == pytest.approx(0.1 * 3 / 5, rel=1e-3)  # middle 3/5


def test_charbonnier_and_fft_terms():
    from b2v_edge.losses import pixel_error

    gt = torch.rand(2, 3, 16, 16)
    pred = gt + 0.25
    l1 = pixel_error(pred, gt, LossConfig())
    charb = pixel_error(pred, gt, LossConfig(pixel="charbonnier"))
    assert torch.allclose(l1, torch.full((2,), 0.25)) and torch.allclose(charb, l1, atol=1e-5)
    assert float(pixel_error(gt, gt, LossConfig(pixel="charbonnier")).max()) < 2e-3
    fft = LossConfig(fft_weight=1.0)
    assert torch.allclose(pixel_error(gt, gt, fft), torch.zeros(2))
    smooth = torch.nn.functional.avg_pool2d(gt, 3, 1, 1)
    assert float((pixel_error(smooth, gt, fft) - pixel_error(smooth, gt, LossConfig())).min()) > 0
    with pytest.raises(ValueError, match="pixel loss must be one of"):
        LossConfig(pixel="l3")
    with pytest.raises(ValueError, match="--fft-weight must be >= 0"):
        LossConfig(fft_weight=-1)


def test_middle_loss_is_the_weighted_sum_over_scales():
    from b2v_edge.losses import downsample, middle_loss

    gt = torch.rand(2, 3, 32, 32)
    scales = [torch.zeros(2, 3, 32 // 2**k, 32 // 2**k) for k in range(5, -1, -1)]
    loss, terms = middle_loss(scales, gt, LossConfig())
    expect = sum(
        w * downsample(gt.unsqueeze(1), s.shape[-2:]).abs().mean() for s, w in zip(scales, LossConfig().scale_weights)
    )
    assert torch.allclose(loss, expect) and terms["loss"] == pytest.approx(float(expect))
    with pytest.raises(ValueError, match="differ"):
        middle_loss(scales, torch.rand(2, 3, 16, 16), LossConfig())
