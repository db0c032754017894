"""Parity: the same inputs through every deploy artifact and through the exported PyTorch checkpoint.

For each artifact listed in ``manifest.json`` (fp32/fp16/int8 ONNX via ONNX Runtime; TensorRT plans
when TensorRT is importable) :func:`run_parity` computes, per frame position (index 0 = first frame)
and averaged over the samples:

* engine vs PyTorch: PSNR (mean and worst sample), SSIM, max abs error;
* engine vs ground truth and PyTorch vs ground truth (reverse-order aware, as in the paper: the
  order that suits the PyTorch output is used for both) and their difference ``gt_drop``
  (PyTorch minus engine, dB; positive = the engine lost quality).

An artifact passes when, at every frame position, the mean engine-vs-PyTorch PSNR reaches
``min_psnr[precision]`` and ``gt_drop`` stays within ``max_gt_drop[precision]``. Results are plain
objects (``passed``, ``bool(result)``); rendering lives in :mod:`b2v_edge.verify.render`.
Data without ground truth (``images:DIR``) is compared engine-vs-PyTorch only.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.common.manifest import Artifact, Manifest, ManifestError
from b2v_edge.common.metrics import psnr, sequence_scores, ssim

from .data import (
    DEFAULT_MAX_GT_DROP,
    DEFAULT_MIN_PSNR,
    DEFAULT_SAMPLES,
    ParityError,
    ParityOptions,
    ParitySample,
    Thresholds,
    environment_info,
    load_reference,
    load_samples,
    parse_levels,
    torch_outputs,
)

__all__ = [
    "DEFAULT_MAX_GT_DROP",
    "DEFAULT_MIN_PSNR",
    "DEFAULT_SAMPLES",
    "SCHEMA_VERSION",
    "ArtifactParity",
    "ParityError",
    "ParityOptions",
    "ParityReport",
    "ReferenceScores",
    "Thresholds",
    "WorstCase",
    "compare_artifact",
    "parse_levels",
    "record_in_manifest",
    "run_parity",
]

SCHEMA_VERSION = 1
Progress = Callable[[str, int, int], None]


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
    """The PyTorch checkpoint against ground truth (empty lists without ground truth)."""

    checkpoint: str
    sha256: str
    psnr_gt: List[float]
    ssim_gt: List[float]
    reversed: List[bool]
    seconds: float

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

    def describe_failure(self) -> str:
        """One line naming the artifact, the failed checks and the frame positions."""
        what = self.error or "; ".join(self.failures)
        return f"{self.path} ({self.precision}): {what}"

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
            arts[a.path] = {
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


def compare_artifact(
    engine: Any,
    art: Artifact,
    samples: Sequence[ParitySample],
    refs: Sequence[np.ndarray],
    ref_scores: ReferenceScores,
    options: ParityOptions,
    progress: Optional[Progress] = None,
) -> ArtifactParity:
    """Run ``samples`` through an open engine and score them against the PyTorch outputs ``refs``.

    Args:
        engine: an open :class:`~b2v_edge.runtime.engines.base.Engine` (``infer`` on ``[1,3,H,W]``).
        art: the artifact's manifest entry.
        samples: inputs (and ground truth, if any).
        refs: PyTorch outputs, ``[N, H, W, 3]`` per sample.
        ref_scores: the PyTorch checkpoint's scores (its ``reversed`` flags orient the GT).
        options: thresholds, SSIM switch, strips to keep.
        progress: called with ``(artifact path, done, total)``.
    """
    t0 = time.perf_counter()
    min_psnr, max_drop = options.thresholds.for_precision(art.precision)
    result = ArtifactParity(
        art.path,
        art.kind,
        art.precision,
        art.warp,
        engine.spec.backend,
        engine.spec.provider,
        min_psnr=min_psnr,
        max_gt_drop=max_drop,
    )
    acc = _Accumulator(len(refs[0]), options.worst)
    for i, (sample, ref) in enumerate(zip(samples, refs)):
        x = np.ascontiguousarray(sample.blurred.transpose(2, 0, 1)[None], np.float32)
        out = engine.infer(x, check_finite=False)[0].transpose(0, 2, 3, 1)
        rev = bool(ref_scores.reversed[i]) if ref_scores.reversed else False
        acc.add(i, out, ref, sample, rev, options.ssim)
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


# ---- the run ------------------------------------------------------------------------------------
def _engine_backend(art: Artifact, backend: str) -> Tuple[str, str]:
    """(backend to open ``art`` with, or "" plus the reason it is skipped)."""
    import importlib.util

    if art.kind == "tensorrt_plan":
        if backend == "onnxruntime":
            return "", "plans not requested (--backend onnxruntime)"
        if importlib.util.find_spec("tensorrt") is None:
            return "", "TensorRT is not installed on this machine (run parity on the device)"
        return "tensorrt", ""
    if backend == "tensorrt":
        return "", "ONNX artifacts not requested (--backend tensorrt)"
    return "onnxruntime", ""


def _check_one(
    manifest: Manifest,
    art: Artifact,
    samples: Sequence[ParitySample],
    refs: Sequence[np.ndarray],
    ref_scores: ReferenceScores,
    options: ParityOptions,
    progress: Optional[Progress],
) -> ArtifactParity:
    from b2v_edge.runtime import EngineError, open_engine

    backend, reason = _engine_backend(art, options.backend)
    if not backend:
        return ArtifactParity(art.path, art.kind, art.precision, art.warp, skipped=reason)
    try:
        with open_engine(manifest.path_of(art), backend, threads=options.threads) as engine:
            return compare_artifact(engine, art, samples, refs, ref_scores, options, progress)
    except (EngineError, ManifestError) as exc:
        return ArtifactParity(art.path, art.kind, art.precision, art.warp, backend=backend, error=str(exc))


def _input_size(manifest: Manifest, size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    shape = list((manifest.input or {}).get("shape") or [])
    h, w = (shape[2], shape[3]) if len(shape) == 4 else (None, None)
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        if size is not None and tuple(size) != (h, w):
            raise ParityError(f"the artifacts in {manifest.root} take {h}x{w} inputs, not --size {size[0]}x{size[1]}")
        return h, w
    return tuple(size) if size is not None else (256, 256)  # type: ignore[return-value]


def run_parity(options: ParityOptions, progress: Optional[Progress] = None) -> ParityReport:
    """Check every artifact of ``options.deploy_dir`` against its PyTorch checkpoint.

    Raises:
        ParityError: unusable options, data or reference checkpoint.
        ManifestError: no usable manifest.
    """
    manifest = Manifest.load(options.deploy_dir)
    if not manifest.artifacts:
        raise ParityError(f"{manifest.root}/manifest.json lists no artifacts; run `b2v-edge export` first")
    ckpt, sha, notes = load_reference(manifest, options.checkpoint)
    size = _input_size(manifest, options.size)
    samples, data_notes = load_samples(options.data, ckpt.config.frames, size, options.samples, options.seed)
    notes += data_notes
    t0 = time.perf_counter()
    refs = torch_outputs(ckpt.model, samples, progress, options.threads or 1)  # see ParityOptions.threads
    scores = [sequence_scores(r, s.frames, options.ssim) for r, s in zip(refs, samples) if s.frames is not None]
    reference = ReferenceScores(
        str(ckpt.path),
        sha,
        np.mean([s.psnr for s in scores], axis=0).tolist() if scores else [],
        np.mean([s.ssim for s in scores], axis=0).tolist() if scores and options.ssim else [],
        [s.reversed for s in scores],
        time.perf_counter() - t0,
    )
    results = [_check_one(manifest, a, samples, refs, reference, options, progress) for a in manifest.artifacts]
    has_gt = bool(scores)
    if not has_gt:
        notes.append(f"{options.data} has no ground truth: engine-vs-PyTorch only (no PSNR vs GT, no GT drop check)")
    env = environment_info({r.backend: r.provider for r in results if r.backend})
    return ParityReport(
        str(manifest.root),
        options.data,
        len(samples),
        size,
        ckpt.config.frames,
        has_gt,
        reference,
        results,
        options.thresholds,
        env,
        notes,
    )


def record_in_manifest(report: ParityReport) -> Path:
    """Merge ``report.manifest_summary()`` into the manifest's ``parity`` (re-read first; other keys such as
    the export-time ``export`` check are kept); returns the manifest path."""
    manifest = Manifest.load(report.deploy_dir)
    manifest.parity = {**(manifest.parity or {}), **report.manifest_summary()}
    return manifest.save()
