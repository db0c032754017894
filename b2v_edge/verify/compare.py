"""The comparator: score one engine's outputs against reference outputs, per frame position.

For each artifact :func:`compare_artifact` computes, per frame position (index 0 = first frame)
and averaged over the samples:

* engine vs reference (the PyTorch outputs): PSNR (mean and worst sample), SSIM, max abs error;
* engine vs ground truth and reference vs ground truth (reverse-order aware, as in the paper: the
  order that suits the reference output is used for both) and their difference ``gt_drop``
  (reference minus engine, dB; positive = the engine lost quality).

An artifact passes when, at every frame position, the mean engine-vs-reference PSNR reaches
``min_psnr[precision]`` and ``gt_drop`` stays within ``max_gt_drop[precision]``; the defaults are the
pass bars of :mod:`b2v_edge.common.vocab`. Results are plain objects (``passed``, ``bool(result)``);
rendering lives in :mod:`b2v_edge.verify.render`. numpy only: no torch, no engine construction.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.common.errors import B2VError
from b2v_edge.common.manifest import Artifact
from b2v_edge.common.metrics import psnr, sequence_scores, ssim
from b2v_edge.common.vocab import max_gt_drop_db, min_psnr_db

__all__ = [
    "DEFAULT_MAX_GT_DROP",
    "DEFAULT_MIN_PSNR",
    "SCHEMA_VERSION",
    "ArtifactParity",
    "ParityError",
    "ParityReport",
    "ParitySample",
    "ReferenceScores",
    "Thresholds",
    "WorstCase",
    "compare_artifact",
    "parse_levels",
    "reference_scores",
]

SCHEMA_VERSION = 1
DEFAULT_MIN_PSNR: Dict[str, float] = min_psnr_db()
DEFAULT_MAX_GT_DROP: Dict[str, float] = max_gt_drop_db()
Progress = Callable[[str, int, int], None]


class ParityError(B2VError, ValueError):
    """Parity cannot run (bad options, missing data, wrong or missing reference); one-line message."""


def parse_levels(text: Optional[str], what: str) -> Dict[str, float]:
    """``"fp16=38,int8=28"`` -> ``{"fp16": 38.0, "int8": 28.0}`` (empty/None -> ``{}``)."""
    out: Dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in DEFAULT_MIN_PSNR:
            raise ParityError(f"{what} takes PRECISION=dB pairs like 'fp16=38,int8=28', got {part!r}")
        try:
            out[key] = float(value)
        except ValueError:
            raise ParityError(f"{what}: {value!r} is not a number (in {part!r})") from None
    return out


@dataclass
class Thresholds:
    """Pass criteria per precision; missing keys fall back to the vocabulary's pass bars.

    Attributes:
        min_psnr: lowest allowed mean engine-vs-reference PSNR (dB) at any frame position.
        max_gt_drop: largest allowed PSNR-vs-GT loss of the engine relative to the reference (dB).
    """

    min_psnr: Dict[str, float] = field(default_factory=dict)
    max_gt_drop: Dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.min_psnr = {**DEFAULT_MIN_PSNR, **self.min_psnr}
        self.max_gt_drop = {**DEFAULT_MAX_GT_DROP, **self.max_gt_drop}

    def for_precision(self, precision: str) -> Tuple[float, float]:
        """``(min_psnr, max_gt_drop)`` for ``precision``."""
        return self.min_psnr[precision], self.max_gt_drop[precision]


@dataclass
class ParitySample:
    """One input: ``blurred`` ``float32 [H, W, 3]`` RGB in [0, 1]; ``frames`` ``[N, H, W, 3]`` or None."""

    blurred: np.ndarray
    frames: Optional[np.ndarray]
    name: str


@dataclass
class WorstCase:
    """One of an artifact's worst samples, for the image strips (arrays ``[H, W, 3]`` in [0, 1])."""

    sample: int
    position: int
    psnr: float
    images: Dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"sample": self.sample, "position": self.position + 1, "psnr_vs_torch": self.psnr}


