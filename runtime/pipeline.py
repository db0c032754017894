"""The run loop: capture thread → frame layout → ``Engine.infer`` → blend back → outputs.

* Frames keep their resolution by default (:mod:`.layout`): a dynamic graph runs at the frame
  size padded to 32, a static graph as overlapping tiles blended back; ``fit="letterbox"`` /
  ``"resize"`` rescale instead. The summary says which ran.
* The capture thread (:mod:`.capture`) hands frames over with the **latest-frame** policy for live
  sources (camera, CSI, stream, synthetic; a file with ``realtime``) — stale frames are dropped,
  nothing queues — and **every frame** for files and folders.
* Inference and outputs run on the calling (main) thread. The loop ends with the source,
  ``max_frames``, ``q``/Esc in the preview window, :meth:`Pipeline.stop`, Ctrl-C or SIGTERM; every
  way out closes the outputs cleanly (video files are finalised). NaN/Inf outputs are reported
  once, counted and skipped. :func:`run` returns a :class:`~b2v_edge.runtime.stats.RunSummary`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .capture import CaptureThread, FrameSlot, Item, policy_text
from .engines import Engine, NonFiniteOutputError
from .layout import FrameLayout, InputLimits, plan_layout, run_passes
from .open import open_engine
from .options import SYNTHETIC_HEADLESS_FRAMES, RunError, RunOptions
from .outputs import OutputContext, OutputUnavailable, open_output
from .preview import frames_for_mode
from .sinks import SinkError, VideoSink
from .sources import open_source
from .stats import FpsMeter, RunStatus, RunSummary, StageTimer

__all__ = ["FrameSlot", "Pipeline", "RunError", "RunOptions", "run"]

log = logging.getLogger("b2v_edge.runtime")

StatusCallback = Callable[[RunStatus], None]


class Pipeline:
    """One run: opens what ``options`` names (unless given), loops, closes, summarises.

    Args:
        options: validated run options.
        engine: an open engine to use (not closed by the pipeline).
        source: an open source — any iterable of ``(frame, t)``; optional attributes ``live``,
            ``spec`` (``uri``/``kind``), ``fps``, ``frame_count`` and ``close()`` are used when present.
        outputs: objects with ``write(blurred, images, overlay) -> bool`` and ``close(ok)``,
            replacing the outputs built from ``options.output_uris()``.
        on_status: called with a :class:`~b2v_edge.runtime.stats.RunStatus` after every processed
            frame (progress display; keep it cheap).
    """

    def __init__(
        self,
        options: RunOptions,
        engine: Optional[Engine] = None,
        source: Optional[Any] = None,
        outputs: Optional[List[Any]] = None,
        on_status: Optional[StatusCallback] = None,
    ) -> None:
        self.options = options
        self.engine, self._own_engine = engine, engine is None
        self.source, self._own_source = source, source is None
        self.outputs: List[Any] = list(outputs) if outputs is not None else []
        self._build_outputs = outputs is None
        self.on_status = on_status
        self.timer, self.meter = StageTimer(), FpsMeter()
        self.notices: List[str] = []
        self._stop = threading.Event()
        self._stop_reason = ""
        self._shadow: Optional[Engine] = None
        self.capture: Optional[CaptureThread] = None
        self.processed = self.failed = self._consecutive = 0
        self._latency_sum = self._shadow_mse = 0.0
        self._shadow_n = 0
        self._t0 = time.perf_counter()
        self.max_frames = options.max_frames
        self.size: Tuple[int, int] = tuple(options.size)
        self.limits: Optional[InputLimits] = None
        self._layouts: Dict[Tuple[int, int], FrameLayout] = {}
        self.serve_url: Optional[str] = None
        self.policy = ""

    # ---- control ------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the loop to finish after the current frame (thread-safe, signal-safe)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def notice(self, message: str) -> None:
        """A one-line notice: logged now (the CLI prints it) and kept for the summary."""
        self.notices.append(message)
        log.warning(message)

    def run(self) -> RunSummary:
        """Open, loop until stopped, close; returns the summary (also after Ctrl-C / SIGTERM)."""
        ok, reason, t0 = False, "error", time.perf_counter()
        with _graceful_signals(self):
            try:
                self._open()
                t0 = self._t0 = time.perf_counter()
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
        self.limits = InputLimits.from_spec(self.engine.spec)
        self.size = self.limits.fixed or tuple(o.size)
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
        live = bool(getattr(self.source, "live", False))
        self.policy = policy_text(live or o.realtime, o.realtime and not live)
        self.capture = CaptureThread(self.source, live or o.realtime, o.realtime and not live, self.timer, self._stop)
        self.capture.start()

    def _make_outputs(self) -> None:
        o = self.options
        context = OutputContext(
            show=o.show,
            playback_fps=o.playback_fps,
            fps=o.output_fps or getattr(self.source, "fps", None) or 30.0,
            title=f"b2v-edge: {self.engine.spec.label}",
            serve_public=o.serve_public,
        )
        for uri in o.output_uris():
            try:
                out = open_output(uri, context)
            except OutputUnavailable as exc:
                self.notice(f"{exc}: running without {uri}" + ("" if self.outputs else " (headless)"))
                continue
            self.outputs.append(out)
            if hasattr(out, "url"):
                self.serve_url = out.url
                self.notice(f"MJPEG preview at {out.url} (Ctrl-C to stop)")

    def _close(self, ok: bool) -> None:
        self.stop(self._stop_reason or "closing")
        ended = self.capture.join(timeout=3.0) if self.capture is not None else True
        failed = []
        for out in self.outputs:
            try:
                out.close(ok)
            except Exception as exc:  # one broken output must not hide the others' results
                failed.append(str(exc) if isinstance(exc, SinkError) else f"closing {type(out).__name__} failed: {exc}")
                log.warning(failed[-1])
        if self._own_source and self.source is not None and hasattr(self.source, "close") and ended:
            self.source.close()  # a reader still blocked in read() is left to process exit
        if self._shadow is not None:
            self._shadow.close()
        if self._own_engine and self.engine is not None:
            self.engine.close()
        if failed and ok:  # an output that was not finalised makes the run fail (after everything closed)
            raise SinkError(failed[0])

    # ---- main loop ----------------------------------------------------------------------
    def _loop(self) -> str:
        assert self.capture is not None
        while True:
            if self.max_frames is not None and self.processed >= self.max_frames:
                return f"max frames ({self.max_frames})"
            if self._stop.is_set():
                return self._stop_reason
            item = self.capture.slot.get(timeout=0.2)
            if item is FrameSlot.TIMEOUT:
                continue
            if item is None:
                if self.capture.error is not None:
                    raise self.capture.error
                return "end of source"
            self._process(item)

    def layout_for(self, frame_size: Tuple[int, int]) -> FrameLayout:
        """The layout of frames of ``frame_size`` (planned once per size)."""
        layout = self._layouts.get(frame_size)
        if layout is None:
            layout = plan_layout(frame_size, self.limits or InputLimits((1, 1)), self.options.fit)
            self._layouts[frame_size] = layout
        return layout

    def _process(self, item: Item) -> None:
        o, timer = self.options, self.timer
        with timer.time("preprocess"):
            layout = self.layout_for(tuple(item.frame.shape[:2]))
            x = layout.split(item.frame)
        try:
            with timer.time("infer"):
                out = run_passes(self.engine, x, self.limits)
        except NonFiniteOutputError as exc:
            self._on_failure(exc)
            return
        self._consecutive = 0
        if self._shadow is not None and self.processed % o.shadow_every == 0:
            self._shadow_compare(x, out)
        with timer.time("postprocess"):
            n = out.shape[1]
            keep = [n // 2] if o.show == "middle" else None  # convert only what is shown
            images = frames_for_mode(layout.merge(out, keep), o.show)
        self.processed += 1
        self.meter.tick()
        overlay = self._overlay(time.perf_counter() - item.t_capture)
        with timer.time("display"):
            for sink in self.outputs:
                if not sink.write(item.frame, images, overlay):
                    self.stop("quit from the preview window")
        latency = time.perf_counter() - item.t_capture
        self._latency_sum += latency
        if self.on_status is not None:
            self.on_status(self.status(latency))

    def _shadow_compare(self, x: np.ndarray, out: np.ndarray) -> None:
        with self.timer.time("shadow"):
            ref = run_passes(self._shadow, x, InputLimits.from_spec(self._shadow.spec))
        self._shadow_mse += float(np.mean((out.astype(np.float64) - ref) ** 2))
        self._shadow_n += 1

    def _on_failure(self, exc: NonFiniteOutputError) -> None:
        self.failed += 1
        self._consecutive += 1
        if self.failed == 1:
            self.notice(f"{exc}: frame skipped (further ones are counted in the summary)")
        if self._consecutive >= self.options.max_failures:
            raise RunError(f"{self._consecutive} consecutive frames gave NaN/Inf; stopping ({exc})")

    # ---- reporting ----------------------------------------------------------------------
    def status(self, latency_s: float) -> RunStatus:
        """Progress so far (``latency_s``: the last frame's capture→output time)."""
        return RunStatus(
            frames=self.processed,
            fps=self.meter.fps,
            latency_ms=1000.0 * latency_s,
            infer_ms=self.timer.mean_ms("infer"),
            dropped=self.capture.slot.dropped if self.capture is not None else 0,
            failed=self.failed,
            elapsed_s=time.perf_counter() - self._t0,
            total=self.max_frames or getattr(self.source, "frame_count", None),
        )

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
        dropped = self.capture.slot.dropped if self.capture is not None else 0
        if dropped or self.failed:
            lines.append(f"dropped {dropped}  failed {self.failed}")
        if self.shadow_psnr is not None:
            lines.append(f"shadow fp32 PSNR {self.shadow_psnr:.1f} dB")
        return lines

    def _summary(self, reason: str, wall: float) -> RunSummary:
        spec = self.engine.spec if self.engine is not None else None
        src_spec = getattr(self.source, "spec", None)
        stages = self.timer.stats()
        infer_ms = stages["infer"].mean_ms if "infer" in stages else 0.0
        files = [o for o in self.outputs if isinstance(o, VideoSink)]
        slot = self.capture.slot if self.capture is not None else FrameSlot()
        return RunSummary(
            source=str(getattr(src_spec, "uri", self.options.source)),
            source_kind=str(getattr(src_spec, "kind", "custom")),
            engine=spec.label if spec else "-",
            model_path=str(spec.path) if spec else "-",
            input_size=self.size,
            frames_per_input=spec.frames if spec else 0,
            frames_captured=self.capture.captured if self.capture is not None else 0,
            frames_processed=self.processed,
            frames_dropped=slot.dropped,
            frames_failed=self.failed,
            frames_written=sum(f.frames_written for f in files),
            max_pending=slot.high_water,
            wall_s=wall,
            stream_fps=self.processed / wall if wall > 0 else 0.0,
            infer_fps=1000.0 / infer_ms if infer_ms > 0 else 0.0,
            latency_ms=1000.0 * self._latency_sum / self.processed if self.processed else 0.0,
            stop_reason=reason,
            shadow_psnr_db=self.shadow_psnr,
            shadow_count=self._shadow_n,
            output=str(files[0].path) if files else None,
            serve_url=self.serve_url,
            policy=self.policy,
            layout="; ".join(layout.describe() for layout in self._layouts.values()),
            outputs=[f.describe() for f in files],
            stages=stages,
            notices=list(self.notices),
        )


@contextlib.contextmanager
def _graceful_signals(pipeline: Pipeline) -> Iterator[None]:
    """On the main thread: SIGTERM and a first Ctrl-C stop the loop cleanly (outputs finalised);
    a second Ctrl-C interrupts at once. Previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        pipeline.stop("terminated (SIGTERM)")

    def on_int(signum: int, frame: Any) -> None:
        if pipeline.stopping:
            raise KeyboardInterrupt
        pipeline.stop("interrupted (Ctrl-C)")

    previous = {}
    for sig, handler in ((signal.SIGTERM, on_term), (signal.SIGINT, on_int)):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(
    options: RunOptions,
    *,
    engine: Optional[Engine] = None,
    source: Optional[Any] = None,
    on_status: Optional[StatusCallback] = None,
) -> RunSummary:
    """Run the pipeline described by ``options`` until the source ends or the user stops it.

    Args:
        options: validated :class:`RunOptions`.
        engine: an open engine instead of ``open_engine(options.model, ...)`` (left open).
        source: an open source (iterable of ``(frame, t)``) instead of ``open_source(options.source)``.
        on_status: progress callback, called after every processed frame.

    Returns:
        The :class:`~b2v_edge.runtime.stats.RunSummary` (also after Ctrl-C or SIGTERM).

    Raises:
        ManifestError, EngineError, SourceError, SinkError, RunError: one-line reasons.
    """
    return Pipeline(options, engine=engine, source=source, on_status=on_status).run()
