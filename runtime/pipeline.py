"""The run loop: capture thread → preprocess → ``Engine.infer`` → postprocess → outputs.

Frame hand-off between the capture thread and the main loop is always bounded:

* **live** sources (camera, CSI, RTSP — or any source with ``realtime=True``) use a latest-frame
  slot of capacity 1: a frame not picked up before the next one arrives is dropped and counted,
  so the model never works on stale frames and memory cannot grow;
* **file, folder and synthetic** sources use a 2-frame slot that blocks the reader
  (back-pressure): every frame is processed.

Inference and outputs run on the calling (main) thread, so Ctrl-C stops the loop cleanly; ``q`` /
Esc in the preview window, the end of the source or ``max_frames`` stop it too. NaN/Inf outputs are
reported once, counted and skipped. :func:`run` returns a :class:`~b2v_edge.runtime.stats.RunSummary`.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, List, Optional, Tuple

import numpy as np

from .engines import Engine, NonFiniteOutputError
from .mjpeg import MjpegServer
from .open import open_engine
from .options import SYNTHETIC_HEADLESS_FRAMES, RunError, RunOptions
from .preprocess import postprocess, preprocess
from .preview import PreviewWindow, frames_for_mode, gui_available, has_display
from .sinks import VideoSink
from .sources import open_source
from .stats import FpsMeter, RunSummary, StageTimer

__all__ = ["FrameSlot", "Pipeline", "RunError", "RunOptions", "run"]

log = logging.getLogger("b2v_edge.runtime")
_TIMEOUT = object()


class FrameSlot:
    """Bounded hand-off between the capture thread and the main loop.

    Args:
        capacity: frames held at most.
        drop_oldest: when full, ``put`` discards the oldest frame (counted in ``dropped``) instead
            of waiting — the latest-frame policy of live sources.
    """

    def __init__(self, capacity: int = 1, drop_oldest: bool = True) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.drop_oldest = capacity, drop_oldest
        self._items: Deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.high_water = 0

    def put(self, item: Any) -> bool:
        """Add ``item``; False if the slot was closed (the item is discarded)."""
        with self._cond:
            while not self.drop_oldest and len(self._items) >= self.capacity and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                return False
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> Any:
        """Oldest item; None when closed and empty; :data:`FrameSlot.TIMEOUT` after ``timeout`` s."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return None if self._closed else _TIMEOUT

    TIMEOUT = _TIMEOUT

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class _Item:
    frame: np.ndarray
    ts: float
    t_capture: float = field(default_factory=time.perf_counter)