@dataclass
class ReferenceScores:
    """Where the reference outputs came from, and how they score against ground truth.

    Attributes:
        checkpoint: the PyTorch checkpoint that produced them (as the manifest names it).
        sha256: its sha256.
        psnr_gt / ssim_gt: per frame position, mean over the samples (empty without ground truth).
        reversed: per sample, whether the reversed ground-truth order matched better.
        seconds: time spent producing the reference (0 for a stored reference set).
        origin: ``"pytorch"`` (recomputed now) or ``"stored"`` (the deploy dir's reference set).
        resolution: smallest difference the stored outputs resolve (0 = float32).
    """

    checkpoint: str
    sha256: str
    psnr_gt: List[float]
    ssim_gt: List[float]
    reversed: List[bool]
    seconds: float
    origin: str = "pytorch"
    resolution: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class ArtifactParity:
    """Parity of one artifact. ``positions`` in messages are 1-based (frame 1 = first frame)."""

    path: str
    kind: str
    precision: str
    warp: str
    backend: str = ""
    provider: str = ""
    count: int = 0
    psnr_vs_torch: List[float] = field(default_factory=list)
    psnr_vs_torch_min: List[float] = field(default_factory=list)
    ssim_vs_torch: List[float] = field(default_factory=list)
    max_abs_err: List[float] = field(default_factory=list)
    psnr_gt: List[float] = field(default_factory=list)
    ssim_gt: List[float] = field(default_factory=list)
    gt_drop: List[float] = field(default_factory=list)
    min_psnr: float = 0.0
    max_gt_drop: float = 0.0
    failures: List[str] = field(default_factory=list)
    failing_positions: List[int] = field(default_factory=list)
    worst: List[WorstCase] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""
    error: str = ""

    @property
    def checked(self) -> bool:
        """False when the artifact was skipped (other backend, TensorRT missing)."""
        return not self.skipped

    @property
    def passed(self) -> bool:
        return self.checked and not self.error and not self.failures

    def __bool__(self) -> bool:
        return self.passed

    @property
    def status(self) -> str:
        """``pass``, ``FAIL`` or ``skipped``."""
        return "skipped" if self.skipped else ("pass" if self.passed else "FAIL")

    @property
    def key(self) -> str:
        """The artifact path, plus runtime and precision for a second runtime of the same file (OpenVINO)."""
        return f"{self.path} ({self.backend} {self.precision})" if self.backend == "openvino" else self.path

    def describe_failure(self) -> str:
        """One line naming the artifact, the failed checks and the frame positions."""
        what = self.error or "; ".join(self.failures)
        return f"{self.path} ({self.backend + ' ' if self.backend == 'openvino' else ''}{self.precision}): {what}"

    def to_dict(self) -> Dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "worst"}
        d["worst"] = [w.to_dict() for w in self.worst]
        d["passed"], d["status"] = self.passed, self.status
        return d


@dataclass
class ParityReport:
    """Everything one parity run found; ``bool(report)`` is True when every checked artifact passed."""

    deploy_dir: str
    data: str
    count: int
    size: Tuple[int, int]
    frames: int
    has_gt: bool
    reference: ReferenceScores
    artifacts: List[ArtifactParity]
    thresholds: Thresholds
    environment: Dict[str, Any] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    schema_version: int = SCHEMA_VERSION

    @property
    def checked(self) -> List[ArtifactParity]:
        return [a for a in self.artifacts if a.checked]

    @property
    def passed(self) -> bool:
        return bool(self.checked) and all(a.passed for a in self.checked)

    def __bool__(self) -> bool:
        return self.passed

    def failures(self) -> List[str]:
        """One line per failing artifact (or why nothing was checked)."""
        if not self.checked:
            return ["no artifact was checked (" + "; ".join(f"{a.path}: {a.skipped}" for a in self.artifacts) + ")"]
        return [a.describe_failure() for a in self.checked if not a.passed]

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict (schema ``SCHEMA_VERSION``; frame positions in messages are 1-based)."""
        return {
            "schema_version": self.schema_version,
            "created": self.created,
            "passed": self.passed,
            "deploy_dir": self.deploy_dir,
            "data": self.data,
            "samples": self.count,
            "size": list(self.size),
            "frames": self.frames,
            "has_ground_truth": self.has_gt,
            "thresholds": asdict(self.thresholds),
            "reference": self.reference.to_dict(),
            "artifacts": [a.to_dict() for a in self.artifacts],
            "failures": [] if self.passed else self.failures(),
            "environment": self.environment,
            "notes": self.notes,
        }

    def manifest_summary(self) -> Dict[str, Any]:
        """Compact summary written back to ``manifest.json`` (``parity``)."""
        arts = {}
        for a in self.artifacts:
            arts[a.key] = {
                "status": a.status,
                "precision": a.precision,
                "psnr_vs_torch_db": _mean(a.psnr_vs_torch),
                "psnr_vs_torch_min_db": _min(a.psnr_vs_torch_min),
                "gt_drop_db": max(a.gt_drop) if a.gt_drop else None,
                "failing_positions": a.failing_positions,
            }
        return {
            "schema_version": SCHEMA_VERSION,
            "created": self.created,
            "passed": self.passed,
            "data": self.data,
            "samples": self.count,
            "reference": self.reference.checkpoint,
            "reference_origin": self.reference.origin,
            "artifacts": arts,
        }


def _mean(values: Sequence[float]) -> Optional[float]:
    return float(np.mean(values)) if len(values) else None


def _min(values: Sequence[float]) -> Optional[float]:
    return float(np.min(values)) if len(values) else None


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
    low = [k for k, v in enumerate(result.psnr_vs_torch) if v < result.min_psnr]
    if low:
        bad.update(low)
        vals = ", ".join(f"{result.psnr_vs_torch[k]:.1f}" for k in low)
        result.failures.append(
            f"PSNR vs PyTorch below {result.min_psnr:g} dB at frame positions {_fmt_pos(low)} ({vals} dB)"
        )
    if result.psnr_gt and ref.psnr_gt:
        result.gt_drop = [r - e for r, e in zip(ref.psnr_gt, result.psnr_gt)]
        drop = [k for k, d in enumerate(result.gt_drop) if d > result.max_gt_drop]
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
