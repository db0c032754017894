"""Blur-strength-stratified sampling of calibration frames, with a coverage summary.

The candidates' blur scores are cut into ``bins`` equal-width strata between the smallest and the
largest score; each stratum gets an equal share of the samples, and the share a sparse stratum
cannot fill goes to the others (water filling). Strongly blurred frames, often rare in a recording,
are therefore represented as well as the common mild ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

__all__ = ["Coverage", "Stratum", "stratified_sample"]


@dataclass
class Stratum:
    """One blur-strength bin: score range ``[lo, hi]``, candidates available and samples taken."""

    lo: float
    hi: float
    available: int
    selected: int


@dataclass
class Coverage:
    """What the calibration set covers.

    Attributes:
        metric: name of the blur score (``blur_px`` or ``laplacian``; higher = blurrier).
        strata: bins from least to most blurred.
        candidates: size of the scored pool.
        selected: number of calibration samples.
    """

    metric: str
    strata: List[Stratum]
    candidates: int
    selected: int

    @property
    def empty_strata(self) -> int:
        """Strata with candidates but no selected sample (0 when coverage is complete)."""
        return sum(1 for s in self.strata if s.available and not s.selected)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "metric": self.metric,
            "candidates": self.candidates,
            "selected": self.selected,
            "strata": [asdict(s) for s in self.strata],
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Coverage":
        return cls(data["metric"], [Stratum(**s) for s in data["strata"]], data["candidates"], data["selected"])


def _quotas(available: Sequence[int], total: int) -> List[int]:
    """Water filling: equal shares, capped by what each stratum has."""
    quota = [0] * len(available)
    remaining = total
    open_bins = [i for i, a in enumerate(available) if a > 0]
    while remaining > 0 and open_bins:
        share = max(1, remaining // len(open_bins))
        for i in list(open_bins):
            take = min(share, available[i] - quota[i], remaining)
            quota[i] += take
            remaining -= take
            if quota[i] >= available[i]:
                open_bins.remove(i)
            if remaining == 0:
                break
    return quota


def stratified_sample(
    scores: Sequence[float], count: int, bins: int, seed: int, metric: str
) -> Tuple[List[int], Coverage]:
    """Pick ``count`` indices of ``scores`` spread over ``bins`` blur strata.

    Args:
        scores: blur score per candidate (higher = blurrier); non-finite scores go to the lowest bin.
        count: number of samples (at most ``len(scores)``).
        bins: number of equal-width strata.
        seed: random choice inside a stratum.
        metric: name of the score, for the coverage summary.

    Returns:
        ``(indices, coverage)`` with indices sorted ascending.

    Raises:
        ValueError: ``count`` larger than the pool or not positive.
    """
    values = np.nan_to_num(np.asarray(scores, np.float64), nan=-np.inf)
    if not 0 < count <= len(values):
        raise ValueError(f"cannot pick {count} samples from {len(values)} candidates")
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    values = np.where(np.isfinite(values), values, lo)
    edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo] + [hi] * bins)
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    members = [np.flatnonzero(which == b) for b in range(bins)]
    quota = _quotas([len(m) for m in members], count)
    rng = np.random.default_rng(seed)
    chosen: List[int] = []
    strata = []
    for b, (m, q) in enumerate(zip(members, quota)):
        if q:
            chosen.extend(int(i) for i in rng.choice(m, size=q, replace=False))
        strata.append(Stratum(float(edges[b]), float(edges[b + 1]), int(len(m)), int(q)))
    return sorted(chosen), Coverage(metric, strata, len(values), len(chosen))
