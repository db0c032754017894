"""Training losses (section 4.3, Eqs. 3-6). The paper's equations and weights were lost; the defaults
below are our choices, named here and recorded in every checkpoint.

* Multi-scale photometric loss (Eq. 3): ``sum_s w_s * mean_k L1(pred_k^s, down_s(gt_k))`` where
  ``down_s`` is bilinear (antialiased) resizing of the ground truth to the prediction's size.
* Transformation consistency loss (Eq. 4): for every non-middle frame, the mean squared distance
  between the thetas predicted at adjacent levels (FTN thetas across the 5 feature levels and ITN
  thetas across the 6 scales). Thetas are in normalised coordinates, so one global motion has the
  same theta at every scale.
* Penalty term (Eq. 5): ``-mean |pred_k - gt_{N-1-k}|`` over non-middle frames, at full resolution:
  pushes frame k away from its time-symmetric partner (and from a copy of the middle frame).
* Total (Eq. 6): photometric + lambda_tcl * TCL + lambda_pt * penalty.

The pixel error of the photometric loss is L1 (default) or Charbonnier (``sqrt(d^2 + eps^2)``), plus
optionally a frequency term: the L1 distance of the orthonormal 2-D FFTs (real and imaginary parts),
weighted by ``fft_weight`` — the "frequency loss" of MIMO-UNet (Cho et al., ICCV 2021), which
rewards restoring high frequencies that a plain pixel loss lets the network leave blurred.

:func:`middle_loss` is the photometric loss of the middle frame alone (training the encoder and the
middle decoder on their own, before the other frames).

Order ambiguity: a blur and its time-reversed sequence are the same image, so the supervision is
ambiguous. With ``order_invariant=True`` (our default, as in the evaluation protocol of the paper)
each sample is scored against whichever of the forward / reversed ground truth gives the lower
full-resolution photometric loss, and all terms then use that order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from b2v_edge.common.errors import ConfigError

from .model.network import ModelOutput

# Named defaults (our choices; the paper does not give them).
SCALE_WEIGHTS = (0.02, 0.04, 0.08, 0.16, 0.32, 1.0)  # H/32 ... H: fine scales dominate
LAMBDA_TCL = 0.01
LAMBDA_PT = 0.02
PIXEL_LOSSES = ("l1", "charbonnier")
CHARBONNIER_EPS = 1e-3


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms.

    Args:
        scale_weights: w_s for the six scales, coarse (H/32) to fine (H).
        lambda_tcl: weight of the transformation consistency loss.
        lambda_pt: weight of the penalty term (applied to a negative SAD, so it lowers the total).
        order_invariant: score each sample against the better of forward / reversed ground truth.
        middle_weight: extra weight of the middle frame in the photometric loss (1 = equal).
        pixel: ``"l1"`` or ``"charbonnier"``.
        fft_weight: weight of the frequency term (0 = off).
    """

    scale_weights: Tuple[float, ...] = SCALE_WEIGHTS
    lambda_tcl: float = LAMBDA_TCL
    lambda_pt: float = LAMBDA_PT
    order_invariant: bool = True
    middle_weight: float = 1.0
    pixel: str = "l1"
    fft_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.pixel not in PIXEL_LOSSES:
            raise ConfigError(f"pixel loss must be one of {PIXEL_LOSSES}, got {self.pixel!r}")
        if len(self.scale_weights) != 6:
            raise ConfigError(f"scale_weights needs 6 weights (H/32 .. H), got {len(self.scale_weights)}")
        for name in ("lambda_tcl", "lambda_pt", "fft_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if not self.middle_weight > 0:
            raise ConfigError(f"--middle-weight must be > 0, got {self.middle_weight}")

    def to_dict(self) -> Dict[str, object]:
        d = asdict(self)
        d["scale_weights"] = list(self.scale_weights)
        return d


def downsample(gt: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear (antialiased) resize of ``gt [B,N,3,H,W]`` to ``size`` = (h, w)."""
    b, n, c, h, w = gt.shape
    if (h, w) == tuple(size):
        return gt
    flat = F.interpolate(gt.reshape(b * n, c, h, w), size=size, mode="bilinear", align_corners=False, antialias=True)
    return flat.reshape(b, n, c, size[0], size[1])


def _frame_weights(n: int, middle_weight: float, device: torch.device) -> torch.Tensor:
    weights = torch.ones(n, device=device)
    weights[n // 2] = middle_weight
    return weights / weights.sum()


def per_sample_l1(pred: torch.Tensor, gt: torch.Tensor, frame_w: torch.Tensor) -> torch.Tensor:
    """Frame-weighted mean absolute error per sample: ``[B,N,3,h,w]`` x2 -> ``[B]``."""
    per_frame = (pred - gt).abs().mean(dim=(2, 3, 4))  # [B, N]
    return (per_frame * frame_w).sum(dim=1)


def pixel_error(pred: torch.Tensor, gt: torch.Tensor, cfg: "LossConfig") -> torch.Tensor:
    """Per-image error ``[..., C, h, w] -> [...]``: pixel term (+ ``fft_weight`` x frequency term)."""
    diff = pred - gt
    if cfg.pixel == "charbonnier":
        err = torch.sqrt(diff * diff + CHARBONNIER_EPS**2).mean(dim=(-3, -2, -1))
    else:
        err = diff.abs().mean(dim=(-3, -2, -1))
    if cfg.fft_weight > 0:
        spec = torch.fft.rfft2(diff, norm="ortho")
        err = err + cfg.fft_weight * (spec.real.abs() + spec.imag.abs()).mean(dim=(-3, -2, -1))
    return err


def middle_loss(
    scales: Sequence[torch.Tensor], gt_middle: torch.Tensor, cfg: "LossConfig"
) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Multi-scale photometric loss of the middle frame alone.

    Args:
        scales: middle images ``[B,3,h_s,w_s]``, H/32 .. H (``Blur2Video.forward_middle``).
        gt_middle: the sharp middle frame ``[B,3,H,W]`` in [0, 1].
        cfg: the loss weights (``scale_weights``, ``pixel``, ``fft_weight``).

    Returns:
        (scalar loss, dict of float terms for logging).
    """
    if len(scales) != len(cfg.scale_weights):
        raise ValueError(f"{len(scales)} prediction scales but {len(cfg.scale_weights)} scale weights")
    if scales[-1].shape != gt_middle.shape:
        raise ValueError(f"prediction {tuple(scales[-1].shape)} and ground truth {tuple(gt_middle.shape)} differ")
    gt = gt_middle.unsqueeze(1)
    total = gt.new_zeros(())
    for pred, w in zip(scales, cfg.scale_weights):
        target = downsample(gt, pred.shape[-2:])[:, 0]
        total = total + w * pixel_error(pred, target, cfg).mean()
    return total, {"loss": float(total.detach())}


def photometric_loss(
    scales: Sequence[torch.Tensor],
    gt: torch.Tensor,
    weights: Sequence[float],
    frame_w: torch.Tensor,
    cfg: Optional["LossConfig"] = None,
) -> torch.Tensor:
    """Multi-scale photometric loss per sample ``[B]`` (Eq. 3); ``cfg`` picks the pixel error (L1 default)."""
    cfg = cfg if cfg is not None else LossConfig()
    if len(scales) != len(weights):
        raise ValueError(f"{len(scales)} prediction scales but {len(weights)} scale weights")
    total = gt.new_zeros(gt.shape[0])
    for pred, w in zip(scales, weights):
        err = pixel_error(pred, downsample(gt, pred.shape[-2:]), cfg)  # [B, N]
        total = total + w * (err * frame_w).sum(dim=1)
    return total


def consistency_loss(theta_ftn: torch.Tensor, theta_itn: torch.Tensor) -> torch.Tensor:
    """Transformation consistency loss (Eq. 4): MSE between thetas of adjacent levels, per sample ``[B]``."""
    terms = []
    for theta in (theta_ftn, theta_itn):  # [B, N-1, L, 2, 3]
        if theta.shape[2] > 1:
            terms.append((theta[:, :, 1:] - theta[:, :, :-1]).pow(2).mean(dim=(1, 2, 3, 4)))
    if not terms:
        return theta_ftn.new_zeros(theta_ftn.shape[0])
    return torch.stack(terms).sum(dim=0)


def penalty_term(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Penalty (Eq. 5): ``-mean|pred_k - gt_{N-1-k}|`` over non-middle frames, per sample ``[B]``."""
    n = pred.shape[1]
    others = [k for k in range(n) if k != n // 2]
    flipped = gt.flip(dims=[1])
    return -(pred[:, others] - flipped[:, others]).abs().mean(dim=(1, 2, 3, 4))


def total_loss(out: ModelOutput, gt: torch.Tensor, cfg: LossConfig) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Weighted total (Eq. 6) and its terms.

    Args:
        out: the model's training output (``model(x, aux=True)``).
        gt: ground-truth frames ``[B,N,3,H,W]`` in [0,1], time order.
        cfg: loss weights.

    Returns:
        (scalar loss to backpropagate, dict of float terms for logging).
    """
    full = out.scales[-1]
    if full.shape != gt.shape:
        raise ValueError(f"prediction {tuple(full.shape)} and ground truth {tuple(gt.shape)} differ")
    frame_w = _frame_weights(gt.shape[1], cfg.middle_weight, gt.device)
    if cfg.order_invariant:
        with torch.no_grad():
            fwd = per_sample_l1(full, gt, frame_w)
            rev = per_sample_l1(full, gt.flip(dims=[1]), frame_w)
            use_rev = (rev < fwd).view(-1, 1, 1, 1, 1)
        gt = torch.where(use_rev, gt.flip(dims=[1]), gt)
    photo = photometric_loss(out.scales, gt, cfg.scale_weights, frame_w, cfg).mean()
    tcl = consistency_loss(out.theta_ftn, out.theta_itn).mean()
    pen = penalty_term(full, gt).mean()
    loss = photo + cfg.lambda_tcl * tcl + cfg.lambda_pt * pen
    terms = {
        "loss": float(loss.detach()),
        "photo": float(photo.detach()),
        "tcl": float(tcl.detach()),
        "pt": float(pen.detach()),
    }
    return loss, terms
