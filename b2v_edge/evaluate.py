"""Evaluation: per-frame-position PSNR/SSIM of a model and of the "blurred input repeated N times"
baseline, reverse-order aware (per sequence, the better of forward and reversed order).

Besides the means over all samples, the result breaks PSNR down by the photo a sample was rendered
from (``meta["image"]``) and by its blur size (``meta["blur_strength"]``, the mean displacement in
output pixels over the exposure), so one easy or hard photo cannot hide in the mean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .common.metrics import require_finite, sequence_scores

BLUR_BINS = ((0.0, 8.0), (8.0, 16.0), (16.0, float("inf")))  # blur size in output pixels


def blur_bin(strength: float) -> str:
    """Label of the blur-size bin of ``strength`` (pixels): ``"< 8 px"``, ``"8-16 px"``, ``">= 16 px"``."""
    for lo, hi in BLUR_BINS:
        if lo <= strength < hi:
            return f"< {hi:g} px" if lo == 0 else (f">= {lo:g} px" if hi == float("inf") else f"{lo:g}-{hi:g} px")
    return f"< {BLUR_BINS[0][1]:g} px"


@dataclass
class GroupScore:
    """Mean per-frame PSNR of the model and of the baseline over the samples of one group."""

    count: int
    psnr: List[float]
    baseline_psnr: List[float]

    @property
    def middle_gain(self) -> float:
        m = len(self.psnr) // 2
        return self.psnr[m] - self.baseline_psnr[m]

    @property
    def ends_gain(self) -> float:
        return 0.5 * (self.psnr[0] - self.baseline_psnr[0] + self.psnr[-1] - self.baseline_psnr[-1])


class _Groups:
    """Accumulates per-frame PSNR sums by group key."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.sums: Dict[str, Dict[str, Any]] = {}

    def add(self, axis: str, key: str, psnr: Sequence[float], base: Sequence[float]) -> None:
        slot = self.sums.setdefault(axis, {}).setdefault(
            key, {"n": 0, "p": np.zeros(self.frames), "b": np.zeros(self.frames)}
        )
        slot["n"] += 1
        slot["p"] += np.asarray(psnr)
        slot["b"] += np.asarray(base)

    def result(self) -> Dict[str, Dict[str, GroupScore]]:
        return {
            axis: {
                key: GroupScore(v["n"], (v["p"] / v["n"]).tolist(), (v["b"] / v["n"]).tolist())
                for key, v in sorted(groups.items())
            }
            for axis, groups in self.sums.items()
        }


@dataclass
class EvalResult:
    """Mean scores per frame position (index 0 = first frame)."""

    frames: int
    count: int
    psnr: List[float]
    ssim: List[float]
    baseline_psnr: List[float]
    baseline_ssim: List[float]
    reversed_fraction: float
    meta: Dict[str, Any] = field(default_factory=dict)
    groups: Dict[str, Dict[str, "GroupScore"]] = field(default_factory=dict)

    @property
    def middle_gain(self) -> float:
        """PSNR gain over the baseline on the middle frame (dB)."""
        m = self.frames // 2
        return self.psnr[m] - self.baseline_psnr[m]

    @property
    def ends_gain(self) -> float:
        """Mean PSNR gain over the baseline on the first and last frames (dB)."""
        return 0.5 * (self.psnr[0] - self.baseline_psnr[0] + self.psnr[-1] - self.baseline_psnr[-1])

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["middle_gain_db"] = self.middle_gain
        d["ends_gain_db"] = self.ends_gain
        for axis, groups in self.groups.items():
            for key, score in groups.items():
                d["groups"][axis][key].update(middle_gain_db=score.middle_gain, ends_gain_db=score.ends_gain)
        return d


def _to_nhwc(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy()


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    source: Sequence[Any],
    samples: Optional[int] = None,
    batch: int = 4,
    with_ssim: bool = True,
    progress: Optional[Callable[[int], None]] = None,
    allow_nonfinite: bool = False,
) -> EvalResult:
    """Score ``model`` on the first ``samples`` items of ``source`` (a data source of Samples).

    Args:
        model: a Blur2Video (or any module mapping [B,3,H,W] -> [B,N,3,H,W]).
        source: indexable source returning :class:`b2v_edge.data.base.Sample`.
        samples: how many items (default: all).
        batch: inference batch size (samples of equal size only).
        with_ssim: also compute SSIM (slower).
        progress: called with the number of samples done after each batch.
        allow_nonfinite: score NaN/Inf outputs as NaN PSNR instead of raising (training keeps going
            and never picks such a model as its best).

    Raises:
        NonFiniteError: the model output NaN/Inf (unless ``allow_nonfinite``).
    """
    was_training = model.training
    model.eval()
    total = len(source) if samples is None else min(samples, len(source))
    if total < 1:
        raise ValueError("evaluation needs at least one sample")
    n = int(source.frames)
    acc = {k: np.zeros(n) for k in ("psnr", "ssim", "bpsnr", "bssim")}
    n_rev = 0
    groups = _Groups(n)
    for start in range(0, total, batch):
        items = [source[i] for i in range(start, min(total, start + batch))]
        x = torch.from_numpy(np.stack([s.blurred for s in items])).permute(0, 3, 1, 2).contiguous()
        pred = model(x)  # [B, N, 3, H, W]
        if not allow_nonfinite:
            require_finite(
                pred.detach().cpu().numpy(), f"the model's outputs on samples {start}..{start + len(items) - 1}"
            )
        for b, item in enumerate(items):
            frames_pred = pred[b].permute(0, 2, 3, 1).clamp(0, 1).numpy()
            score = sequence_scores(frames_pred, item.frames, with_ssim)
            base = sequence_scores(np.repeat(item.blurred[None], n, axis=0), item.frames, with_ssim)
            acc["psnr"] += score.psnr
            acc["bpsnr"] += base.psnr
            if with_ssim:
                acc["ssim"] += score.ssim
                acc["bssim"] += base.ssim
            n_rev += int(score.reversed)
            if "image" in item.meta:
                groups.add("image", str(item.meta["image"]), score.psnr, base.psnr)
            if "blur_strength" in item.meta:
                groups.add("blur", blur_bin(float(item.meta["blur_strength"])), score.psnr, base.psnr)
        if progress is not None:
            progress(len(items))
    model.train(was_training)
    mean = {k: (v / total).tolist() for k, v in acc.items()}
    return EvalResult(
        frames=n,
        count=total,
        psnr=mean["psnr"],
        ssim=mean["ssim"] if with_ssim else [],
        baseline_psnr=mean["bpsnr"],
        baseline_ssim=mean["bssim"] if with_ssim else [],
        reversed_fraction=n_rev / total,
        meta={"source": getattr(source, "name", "?")},
        groups=groups.result(),
    )
