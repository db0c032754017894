"""runtime/stats.py: stage timers, FPS meter, summary rows."""

from __future__ import annotations

import math
import threading

import pytest

from b2v_edge.runtime.stats import FpsMeter, RunSummary, StageTimer


def test_stage_timer_stats_bounded_and_thread_safe():
    t = StageTimer(window=10)
    threads = [threading.Thread(target=lambda: [t.add("infer", 0.002) for _ in range(100)]) for _ in range(4)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    t.add("capture", 0.001)
    with t.time("custom"):
        pass
    s = t.stats()
    assert list(s) == ["capture", "infer", "custom"]  # pipeline order first
    assert s["infer"].count == 400 and s["infer"].mean_ms == pytest.approx(2.0)
    assert len(t._recent["infer"]) == 10  # percentile window bounded
    assert t.mean_ms("infer") == pytest.approx(2.0) and t.mean_ms("nope") == 0.0


def test_fps_meter():
    m = FpsMeter(window=5)
    assert m.fps == 0.0
    for i in range(10):
        m.tick(i * 0.1)
    assert m.fps == pytest.approx(10.0)


def test_summary_rows_and_efficiency():
    s = RunSummary(
        "synthetic",
        "synthetic",
        "onnxruntime/CPU fp32",
        "m.onnx",
        (256, 256),
        7,
        frames_processed=10,
        stream_fps=9.0,
        infer_fps=10.0,
        shadow_psnr_db=math.inf,
        shadow_count=2,
        output="o.mp4",
        serve_url="http://127.0.0.1:1/",
    )
    assert s.efficiency == pytest.approx(0.9) and s.to_dict()["efficiency"] == pytest.approx(0.9)
    rows = dict(s.rows())
    assert "0.90" in rows["throughput"] and rows["shadow fp32 PSNR"].startswith("identical")
    assert rows["served"] == "http://127.0.0.1:1/"
