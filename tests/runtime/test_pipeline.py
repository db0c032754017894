"""runtime/pipeline.py: drop policy, every-frame files, outputs, failures, stopping, summary."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from b2v_edge.runtime.engines import Engine, EngineSpec
from b2v_edge.runtime.options import RunError, RunOptions
from b2v_edge.runtime.pipeline import FrameSlot, Pipeline, run
from b2v_edge.runtime.sources import SourceError, SourceSpec


class SlowEngine(Engine):
    """Stand-in engine: sleeps ``delay`` s, returns the input N times; NaN on frames in ``nan_at``."""

    def __init__(self, delay=0.0, n=3, size=(24, 32), nan_at=(), interrupt_at=None, gate=None):
        h, w = size
        super().__init__(
            EngineSpec(
                "blurred", (1, 3, h, w), "frames", (1, n, 3, h, w), "fp32", n, "stand-in", "none", Path("slow.onnx")
            )
        )
        self.delay, self.calls, self.nan_at, self.interrupt_at = delay, 0, set(nan_at), interrupt_at
        self.gate, self.started = gate, threading.Event()

    def _infer_impl(self, x):
        self.calls += 1
        self.started.set()
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        if self.gate is not None and self.calls == 1:
            assert self.gate.wait(30), "the gate was never opened"  # the first inference outlasts the source
        time.sleep(self.delay)
        y = np.repeat(x[:, None], self.spec.frames, axis=1)
        return y * np.nan if self.calls in self.nan_at else y


class FakeSource:
    """Stand-in source: ``count`` frames, ``period`` s apart (wall clock), ``live`` as given.

    ``done`` is set once the last frame has been taken (the capture thread asked for the next one).
    """

    def __init__(self, count=50, period=0.0, live=True, fail_at=None, ts_step=1 / 30):
        self.count, self.period, self.live, self.fail_at, self.ts_step = count, period, live, fail_at, ts_step
        self.spec = SourceSpec("fake", "camera" if live else "file", "fake")
        self.fps = 30.0
        self.closed = False
        self.done = threading.Event()

    def __iter__(self):
        for i in range(self.count):
            if i == self.fail_at:
                raise SourceError("camera fake was lost and did not come back after 5 reconnect attempts")
            if self.period:
                time.sleep(self.period)
            yield np.full((24, 32, 3), i % 256, np.uint8), i * self.ts_step
        self.done.set()

    def close(self):
        self.closed = True


class Recorder:
    """Stand-in output: records what it was given; returns False at write number ``quit_at``."""

    def __init__(self, quit_at=None):
        self.writes, self.quit_at, self.closed_ok = [], quit_at, None

    def write(self, blurred, images, overlay):
        self.writes.append((blurred.shape, len(images), list(overlay)))
        self.last = images
        return len(self.writes) != self.quit_at

    def close(self, ok=True):
        self.closed_ok = ok


def _opts(tmp_path, **kw):
    kw.setdefault("headless", True)
    return RunOptions(model=tmp_path, **kw)


# ---- FrameSlot ----------------------------------------------------------------------------
def test_frame_slot_latest_policy_drops_and_bounds():
    slot = FrameSlot(1, drop_oldest=True)
    for i in range(5):
        assert slot.put(i)
    assert slot.get(0.01) == 4 and slot.dropped == 4 and slot.high_water == 1
    assert slot.get(0.01) is FrameSlot.TIMEOUT
    slot.close()
    assert slot.get(0.01) is None and slot.put(9) is False


def test_frame_slot_blocking_policy_never_drops():
    slot = FrameSlot(2, drop_oldest=False)
    got = []
    reader = threading.Thread(target=lambda: [got.append(slot.get(1.0)) for _ in range(10)])
    reader.start()
    for i in range(10):
        slot.put(i)
    reader.join(5)
    assert got == list(range(10)) and slot.dropped == 0 and slot.high_water <= 2
    with pytest.raises(ValueError):
        FrameSlot(0)


# ---- drop policy end to end ---------------------------------------------------------------------
def test_slow_engine_on_live_source_drops_stale_frames_bounded(tmp_path):
    src = FakeSource(count=200, live=True)
    engine = SlowEngine(gate=src.done)  # the first inference lasts until every frame was captured
    out = Recorder()
    pipe = Pipeline(_opts(tmp_path), engine=engine, source=src, outputs=[out])
    s = pipe.run()
    assert s.stop_reason == "end of source" and s.frames_captured == 200
    # inferred: the frame taken first, then the newest (the last); everything in between is dropped
    assert s.frames_processed in (1, 2) and s.frames_dropped == 200 - s.frames_processed
    assert out.last[0][0, 0, 0] == 199  # the last inference ran on the newest frame
    assert s.max_pending == 1  # never more than one frame waiting: memory bounded
    assert s.frames_processed == engine.calls == len(out.writes)
    assert not src.closed  # an injected source is left to its owner


def test_file_source_processes_every_frame(tmp_path):
    engine = SlowEngine(delay=0.005)
    s = Pipeline(_opts(tmp_path), engine=engine, source=FakeSource(count=40, live=False), outputs=[]).run()
    assert s.frames_processed == s.frames_captured == 40 and s.frames_dropped == 0 and s.max_pending <= 2


def test_realtime_paces_a_file_and_drops_like_live(tmp_path):
    src = FakeSource(count=30, live=False, ts_step=0.01)  # 100 fps file
    engine = SlowEngine(gate=src.done)
    t0 = time.perf_counter()
    s = Pipeline(_opts(tmp_path, realtime=True), engine=engine, source=src, outputs=[]).run()
    assert time.perf_counter() - t0 >= 0.25  # a lower bound (0.29 s of media): released no earlier than its timestamps
    assert s.frames_processed in (1, 2) and s.frames_dropped == 30 - s.frames_processed and s.max_pending == 1


# ---- failures and stopping -----------------------------------------------------------------------
def test_nan_frames_are_reported_skipped_and_counted(tmp_path, caplog):
    engine = SlowEngine(nan_at={2, 4, 5})
    out = Recorder()
    s = Pipeline(_opts(tmp_path), engine=engine, source=FakeSource(count=10, live=False), outputs=[out]).run()
    assert s.frames_failed == 3 and s.frames_processed == 7 and len(out.writes) == 7
    assert sum("NaN/Inf" in r.getMessage() for r in caplog.records) == 1  # reported once
    assert any("NaN/Inf" in n for n in s.notices)


def test_too_many_consecutive_nan_frames_stop_with_error(tmp_path):
    engine = SlowEngine(nan_at=set(range(1, 100)))
    with pytest.raises(RunError, match="3 consecutive frames gave NaN/Inf"):
        Pipeline(
            _opts(tmp_path, max_failures=3), engine=engine, source=FakeSource(count=10, live=False), outputs=[]
        ).run()


def test_source_error_mid_stream_propagates(tmp_path):
    with pytest.raises(SourceError, match="did not come back"):
        Pipeline(_opts(tmp_path), engine=SlowEngine(), source=FakeSource(count=10, fail_at=4), outputs=[]).run()


def test_max_frames_quit_key_stop_and_ctrl_c(tmp_path):
    s = Pipeline(
        _opts(tmp_path, max_frames=5), engine=SlowEngine(), source=FakeSource(count=100, live=False), outputs=[]
    ).run()
    assert s.frames_processed == 5 and s.stop_reason == "max frames (5)"
    out = Recorder(quit_at=3)
    s = Pipeline(_opts(tmp_path), engine=SlowEngine(), source=FakeSource(count=100, live=False), outputs=[out]).run()
    assert s.frames_processed == 3 and s.stop_reason == "quit from the preview window" and out.closed_ok
    engine = SlowEngine()
    pipe = Pipeline(_opts(tmp_path), engine=engine, source=FakeSource(count=10**6, period=0.001), outputs=[])
    stopper = threading.Thread(target=lambda: engine.started.wait(30) and pipe.stop("stopped by test"))
    stopper.start()  # stop() from another thread once the run is under way
    assert pipe.run().stop_reason == "stopped by test"
    stopper.join(30)
    out = Recorder()
    s = Pipeline(
        _opts(tmp_path), engine=SlowEngine(interrupt_at=4), source=FakeSource(count=100, live=False), outputs=[out]
    ).run()
    assert s.stop_reason == "interrupted (Ctrl-C)" and s.frames_processed == 3 and out.closed_ok is True


def test_overlay_and_summary(tmp_path):
    out = Recorder()
    s = Pipeline(
        _opts(tmp_path, show="grid"),
        engine=SlowEngine(delay=0.002),
        source=FakeSource(count=12, live=False),
        outputs=[out],
    ).run()
    shape, n_images, overlay = out.writes[-1]
    assert shape == (24, 32, 3) and n_images == 1
    assert overlay[0].startswith("stand-in/none fp32  24x32  N=3") and "FPS" in overlay[1]
    assert set(s.stages) >= {"capture", "preprocess", "infer", "postprocess", "display"}
    assert s.infer_fps > 0 and s.stream_fps > 0 and s.latency_ms > 0
    labels = [r[0] for r in s.rows()]
    assert "throughput" in labels and "  infer" in labels
    assert s.to_dict()["frames_processed"] == 12


class RampEngine(SlowEngine):
    """Frame k is a flat image of value k / (N - 1): shows which recovered frame reaches the output."""

    def _infer_impl(self, x):
        n = self.spec.frames
        return np.broadcast_to(np.linspace(0, 1, n, dtype=np.float32).reshape(1, n, 1, 1, 1), (1, n, *x.shape[1:]))


@pytest.mark.parametrize("show, values", [("middle", [128]), ("sequence", [0, 64, 128, 191, 255]), ("grid", None)])
def test_show_modes_pick_the_right_frames(tmp_path, show, values):
    out = Recorder()
    Pipeline(
        _opts(tmp_path, show=show), engine=RampEngine(n=5), source=FakeSource(count=2, live=False), outputs=[out]
    ).run()
    if values is None:
        grid = out.last[0]  # N=5 -> 2 rows x 3 columns of 24x32 tiles, the last one black
        assert len(out.last) == 1 and grid.shape == (48, 96, 3)
        assert [int(grid[12 + 24 * (k // 3), 16 + 32 * (k % 3), 0]) for k in range(6)] == [0, 64, 128, 191, 255, 0]
    else:
        assert [int(img[12, 16, 0]) for img in out.last] == values


# ---- with real ONNX, files and sinks ----------------------------------------------------------
def test_headless_sequence_output_of_60_frame_video(tmp_path, deploy, models):
    video = models.write_video(tmp_path / "in.avi", frames=60)
    out = tmp_path / "out" / "restored.mp4"
    s = run(RunOptions(model=deploy, source=str(video), headless=True, output=out, show="sequence"))
    assert s.frames_processed == 60 and s.frames_written == 60 * 3 and s.stop_reason == "end of source"
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 180
    ok, frame = cap.read()
    assert ok and frame.shape == (48, 64, 3)  # cropped back to the source size
    cap.release()
    assert [p.name for p in out.parent.iterdir()] == ["restored.mp4"]  # no temp file left
    assert {"capture", "preprocess", "infer", "postprocess", "display"} <= set(s.stages)


def test_shadow_fp32_psnr_and_synthetic_default_length(tmp_path, deploy):
    s = run(RunOptions(model=deploy, source="synthetic", headless=True, precision="fp16", shadow_every=5))
    assert s.frames_processed == 100 and s.stop_reason == "max frames (100)"
    assert s.shadow_count == 20 and 45 < s.shadow_psnr_db < 200
    assert any("stopping after 100 frames" in n for n in s.notices)
    assert any("shadow fp32 PSNR" in r[0] for r in s.rows())


def test_no_display_falls_back_to_headless(tmp_path, deploy, monkeypatch, video):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    s = run(RunOptions(model=deploy, source=str(video), max_frames=2))
    assert s.frames_processed == 2 and any("no display" in n for n in s.notices)


def test_engine_and_source_errors_surface(tmp_path, deploy):
    with pytest.raises(SourceError, match="source not found"):
        run(RunOptions(model=deploy, source=str(tmp_path / "nope.mp4"), headless=True))
    from b2v_edge.common.manifest import ManifestError

    with pytest.raises(ManifestError, match="does not exist"):
        run(RunOptions(model=tmp_path / "nowhere", source="synthetic", headless=True))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no manifest.json"):
        run(RunOptions(model=tmp_path / "empty", source="synthetic", headless=True))


# ---- latency on live sources: the latest frame, never a queue ---------------------------------------
class SteppedCamera(FakeSource):
    """Live stand-in whose clock the test moves: :meth:`advance` makes ``k`` new frames exist, which the
    capture thread then reads one by one (value ``k % 256``), as a camera delivers frames during an
    inference. The source ends after frame ``limit``."""

    def __init__(self, limit):
        super().__init__(count=limit + 1, live=True)
        self.limit, self.newest, self.delivered = limit, 0, -1
        self.cond = threading.Condition()

    def advance(self, k):
        with self.cond:
            self.newest += k
            self.cond.notify_all()

    def wait_delivered(self):
        """Block until the capture thread has taken the newest frame (it is then in the pipeline's slot)."""
        with self.cond:
            assert self.cond.wait_for(lambda: self.delivered >= min(self.newest, self.limit), 30)

    def __iter__(self):
        for k in range(self.limit + 1):
            with self.cond:
                if not self.cond.wait_for(lambda k=k: self.newest >= k, 30):
                    return
            yield np.full((24, 32, 3), k % 256, np.uint8), k / 30
            with self.cond:
                self.delivered = k  # the capture thread asked for the next frame: frame k was handed on
                self.cond.notify_all()


class LagProbe(SlowEngine):
    """Records, at every inference, how many camera frames are newer than the one being inferred;
    during each inference ``arrivals`` new camera frames arrive and are captured."""

    def __init__(self, camera, arrivals, **kw):
        super().__init__(**kw)
        self.camera, self.arrivals, self.lags = camera, arrivals, []

    def _infer_impl(self, x):
        index = int(round(float(x[0, 0, 0, 0]) * 255))
        self.lags.append(self.camera.newest - index)
        self.camera.advance(self.arrivals)
        self.camera.wait_delivered()
        return super()._infer_impl(x)


def test_live_source_is_inferred_on_its_latest_frame(tmp_path):
    camera = SteppedCamera(limit=80)
    engine = LagProbe(camera, arrivals=10)  # 10 camera frames arrive during each inference
    s = Pipeline(_opts(tmp_path, max_frames=8), engine=engine, source=camera, outputs=[]).run()
    assert s.frames_processed == 8 and s.max_pending == 1
    # a queue would infer the oldest waiting frame (lags 0, 9, 18, ...); the latest-frame policy the newest
    assert engine.lags == [0] * 8
    assert s.frames_dropped >= 7 * 9  # the 9 older frames of every burst
    assert s.policy.startswith("latest frame (live source")


def test_default_synthetic_run_is_a_live_source_with_the_latest_frame_policy(tmp_path, models):
    """Default `b2v-edge run` (synthetic, a camera stand-in): frames are dropped, never queued."""
    deploy = models.make_deploy(tmp_path / "d", h=24, w=32)
    engine = SlowEngine(delay=0.2)
    s = run(RunOptions(model=deploy, headless=True, max_frames=4), engine=engine)
    assert s.source_kind == "synthetic" and s.frames_processed == 4 and s.max_pending == 1
    assert s.stages["infer"].mean_ms >= 200  # a lower bound: the engine sleeps that long
    assert "latest frame (live source" in dict(s.rows())["frames in"]


def test_files_keep_every_frame_and_say_so(tmp_path):
    s = Pipeline(_opts(tmp_path), engine=SlowEngine(), source=FakeSource(count=7, live=False), outputs=[]).run()
    assert s.frames_processed == 7 and s.frames_dropped == 0
    assert dict(s.rows())["frames in"] == "every frame (file/folder source: nothing dropped)"
    assert "full resolution 24x32: one 24x32 pass" in dict(s.rows())["resolution"]


# ---- stopping with signals finalises outputs --------------------------------------------------------
def test_sigterm_stops_cleanly_and_finishes_the_video(tmp_path):
    import os
    import signal

    out = tmp_path / "out.mp4"

    def on_status(status):
        if status.frames == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # handled on the main thread before the next frame

    previous = signal.getsignal(signal.SIGTERM)
    s = run(
        RunOptions(model=tmp_path, headless=True, output=out),
        engine=SlowEngine(),
        source=FakeSource(count=10**6, period=0.001),
        on_status=on_status,
    )
    assert s.stop_reason == "terminated (SIGTERM)" and s.frames_processed == 3 and s.frames_written == 3
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # renamed into place, no partial file
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is restored


def test_status_callback_reports_progress(tmp_path):
    seen = []
    Pipeline(
        _opts(tmp_path, max_frames=4),
        engine=SlowEngine(),
        source=FakeSource(count=10, live=False),
        outputs=[],
        on_status=seen.append,
    ).run()
    assert [st.frames for st in seen] == [1, 2, 3, 4] and seen[-1].total == 4
    assert "frame 4/4" in seen[-1].line() and "FPS" in seen[-1].line()


class _BrokenOnClose(Recorder):
    def close(self, ok=True):
        raise OSError("disk full")


def test_an_output_that_cannot_be_finalised_fails_the_run_after_everything_closed(tmp_path):
    from b2v_edge.runtime.sinks import SinkError

    good = Recorder()
    src = FakeSource(count=5, live=False)
    pipe = Pipeline(_opts(tmp_path), engine=SlowEngine(), source=src, outputs=[_BrokenOnClose(), good])
    with pytest.raises(SinkError, match="disk full"):
        pipe.run()
    assert good.closed_ok is True and len(good.writes) == 5