class Pipeline:
    """One run: opens what ``options`` names (unless given), loops, closes, summarises.

    Args:
        options: validated run options.
        engine: an open engine to use (not closed by the pipeline).
        source: an open source — any iterable of ``(frame, t)``; optional attributes ``live``,
            ``spec`` (``uri``/``kind``), ``fps`` and ``close()`` are used when present.
        outputs: objects with ``write(blurred, images, overlay) -> bool`` and ``close(ok)``,
            replacing the window/video/MJPEG outputs built from ``options``.
    """

    def __init__(
        self,
        options: RunOptions,
        engine: Optional[Engine] = None,
        source: Optional[Any] = None,
        outputs: Optional[List[Any]] = None,
    ) -> None:
        self.options = options
        self.engine, self._own_engine = engine, engine is None
        self.source, self._own_source = source, source is None
        self.outputs: List[Any] = list(outputs) if outputs is not None else []
        self._build_outputs = outputs is None
        self.timer, self.meter = StageTimer(), FpsMeter()
        self.notices: List[str] = []
        self.slot = FrameSlot()
        self._stop = threading.Event()
        self._stop_reason = ""
        self._shadow: Optional[Engine] = None
        self._thread: Optional[threading.Thread] = None
        self._capture_error: Optional[BaseException] = None
        self.captured = self.processed = self.failed = self._consecutive = 0
        self._latency_sum = self._shadow_mse = 0.0
        self._shadow_n = 0
        self.max_frames = options.max_frames
        self.size: Tuple[int, int] = tuple(options.size)
        self.serve_url: Optional[str] = None

    # ---- control ------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the loop to finish after the current frame (thread-safe)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def notice(self, message: str) -> None:
        """A one-line notice: logged now (the CLI prints it) and kept for the summary."""
        self.notices.append(message)
        log.warning(message)

    def run(self) -> RunSummary:
        """Open, loop until stopped, close; returns the summary (also after Ctrl-C)."""
        ok, reason, t0 = False, "error", time.perf_counter()
        try:
            self._open()
            t0 = time.perf_counter()
            reason = self._loop()
            ok = True
        except KeyboardInterrupt:
            ok, reason = True, "interrupted (Ctrl-C)"
        finally:
            self._close(ok)
        return self._summary(reason, time.perf_counter() - t0)

    # ---- setup / teardown ---------------------------------------------------------------
    def _open(self) -> None:
        o = self.options
        if self.engine is None:
            self.engine = open_engine(o.model, o.backend, o.precision, threads=o.threads)
        h, w = self.engine.spec.size
        self.size = (h, w) if h and w else tuple(o.size)
        if not (h and w):
            self.notice(f"model input size is dynamic; using {self.size[0]}x{self.size[1]}")
        if self.source is None:
            self.source = open_source(
                o.source, size=self.size, frames=self.engine.spec.frames or 7, reconnect_attempts=o.reconnect_attempts
            )
        if o.shadow_every:
            self._shadow = open_engine(o.model, "onnxruntime", "fp32", threads=o.threads)
        if self._build_outputs:
            self._make_outputs()
        kind = getattr(getattr(self.source, "spec", None), "kind", "custom")
        if self.max_frames is None and kind == "synthetic" and not self.outputs:
            self.max_frames = SYNTHETIC_HEADLESS_FRAMES
            self.notice(
                f"synthetic source, nothing to show: stopping after {self.max_frames} frames "
                "(use --max-frames, --output or --serve)"
            )
        live = bool(getattr(self.source, "live", False)) or o.realtime
        self.slot = FrameSlot(1, drop_oldest=True) if live else FrameSlot(2, drop_oldest=False)
        self._thread = threading.Thread(
            target=self._capture,
            args=(live and not getattr(self.source, "live", False),),
            name="b2v-capture",
            daemon=True,
        )
        self._thread.start()

    def _make_outputs(self) -> None:
        o = self.options
        window = not o.headless
        if window and not has_display():
            self.notice("no display found ($DISPLAY is not set): running headless")
            window = False
        if window and not gui_available():
            self.notice(
                "this OpenCV has no GUI (opencv-python-headless): running headless; use --output or --serve to watch"
            )
            window = False
        if window:
            try:
                self.outputs.append(PreviewWindow(f"b2v-edge: {self.engine.spec.label}", o.show, o.playback_fps))
            except RuntimeError as exc:
                self.notice(f"{exc}: running headless")
        if o.output is not None:
            fps = o.output_fps or getattr(self.source, "fps", None) or 30.0
            self.outputs.append(VideoSink(o.output, fps=fps))
        if o.serve is not None:
            host, port = o.serve_address()
            server = MjpegServer(host, port, o.show, o.playback_fps).start()
            self.serve_url = server.url
            self.outputs.append(server)
            self.notice(f"MJPEG preview at {server.url} (Ctrl-C to stop)")

    def _close(self, ok: bool) -> None:
        self.stop(self._stop_reason or "closing")
        self.slot.close()
        alive = False
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            alive = self._thread.is_alive()
        for out in self.outputs:
            try:
                out.close(ok)
            except Exception as exc:  # one broken output must not hide the others' results
                log.warning("closing %s failed: %s", type(out).__name__, exc)
        if self._own_source and self.source is not None and hasattr(self.source, "close") and not alive:
            self.source.close()  # a reader still blocked in read() is left to process exit
        if self._shadow is not None:
            self._shadow.close()
        if self._own_engine and self.engine is not None:
            self.engine.close()

    # ---- capture thread -----------------------------------------------------------------
    def _capture(self, pace: bool) -> None:
        """Read frames into the slot; ``pace`` sleeps to the source timestamps (``--realtime``)."""
        it = iter(self.source)
        t_wall0: Optional[float] = None
        ts0 = 0.0
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                item = next(it, None)
                if item is None:
                    break
                self.timer.add("capture", time.perf_counter() - t0)
                frame, ts = item
                if pace:
                    if t_wall0 is None:
                        t_wall0, ts0 = time.perf_counter(), float(ts)
                    delay = t_wall0 + (float(ts) - ts0) - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                self.captured += 1
                if not self.slot.put(_Item(frame, float(ts))):
                    break
        except BaseException as exc:  # handed to the main loop, raised there
            self._capture_error = exc
        finally:
            self.slot.close()

    # ---- main loop ----------------------------------------------------------------------
    def _loop(self) -> str:
        while True:
            if self.max_frames is not None and self.processed >= self.max_frames:
                return f"max frames ({self.max_frames})"
            if self._stop.is_set():
                return self._stop_reason
            item = self.slot.get(timeout=0.2)
            if item is _TIMEOUT:
                continue
            if item is None:
                if self._capture_error is not None:
                    raise self._capture_error
                return "end of source"
            self._process(item)

    def _process(self, item: _Item) -> None:
        o, timer, engine = self.options, self.timer, self.engine
        with timer.time("preprocess"):
            x, mapping = preprocess(item.frame, self.size, o.fit)
        try:
            with timer.time("infer"):
                out = engine.infer(x)
        except NonFiniteOutputError as exc:
            self._on_failure(exc)
            return
        self._consecutive = 0
        if self._shadow is not None and self.processed % o.shadow_every == 0:
            with timer.time("shadow"):
                ref = self._shadow.infer(x, check_finite=False)
            self._shadow_mse += float(np.mean((out.astype(np.float64) - ref) ** 2))
            self._shadow_n += 1
        with timer.time("postprocess"):
            n = out.shape[1]
            chosen = out[0, n // 2 : n // 2 + 1] if o.show == "middle" else out[0]  # convert only what is shown
            images = frames_for_mode(postprocess(chosen, mapping), o.show)
        self.processed += 1
        self.meter.tick()
        overlay = self._overlay(time.perf_counter() - item.t_capture)
        with timer.time("display"):
            for sink in self.outputs:
                if not sink.write(item.frame, images, overlay):
                    self.stop("quit from the preview window")
        self._latency_sum += time.perf_counter() - item.t_capture

    def _on_failure(self, exc: NonFiniteOutputError) -> None:
        self.failed += 1
        self._consecutive += 1
        if self.failed == 1:
            self.notice(f"{exc}: frame skipped (further ones are counted in the summary)")
        if self._consecutive >= self.options.max_failures:
            raise RunError(f"{self._consecutive} consecutive frames gave NaN/Inf; stopping ({exc})")

    @property
    def shadow_psnr(self) -> Optional[float]:
        """Running PSNR (dB) of the engine against the fp32 reference (from the mean MSE)."""
        if not self._shadow_n:
            return None
        mse = self._shadow_mse / self._shadow_n
        return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))

    def _overlay(self, latency_s: float) -> List[str]:
        spec = self.engine.spec
        lines = [
            f"{spec.label}  {self.size[0]}x{self.size[1]}  N={spec.frames}",
            f"{self.meter.fps:5.1f} FPS  latency {latency_s * 1000:.0f} ms  infer {self.timer.mean_ms('infer'):.0f} ms",
        ]
        if self.slot.dropped or self.failed:
            lines.append(f"dropped {self.slot.dropped}  failed {self.failed}")
        if self.shadow_psnr is not None:
            lines.append(f"shadow fp32 PSNR {self.shadow_psnr:.1f} dB")
        return lines

    def _summary(self, reason: str, wall: float) -> RunSummary:
        spec = self.engine.spec if self.engine is not None else None
        src_spec = getattr(self.source, "spec", None)
        stages = self.timer.stats()
        infer_ms = stages["infer"].mean_ms if "infer" in stages else 0.0
        written = sum(getattr(o, "frames_written", 0) for o in self.outputs if isinstance(o, VideoSink))
        return RunSummary(
            source=str(getattr(src_spec, "uri", self.options.source)),
            source_kind=str(getattr(src_spec, "kind", "custom")),
            engine=spec.label if spec else "-",
            model_path=str(spec.path) if spec else "-",
            input_size=self.size,
            frames_per_input=spec.frames if spec else 0,
            frames_captured=self.captured,
            frames_processed=self.processed,
            frames_dropped=self.slot.dropped,
            frames_failed=self.failed,
            frames_written=written,
            max_pending=self.slot.high_water,
            wall_s=wall,
            stream_fps=self.processed / wall if wall > 0 else 0.0,
            infer_fps=1000.0 / infer_ms if infer_ms > 0 else 0.0,
            latency_ms=1000.0 * self._latency_sum / self.processed if self.processed else 0.0,
            stop_reason=reason,
            shadow_psnr_db=self.shadow_psnr,
            shadow_count=self._shadow_n,
            output=str(self.options.output) if self.options.output else None,
            serve_url=self.serve_url,
            stages=stages,
            notices=list(self.notices),
        )


def run(options: RunOptions, *, engine: Optional[Engine] = None, source: Optional[Any] = None) -> RunSummary:
    """Run the pipeline described by ``options`` until the source ends or the user stops it.

    Args:
        options: validated :class:`RunOptions`.
        engine: an open engine instead of ``open_engine(options.model, ...)`` (left open).
        source: an open source (iterable of ``(frame, t)``) instead of ``open_source(options.source)``.

    Returns:
        The :class:`~b2v_edge.runtime.stats.RunSummary` (also after Ctrl-C).

    Raises:
        ManifestError, EngineError, SourceError, SinkError, RunError: one-line reasons.
    """
    return Pipeline(options, engine=engine, source=source).run()
