"""Parity results: thresholds, per-artifact and per-run result objects, their JSON form.

Frame positions are 0-based in the lists and 1-based in every serialised form. An
:class:`ArtifactParity` and a :class:`ParityReport` are truthy when they pass; the scores are
filled in by :mod:`b2v_edge.verify.compare`, rendering lives in :mod:`b2v_edge.verify.render`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.common.errors import B2VError
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
    "parse_levels",
]


SCHEMA_VERSION = 1


DEFAULT_MIN_PSNR: Dict[str, float] = min_psnr_db()


DEFAULT_MAX_GT_DROP: Dict[str, float] = max_gt_drop_db()


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
