"""Run-time measurements: per-stage timers, an FPS meter and the end-of-run summary.

Memory stays bounded on endless runs: each stage keeps running totals plus the last ``window``
samples for percentiles.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

import numpy as np

__all__ = ["STAGES", "FpsMeter", "RunStatus", "RunSummary", "StageStats", "StageTimer"]

#: Pipeline stages, in order. ``display`` covers every output (window, video file, MJPEG).
STAGES = ("capture", "preprocess", "infer", "postprocess", "display")


@dataclass(frozen=True)
class StageStats:
    """Timing of one stage in milliseconds (percentiles over the last ``window`` samples)."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float


class StageTimer:
    """Thread-safe per-stage durations (the capture thread and the main loop both record).

    Args:
        window: samples kept per stage for percentiles.
    """

    def __init__(self, window: int = 2000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._count: Dict[str, int] = {}
        self._total: Dict[str, float] = {}
        self._max: Dict[str, float] = {}
        self._recent: Dict[str, Deque[float]] = {}

    def add(self, stage: str, seconds: float) -> None:
        """Record one duration of ``stage``."""
        with self._lock:
            if stage not in self._count:
                self._count[stage], self._total[stage], self._max[stage] = 0, 0.0, 0.0
                self._recent[stage] = deque(maxlen=self._window)
            self._count[stage] += 1
            self._total[stage] += seconds
            self._max[stage] = max(self._max[stage], seconds)
            self._recent[stage].append(seconds)

    @contextlib.contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """``with timer.time("infer"): ...`` records the block's wall time."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def mean_ms(self, stage: str) -> float:
        with self._lock:
            n = self._count.get(stage, 0)
            return 1000.0 * self._total[stage] / n if n else 0.0

    def stats(self) -> Dict[str, StageStats]:
        """Per-stage statistics, known stages first in pipeline order."""
        with self._lock:
            names = [s for s in STAGES if s in self._count] + [s for s in self._count if s not in STAGES]
            out = {}
            for s in names:
                recent = np.asarray(self._recent[s], np.float64) * 1000.0
                out[s] = StageStats(
                    count=self._count[s],
                    mean_ms=1000.0 * self._total[s] / self._count[s],
                    p50_ms=float(np.percentile(recent, 50)),
                    p95_ms=float(np.percentile(recent, 95)),
                    max_ms=1000.0 * self._max[s],
                )
            return out


class FpsMeter:
    """Frames per second over a sliding window of the last ``window`` ticks."""

    def __init__(self, window: int = 30) -> None:
        self._ticks: Deque[float] = deque(maxlen=window)

    def tick(self, now: Optional[float] = None) -> None:
        self._ticks.append(time.perf_counter() if now is None else now)

    @property
    def fps(self) -> float:
        if len(self._ticks) < 2:
            return 0.0
        span = self._ticks[-1] - self._ticks[0]
        return (len(self._ticks) - 1) / span if span > 0 else 0.0


@dataclass(frozen=True)
class RunStatus:
    """A running pipeline's progress, reported after every processed frame.

    Attributes:
        frames: frames processed so far.
        fps: processed frames per second over the last frames.
        latency_ms: capture→output latency of the last frame.
        infer_ms: mean inference time so far.
        dropped: stale frames dropped (latest-frame policy).
        failed: NaN/Inf frames skipped.
        elapsed_s: seconds since the loop started.
        total: frames the source announces (files/folders), else None.
    """

    frames: int
    fps: float
    latency_ms: float
    infer_ms: float
    dropped: int
    failed: int
    elapsed_s: float
    total: Optional[int] = None

    def line(self) -> str:
        """One status line, e.g. ``frame 120/300  7.4 FPS  latency 140 ms  infer 120 ms  dropped 3``."""
        count = f"frame {self.frames}" + (f"/{self.total}" if self.total else "")
        text = f"{count}  {self.fps:.1f} FPS  latency {self.latency_ms:.0f} ms  infer {self.infer_ms:.0f} ms"
        if self.dropped:
            text += f"  dropped {self.dropped}"
        if self.failed:
            text += f"  failed {self.failed}"
        return f"{text}  {self.elapsed_s:.0f} s"


@dataclass
class RunSummary:
    """What a run did; ``rows()`` gives ``(label, value)`` pairs for a table.

    ``stream_fps`` counts processed input frames over the wall time of the loop; ``infer_fps`` is
    ``1000 / mean infer ms`` (pure inference, every pass of a frame); their ratio shows the
    pipeline's overhead. ``policy`` says whether the latest frame or every frame was processed,
    ``layout`` how frames reached the engine (full resolution or rescaled), ``outputs`` what was
    written where.
    """

    source: str
    source_kind: str
    engine: str
    model_path: str
    input_size: Tuple[int, int]
    frames_per_input: int
    frames_captured: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_failed: int = 0
    frames_written: int = 0
    max_pending: int = 0
    wall_s: float = 0.0
    stream_fps: float = 0.0
    infer_fps: float = 0.0
    latency_ms: float = 0.0
    stop_reason: str = ""
    shadow_psnr_db: Optional[float] = None
    shadow_count: int = 0
    output: Optional[str] = None
    serve_url: Optional[str] = None
    policy: str = ""
    layout: str = ""
    outputs: List[str] = field(default_factory=list)
    stages: Dict[str, StageStats] = field(default_factory=dict)
    notices: List[str] = field(default_factory=list)

    @property
    def efficiency(self) -> float:
        """stream FPS / pure-inference FPS (goal ≥ 0.9 for file sources)."""
        return self.stream_fps / self.infer_fps if self.infer_fps > 0 else 0.0

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["efficiency"] = self.efficiency
        return d

    def rows(self) -> List[Tuple[str, str]]:
        """Human-readable ``(label, value)`` rows, then one row per stage."""
        h, w = self.input_size
        rows = [
            ("source", f"{self.source} ({self.source_kind})"),
            ("engine", f"{self.engine}  [{self.model_path}]"),
            ("input", f"{h}x{w} engine input, {self.frames_per_input} frames out"),
            ("resolution", self.layout or "-"),
            ("frames in", self.policy or "-"),
            (
                "frames",
                f"{self.frames_processed} processed / {self.frames_captured} captured, "
                f"{self.frames_dropped} dropped, {self.frames_failed} failed (NaN/Inf)",
            ),
            (
                "throughput",
                f"{self.stream_fps:.2f} FPS stream, {self.infer_fps:.2f} FPS inference ({self.efficiency:.2f})",
            ),
            ("latency", f"{self.latency_ms:.1f} ms capture→output (mean)"),
            ("stopped", self.stop_reason),
        ]
        if self.shadow_count:
            value = "identical" if self.shadow_psnr_db == math.inf else f"{self.shadow_psnr_db:.2f} dB"
            rows.append(("shadow fp32 PSNR", f"{value} over {self.shadow_count} frames"))
        for text in self.outputs:
            rows.append(("output", text))
        if self.serve_url:
            rows.append(("served", self.serve_url))
        for name, s in self.stages.items():
            rows.append((f"  {name}", f"{s.mean_ms:.2f} ms mean, p95 {s.p95_ms:.2f}, max {s.max_ms:.2f} (n={s.count})"))
        return rows
