"""The records of a bench run: options, rows, measured ratios, the report (no measuring here).

:class:`BenchOptions` validates a run's settings once; :class:`BenchRow` holds one row's latencies
and derived statistics (median and its 95 % confidence interval, p10/p90, round medians, the
unstable flag); :func:`ratios` turns rows
into :class:`Ratio` values (median over median, never from a missing, skipped or unstable row);
:class:`BenchReport` is what :func:`b2v_edge.verify.bench.run_bench` returns and the renderers read.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.errors import B2VError
from b2v_edge.common.metrics import is_finite

from .bench_measure import available_cores

__all__ = [
    "MAX_UNCERTAINTY",
    "RATIOS",
    "SCHEMA_VERSION",
    "BenchError",
    "BenchOptions",
    "BenchReport",
    "BenchRow",
    "Ratio",
    "parse_sizes",
    "median_ci",
    "ratios",
]

SCHEMA_VERSION = 3  # 3: unstable = median CI wider than MAX_UNCERTAINTY (+ median_ci_ms, uncertainty)
#: A row whose median is known less precisely than this is unstable: the half-width of the median's
#: 95 % confidence interval, relative to the median (0.125 = the median is known to within +-12.5 %).
MAX_UNCERTAINTY = 0.125
#: Confidence level of :func:`median_ci`.
CI_LEVEL = 0.95


def median_ci(values: Sequence[float], level: float = CI_LEVEL) -> Optional[Tuple[float, float]]:
    """Distribution-free confidence interval of the median of ``values`` (order statistics).

    The interval runs from the k-th smallest to the k-th largest value, with k the largest count
    for which fewer than k of n values fall below the true median with probability at most
    ``(1 - level) / 2`` (Binomial(n, 1/2)). Nothing is assumed about the latency distribution, so
    a row that drifts or has a slow phase gets a wide interval, while a few outliers do not move it.

    Args:
        values: the measurements.
        level: confidence level, e.g. 0.95.

    Returns:
        ``(low, high)``, or None when there are too few values to bound the median at this level
        (fewer than 6 at 95 %).

    >>> median_ci([float(v) for v in range(1, 21)])
    (6.0, 15.0)
    >>> median_ci([1.0, 2.0, 3.0]) is None
    True
    """
    from scipy.stats import binom

    n = len(values)
    k = int(binom.ppf((1.0 - level) / 2.0, n, 0.5)) if n else 0
    if k < 1:
        return None
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(ordered[k - 1]), float(ordered[n - k])


class BenchError(B2VError, ValueError):
    """Invalid bench options (one-line message)."""


def parse_sizes(text: str) -> Tuple[Tuple[int, int], ...]:
    """``"256x256,320x480"`` -> ``((256, 256), (320, 480))`` (HxW; empty -> ``()``)."""
    sizes = []
    for part in filter(None, (p.strip().lower() for p in (text or "").split(","))):
        h, sep, w = part.partition("x")
        if not sep or not h.isdigit() or not w.isdigit() or min(int(h), int(w)) < 32:
            raise BenchError(f"--sizes takes HxW pairs (each >= 32) like '256x256,320x480', got {part!r}")
        sizes.append((int(h), int(w)))
    return tuple(sizes)


@dataclass(frozen=True)
class BenchOptions:
    """Settings of one bench run, validated on construction.

    Attributes:
        deploy_dir: deploy directory with ``manifest.json``.
        sizes: input sizes ``(H, W)``; empty = the deploy dir's input size. Static artifacts are
            only run at their own size (other sizes: PyTorch and the temporary warp exports).
        runs: timed runs per row, spread over ``rounds`` interleaved rounds. warmup: untimed runs first.
        rounds: interleaved timing rounds (every row is timed in every round, order rotating).
        settle_rounds: untimed interleaved rounds after every row is open, before the timed ones.
        slot_warmup: untimed runs of a row at the start of each of its rounds (refill its caches).
        samples: test inputs for the accuracy columns. data: their source (as in ``parity``).
        stream_frames: frames of the end-to-end stream measurement (0 = skip).
        warp_compare: export and time the other warp variant (fp32).
        isolate: one fresh process per row (honest peak memory); False = in this process.
        threads: torch / ONNX Runtime intra-op threads of every row, fixed (None = every core this
            process may use, :func:`~b2v_edge.verify.bench_measure.available_cores`).
        gemm_size: side of the square fp32 matmul that measures the CPU ceiling.
        checkpoint: PyTorch reference (None = the one named in the manifest).
    """

    deploy_dir: Union[str, Path]
    sizes: Tuple[Tuple[int, int], ...] = ()
    runs: int = 20
    warmup: int = 10  # PyTorch eager needs ~10 runs before its latency settles (oneDNN primitive caches)
    rounds: int = 5
    settle_rounds: int = 1
    slot_warmup: int = 1
    samples: int = 4
    data: str = "synthetic"
    stream_frames: int = 20
    warp_compare: bool = True
    isolate: bool = True
    threads: Optional[int] = None
    gemm_size: int = 2048
    checkpoint: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "deploy_dir", Path(self.deploy_dir))
        checks = (
            ("runs", 1),
            ("warmup", 0),
            ("rounds", 1),
            ("settle_rounds", 0),
            ("slot_warmup", 0),
            ("samples", 1),
            ("stream_frames", 0),
            ("gemm_size", 64),
        )
        for name, low in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BenchError(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")
        if self.threads is None:
            object.__setattr__(self, "threads", available_cores())
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise BenchError(f"--threads must be an integer >= 1, got {self.threads!r}")
        object.__setattr__(self, "rounds", min(self.rounds, self.runs))
        object.__setattr__(self, "sizes", tuple((int(h), int(w)) for h, w in self.sizes))

    @property
    def runs_per_round(self) -> int:
        """Timed runs of every row in one round (``runs`` spread over ``rounds``, rounded up)."""
        return math.ceil(self.runs / self.rounds)


@dataclass
class BenchRow:
    """One row of the table; latencies in ms, sizes in MB, None = not measured."""

    label: str
    kind: str
    precision: str
    warp: str
    size: Tuple[int, int]
    path: str = ""
    file_mb: Optional[float] = None
    provider: str = ""
    latencies_ms: List[float] = field(default_factory=list)
    round_medians_ms: List[float] = field(default_factory=list)
    psnr_gt: Optional[float] = None
    psnr_torch: Optional[float] = None
    peak_mb: Optional[float] = None
    stream_fps: Optional[float] = None
    gflops_per_s: Optional[float] = None
    ceiling_fraction: Optional[float] = None
    skipped: str = ""

    @property
    def median_ms(self) -> Optional[float]:
        return float(np.median(self.latencies_ms)) if self.latencies_ms else None

    @property
    def p10_ms(self) -> Optional[float]:
        return float(np.percentile(self.latencies_ms, 10)) if self.latencies_ms else None

    @property
    def p90_ms(self) -> Optional[float]:
        return float(np.percentile(self.latencies_ms, 90)) if self.latencies_ms else None

    @property
    def median_ci_ms(self) -> Optional[Tuple[float, float]]:
        """The 95 % confidence interval of :attr:`median_ms` (:func:`median_ci`); None with too few runs."""
        return median_ci(self.latencies_ms)

    @property
    def uncertainty(self) -> Optional[float]:
        """Half-width of :attr:`median_ci_ms` relative to the median; None with too few runs."""
        ci = self.median_ci_ms
        if ci is None or not self.median_ms:
            return None
        return (ci[1] - ci[0]) / (2.0 * self.median_ms)

    @property
    def round_spread(self) -> Optional[float]:
        """(largest - smallest per-round median) / median: the drift over the run, for the record."""
        if len(self.round_medians_ms) < 2 or not self.median_ms:
            return None
        return (max(self.round_medians_ms) - min(self.round_medians_ms)) / self.median_ms

    @property
    def unstable(self) -> bool:
        """The median is known less precisely than :data:`MAX_UNCERTAINTY`: no ratio may use it."""
        u = self.uncertainty
        return u is not None and u > MAX_UNCERTAINTY

    @property
    def fps(self) -> Optional[float]:
        return 1000.0 / self.median_ms if self.median_ms else None

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d.update(
            median_ms=self.median_ms,
            p10_ms=self.p10_ms,
            p90_ms=self.p90_ms,
            median_ci_ms=self.median_ci_ms,
            uncertainty=self.uncertainty,
            round_spread=self.round_spread,
            unstable=self.unstable,
            fps=self.fps,
            size=list(self.size),
        )
        return d


@dataclass
class Ratio:
    """A measured ratio of two rows' median latencies (no goal: the bench judges nothing).

    ``value`` is None when a row is missing, skipped or unstable; ``note`` then says which and why.
    """

    name: str
    value: Optional[float]
    note: str = ""


@dataclass
class BenchReport:
    """Rows plus model GFLOPs per size, the GEMM ceiling and the measured ratios."""

    rows: List[BenchRow]
    gflops: Dict[str, float]
    gemm_gflops: float
    gemm_size: int
    ratios: List[Ratio]
    environment: Dict[str, Any]
    notes: List[str] = field(default_factory=list)
    options: Dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def failures(self) -> List[str]:
        """``"label: why"`` for each row that failed to run or returned NaN/Inf (not rows skipped by choice)."""
        out = []
        for row in self.rows:
            scores = [v for v in (row.psnr_torch, row.psnr_gt) if v is not None]
            if row.skipped.startswith("failed"):
                out.append(f"{row.label}: {row.skipped}")
            elif not row.skipped and not all(is_finite(v) for v in scores):
                out.append(f"{row.label}: NaN/Inf outputs")
        return out

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "rows": [r.to_dict() for r in self.rows],
            "gflops": self.gflops,
            "gemm_gflops": self.gemm_gflops,
            "gemm_size": self.gemm_size,
            "ratios": [asdict(r) for r in self.ratios],
            "environment": self.environment,
            "notes": self.notes,
            "options": self.options,
        }


#: The ratios a bench reports: (name, numerator row, denominator row) of median latencies.
RATIOS = (
    ("ORT fp32 speed-up over PyTorch eager", "torch", "ort-fp32"),
    ("ORT int8 speed-up over ORT fp32", "ort-fp32", "ort-int8"),
    ("gather / native warp latency (ORT fp32)", "gather", "native"),
    ("OpenVINO fp32 speed-up over ORT fp32", "ort-fp32", "openvino"),
)


def ratios(rows: Sequence[BenchRow], size: Tuple[int, int]) -> List[Ratio]:
    """Measured ratios of median latencies; none from a missing, skipped or unstable row."""
    measured = [r for r in rows if r.size == size and not r.skipped and r.median_ms]
    picks = {
        "torch": lambda r: r.kind == "torch",
        "ort-fp32": lambda r: r.label == "ORT fp32",
        "ort-int8": lambda r: r.label == "ORT int8",
        "gather": lambda r: r.kind == "onnx" and r.precision == "fp32" and r.warp == "gather",
        "native": lambda r: r.kind == "onnx" and r.precision == "fp32" and r.warp == "native",
        "openvino": lambda r: r.kind == "openvino",
    }
    out = []
    for name, num_key, den_key in RATIOS:
        num = next((r for r in measured if picks[num_key](r)), None)
        den = next((r for r in measured if picks[den_key](r)), None)
        if num is None or den is None:
            out.append(Ratio(name, None, "not measured (a row is missing or skipped)"))
            continue
        shaky = [r for r in (num, den) if r.unstable]
        if shaky:
            loose = ", ".join(f"{r.label}'s median is only known to +-{100 * r.uncertainty:.0f} %" for r in shaky)
            out.append(Ratio(name, None, f"not trusted: {loose}; rerun with more --runs or on an idle machine"))
            continue
        out.append(Ratio(name, num.median_ms / den.median_ms, f"medians {num.median_ms:.1f} / {den.median_ms:.1f} ms"))
    return out
