"""The comparator: score one engine's outputs against reference outputs, per frame position.

For each artifact :func:`compare_artifact` computes, per frame position (index 0 = first frame)
and averaged over the samples:

* engine vs reference (the PyTorch outputs): PSNR (mean and worst sample), SSIM, max abs error;
* engine vs ground truth and reference vs ground truth (reverse-order aware, as in the paper: the
  order that suits the reference output is used for both) and their difference ``gt_drop``
  (reference minus engine, dB; positive = the engine lost quality).

An artifact passes when, at every frame position, the mean engine-vs-reference PSNR reaches
``min_psnr[precision]`` and ``gt_drop`` stays within ``max_gt_drop[precision]``; the defaults are the
pass bars of :mod:`b2v_edge.common.vocab`. Results are the plain objects of
:mod:`b2v_edge.verify.results` (``passed``, ``bool(result)``); rendering lives in
:mod:`b2v_edge.verify.render`. numpy only: no torch, no engine construction.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from b2v_edge.common.manifest import Artifact
from b2v_edge.common.metrics import passes, psnr, sequence_scores, ssim

from .results import ArtifactParity, ParitySample, ReferenceScores, Thresholds, WorstCase

__all__ = ["compare_artifact", "reference_scores"]

Progress = Callable[[str, int, int], None]


# ---- scoring ------------------------------------------------------------------------------------
class _Accumulator:
    """Per-sample, per-position scores of one artifact."""

    def __init__(self, n: int, keep: int) -> None:
        self.rows: Dict[str, List[np.ndarray]] = {k: [] for k in ("psnr", "ssim", "mae", "gt_psnr", "gt_ssim")}
        self.nonfinite = np.zeros(n, bool)
        self.keep, self.worst, self.worst_mse = keep, [], []  # type: int, List[WorstCase], List[float]

    def add(
        self, i: int, eng: np.ndarray, ref: np.ndarray, sample: ParitySample, reversed_: bool, with_ssim: bool
    ) -> None:
        finite = np.isfinite(eng).reshape(len(eng), -1).all(axis=1)
        self.nonfinite |= ~finite
        eng = np.where(np.isfinite(eng), eng, 0.0).astype(np.float32)
        p = np.array([psnr(e, r) if ok else 0.0 for e, r, ok in zip(eng, ref, finite)])
        self.rows["psnr"].append(p)
        self.rows["mae"].append(np.abs(eng - ref).reshape(len(eng), -1).max(axis=1))
        if with_ssim:
            self.rows["ssim"].append(np.array([ssim(e, r) for e, r in zip(eng, ref)]))
        if sample.frames is not None:
            gt = sample.frames[::-1] if reversed_ else sample.frames
            score = sequence_scores(eng, gt, with_ssim, order_aware=False)
            self.rows["gt_psnr"].append(np.where(finite, score.psnr, 0.0))
            if with_ssim:
                self.rows["gt_ssim"].append(np.asarray(score.ssim))
        mse = np.where(finite, ((eng.astype(np.float64) - ref) ** 2).reshape(len(eng), -1).mean(axis=1), np.inf)
        self._keep_worst(i, p, mse, eng, ref, sample, reversed_)

    def _keep_worst(
        self, i: int, p: np.ndarray, mse: np.ndarray, eng: np.ndarray, ref: np.ndarray, sample: ParitySample, rev: bool
    ) -> None:
        """Keep the ``keep`` samples with the largest error (ranked by MSE: PSNR is capped at 100 dB)."""
        if self.keep <= 0:
            return
        k = int(np.argmax(mse))
        if len(self.worst) >= self.keep and mse[k] <= self.worst_mse[-1]:
            return
        images = {"input": sample.blurred, "pytorch": ref[k], "engine": eng[k].copy()}
        if sample.frames is not None:
            images["gt"] = (sample.frames[::-1] if rev else sample.frames)[k]
        ranked = sorted(
            zip(self.worst_mse + [float(mse[k])], self.worst + [WorstCase(i, k, float(p[k]), images)]),
            key=lambda t: -t[0],
        )[: self.keep]
        self.worst_mse, self.worst = [m for m, _ in ranked], [w for _, w in ranked]

    def mean(self, key: str) -> List[float]:
        return np.mean(self.rows[key], axis=0).tolist() if self.rows[key] else []


def _check(result: ArtifactParity, ref: ReferenceScores, nonfinite: np.ndarray) -> None:
    """Fill ``failures``/``failing_positions`` from the thresholds."""
    bad: set = set()
    if nonfinite.any():
        pos = [k for k in range(len(nonfinite)) if nonfinite[k]]
        bad.update(pos)
        result.failures.append(f"NaN/Inf output at frame positions {_fmt_pos(pos)}")
    low = [k for k, v in enumerate(result.psnr_vs_torch) if not passes(v, result.min_psnr)]
    if low:
        bad.update(low)
        vals = ", ".join(f"{result.psnr_vs_torch[k]:.1f}" for k in low)
        result.failures.append(
            f"PSNR vs PyTorch below {result.min_psnr:g} dB at frame positions {_fmt_pos(low)} ({vals} dB)"
        )
    if result.psnr_gt and ref.psnr_gt:
        result.gt_drop = [r - e for r, e in zip(ref.psnr_gt, result.psnr_gt)]
        drop = [k for k, d in enumerate(result.gt_drop) if not passes(-d, -result.max_gt_drop)]
        if drop:
            bad.update(drop)
            vals = ", ".join(f"{result.gt_drop[k]:.2f}" for k in drop)
            result.failures.append(
                f"PSNR vs GT dropped more than {result.max_gt_drop:g} dB at frame positions {_fmt_pos(drop)} ({vals} dB)"
            )
    result.failing_positions = sorted(k + 1 for k in bad)


def _fmt_pos(positions: Sequence[int]) -> str:
    return ", ".join(str(k + 1) for k in positions)


def reference_scores(
    samples: Sequence[ParitySample], refs: Sequence[np.ndarray], with_ssim: bool, **provenance: Any
) -> ReferenceScores:
    """Score the reference outputs ``refs`` (``[N, H, W, 3]`` per sample) against the samples' ground truth.

    ``provenance`` fills the other :class:`ReferenceScores` fields (checkpoint, sha256, seconds, origin,
    resolution); samples without ground truth are left out (all of them: empty score lists).
    """
    scores = [sequence_scores(r, s.frames, with_ssim) for r, s in zip(refs, samples) if s.frames is not None]
    return ReferenceScores(
        psnr_gt=np.mean([s.psnr for s in scores], axis=0).tolist() if scores else [],
        ssim_gt=np.mean([s.ssim for s in scores], axis=0).tolist() if scores and with_ssim else [],
        reversed=[s.reversed for s in scores],
        **provenance,
    )


def compare_artifact(
    engine: Any,
    art: Artifact,
    samples: Sequence[ParitySample],
    refs: Sequence[np.ndarray],
    ref_scores: ReferenceScores,
    thresholds: Thresholds,
    with_ssim: bool = True,
    worst: int = 3,
    progress: Optional[Progress] = None,
    precision: Optional[str] = None,
) -> ArtifactParity:
    """Run ``samples`` through an open engine and score them against the reference outputs ``refs``.

    Args:
        engine: an open :class:`~b2v_edge.runtime.engines.base.Engine` (``infer`` on ``[1,3,H,W]``).
        art: the artifact's manifest entry.
        samples: inputs (and ground truth, if any).
        refs: reference outputs, ``[N, H, W, 3]`` per sample.
        ref_scores: the reference's scores (its ``reversed`` flags orient the GT).
        thresholds: pass criteria per precision.
        with_ssim: also compute SSIM.
        worst: image strips kept (the artifact's worst samples).
        progress: called with ``(artifact path, done, total)``.
        precision: the precision the engine runs the artifact at, when it is not the artifact's own
            (an engine precision such as OpenVINO's ``bf16``); it selects the thresholds.
    """
    t0 = time.perf_counter()
    precision = precision or art.precision
    min_psnr, max_drop = thresholds.for_precision(precision)
    result = ArtifactParity(
        art.path,
        art.kind,
        precision,
        art.warp,
        engine.spec.backend,
        engine.spec.provider,
        min_psnr=min_psnr,
        max_gt_drop=max_drop,
    )
    acc = _Accumulator(len(refs[0]), worst)
    for i, (sample, ref) in enumerate(zip(samples, refs)):
        x = np.ascontiguousarray(sample.blurred.transpose(2, 0, 1)[None], np.float32)
        out = engine.infer(x, check_finite=False)[0].transpose(0, 2, 3, 1)
        rev = bool(ref_scores.reversed[i]) if ref_scores.reversed else False
        acc.add(i, out, ref, sample, rev, with_ssim)
        if progress is not None:
            progress(art.path, i + 1, len(samples))
    result.count = len(samples)
    result.psnr_vs_torch, result.ssim_vs_torch = acc.mean("psnr"), acc.mean("ssim")
    result.psnr_vs_torch_min = np.min(acc.rows["psnr"], axis=0).tolist()
    result.max_abs_err = np.max(acc.rows["mae"], axis=0).tolist()
    result.psnr_gt, result.ssim_gt = acc.mean("gt_psnr"), acc.mean("gt_ssim")
    result.worst = acc.worst
    _check(result, ref_scores, acc.nonfinite)
    result.seconds = time.perf_counter() - t0
    return result
