"""Soak: 10 000 frames through the whole pipeline with flat memory and no failed frame (``-m slow``)."""

from __future__ import annotations

import time

import pytest

from b2v_edge.runtime.options import RunOptions
from b2v_edge.runtime.pipeline import run


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow
def test_ten_thousand_frames_flat_memory_no_failures(tmp_path, runtime_models):
    deploy = runtime_models.make_deploy(tmp_path / "d", h=64, w=64)
    samples = []

    def on_status(status):
        if status.frames % 500 == 0:
            samples.append((time.monotonic(), _rss_mb()))

    summary = run(
        RunOptions(model=deploy, source="synthetic://?fps=100", headless=True, max_frames=10_000),
        on_status=on_status,
    )
    assert summary.frames_processed == 10_000 and summary.frames_failed == 0
    (t0, rss0), (t1, rss1) = samples[2], samples[-1]  # after warm-up (caches, allocator pools); 100 s paced
    growth_per_min = (rss1 - rss0) / max((t1 - t0) / 60, 1e-9)
    print(f"soak: {summary.frames_processed} frames in {t1 - t0:.0f} s, RSS {rss0:.1f} -> {rss1:.1f} MB")
    assert growth_per_min < 1.0, f"RSS grew {growth_per_min:.2f} MB/min"
