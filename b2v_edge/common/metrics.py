"""Image-sequence metrics in numpy (no torch): PSNR, SSIM, reverse-order-aware sequence scores.

Conventions: images are float arrays in [0, 1] (``data_range`` = 1), channels last ``[H, W, 3]``;
sequences are ``[N, H, W, 3]``. A blur and its time-reversed sequence are the same image, so
:func:`sequence_scores` picks, per sequence, the better of forward and reversed order (the paper's
evaluation protocol) by mean PSNR.

Finite or fail: a NaN or Inf anywhere in an output is a broken model, never a perfect score.
:func:`psnr` returns NaN when either array holds a non-finite value, and every pass/fail decision
of the project goes through :func:`passes` / :func:`better` / :func:`worst`, for which NaN always
loses; :func:`require_finite` turns non-finite outputs into a :class:`NonFiniteError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, List, Optional

import numpy as np

from .errors import B2VError

MAX_PSNR = 100.0  # reported for identical images (instead of +inf), keeps JSON finite


class NonFiniteError(B2VError, ValueError):
    """Model outputs (or a loss, or a score) hold NaN or Inf."""


def is_finite(value: Optional[float]) -> bool:
    """True for a real, finite number (None, NaN and +-Inf are not)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def passes(value: Optional[float], floor: float) -> bool:
    """``value >= floor`` for a finite ``value``; NaN, Inf and None fail."""
    return is_finite(value) and float(value) >= floor  # type: ignore[arg-type]


def better(value: Optional[float], best: Optional[float]) -> bool:
    """``value`` is finite and beats ``best`` (a non-finite ``best`` is beaten by any finite value)."""
    return is_finite(value) and (not is_finite(best) or float(value) > float(best))  # type: ignore[arg-type]


def worst(values: Iterable[float]) -> float:
    """The smallest value, or NaN when any value is NaN (builtin ``min`` depends on the order)."""
    vals = [float(v) for v in values]
    if not vals or any(math.isnan(v) for v in vals):
        return math.nan
    return min(vals)


def count_nonfinite(array: np.ndarray) -> int:
    """How many entries of ``array`` are NaN or +-Inf."""
    return int(np.size(array) - np.count_nonzero(np.isfinite(array)))


def require_finite(array: np.ndarray, what: str) -> np.ndarray:
    """``array`` unchanged when every value is finite.

    Raises:
        NonFiniteError: ``what`` holds NaN/Inf (the message counts them).
    """
    bad = count_nonfinite(array)
    if bad:
        raise NonFiniteError(f"{what} hold {bad} NaN/Inf value(s) of {np.size(array)}: the model is broken")
    return array


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB between two arrays of equal shape (capped at 100 dB).

    Returns:
        The PSNR, or NaN when either array holds NaN/Inf (never a high score for a broken output).
    """
    if a.shape != b.shape:
        raise ValueError(f"psnr needs equal shapes, got {a.shape} and {b.shape}")
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if not math.isfinite(mse):
        return math.nan
    if mse <= 0.0:
        return MAX_PSNR
    return float(min(MAX_PSNR, 10.0 * np.log10(data_range**2 / mse)))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity of two ``[H, W, 3]`` images (scikit-image, Gaussian window)."""
    from skimage.metrics import structural_similarity

    if a.shape != b.shape:
        raise ValueError(f"ssim needs equal shapes, got {a.shape} and {b.shape}")
    return float(
        structural_similarity(
            np.asarray(a, np.float64),
            np.asarray(b, np.float64),
            data_range=data_range,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


@dataclass
class SequenceScore:
    """Per-frame scores of one predicted sequence against its ground truth."""

    psnr: List[float]
    ssim: List[float]
    reversed: bool  # True when the reversed ground-truth order matched better


def sequence_scores(
    pred: np.ndarray, gt: np.ndarray, with_ssim: bool = True, order_aware: bool = True
) -> SequenceScore:
    """Per-frame PSNR (and SSIM) of ``pred`` vs ``gt`` (both ``[N, H, W, 3]``), reverse-order aware."""
    if pred.shape != gt.shape or pred.ndim != 4:
        raise ValueError(f"expected pred and gt of equal shape [N,H,W,3], got {pred.shape} and {gt.shape}")
    fwd = [psnr(p, g) for p, g in zip(pred, gt)]
    use_rev = False
    if order_aware and len(gt) > 1:
        rev = [psnr(p, g) for p, g in zip(pred, gt[::-1])]
        use_rev = float(np.mean(rev)) > float(np.mean(fwd))
        if use_rev:
            fwd = rev
    target = gt[::-1] if use_rev else gt
    ssims = [ssim(p, g) for p, g in zip(pred, target)] if with_ssim else []
    return SequenceScore(fwd, ssims, use_rev)
