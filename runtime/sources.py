"""Frame sources by URI (jetson-inference convention): ``open_source(uri)`` → ``(BGR uint8, t)``.

=====================  ==========  =======================================================
URI                    kind        notes
=====================  ==========  =======================================================
``0``, ``1`` ...       camera      V4L2 on Linux, buffer of 1 frame
``/dev/videoN``        camera      V4L2 device node
``csi://N``            csi         GStreamer ``nvarguscamerasrc sensor-id=N`` (Jetson);
                                   ``csi://0?width=1920&height=1080&fps=30&flip=2``
``rtsp://…``           stream      GStreamer ``rtspsrc latency=0`` when OpenCV has GStreamer,
                                   else FFMPEG with ``nobuffer``/``low_delay`` and timeouts
``http(s)/rtmp/udp``   stream      FFMPEG
``path/video.mp4``     file        every frame, timestamps from the container
``path/image.png``     image       one frame
``path/folder/``       folder      images in natural order (``2.png`` before ``10.png``)
``synthetic``          synthetic   endless built-in blurred frames (no camera needed)
=====================  ==========  =======================================================

Live kinds (camera, csi, stream) time-stamp frames with ``time.monotonic()`` and, when a read
fails, reconnect up to ``reconnect_attempts`` times before raising :class:`SourceError`. Files end.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import cv2
import numpy as np

__all__ = [
    "IMAGE_EXTS",
    "LIVE_KINDS",
    "Source",
    "SourceError",
    "SourceSpec",
    "csi_pipeline",
    "has_gstreamer",
    "list_images",
    "open_source",
    "parse_source",
    "rtsp_pipeline",
]

from b2v_edge.common.images import IMAGE_EXTS, list_images

from .source_uri import (
    LIVE_KINDS,
    SourceError,
    SourceSpec,
    csi_pipeline,
    has_gstreamer,
    parse_source,
    rtsp_pipeline,
)

log = logging.getLogger("b2v_edge.runtime")

Frame = Tuple[np.ndarray, float]


# ---- readers: read() -> (frame, t) or None -----------------------------------------------------
class _CaptureReader:
    """``cv2.VideoCapture`` for cameras, CSI, streams and video files."""

    def __init__(self, spec: SourceSpec, open_timeout_ms: int = 5000) -> None:
        self.spec = spec
        self.timeout_ms = open_timeout_ms
        self.cap: Any = None
        self.index = 0
        self.open()

    def _args(self) -> Tuple[Union[int, str], int, List[int]]:
        spec, timeouts = (
            self.spec,
            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms],
        )
        if spec.kind == "camera":
            return (
                spec.target,
                (cv2.CAP_V4L2 if os.name == "posix" and os.uname().sysname == "Linux" else cv2.CAP_ANY),
                [],
            )
        if spec.kind == "csi":
            if not has_gstreamer():
                raise SourceError(
                    f"{spec.uri} needs OpenCV built with GStreamer (JetPack's python3-opencv); this OpenCV has none"
                )
            o = spec.options
            pipe = csi_pipeline(
                int(spec.target),
                int(o.get("width", 1280)),
                int(o.get("height", 720)),
                int(o.get("fps", 30)),
                int(o.get("flip", 0)),
            )
            return pipe, cv2.CAP_GSTREAMER, []
        if spec.kind == "stream" and spec.target.startswith("rtsp") and has_gstreamer():
            return rtsp_pipeline(str(spec.target)), cv2.CAP_GSTREAMER, []
        if spec.kind == "stream":
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay")
            return spec.target, cv2.CAP_FFMPEG, timeouts
        return spec.target, cv2.CAP_ANY, []

    def open(self) -> None:
        target, api, params = self._args()
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no WARN spam on failure
        try:
            cap = cv2.VideoCapture(target, api, params) if params else cv2.VideoCapture(target, api)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            raise SourceError(self._open_error())
        if self.spec.live:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.cap = cap

    def _open_error(self) -> str:
        kind, uri = self.spec.kind, self.spec.uri
        if kind == "camera":
            return f"camera {uri} could not be opened (not connected, or in use by another program?)"
        if kind == "file":
            return f"cannot read video file {uri} (unsupported format or corrupt)"
        return f"cannot open {kind} source {uri} (unreachable, or unsupported by this OpenCV)"

    @property
    def fps(self) -> Optional[float]:
        v = float(self.cap.get(cv2.CAP_PROP_FPS)) if self.cap is not None else 0.0
        return v if 0 < v < 1000 else None

    @property
    def frame_count(self) -> Optional[int]:
        if self.spec.live or self.cap is None:
            return None
        n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return n if n > 0 else None

    def read(self) -> Optional[Frame]:
        ok, frame = self.cap.read() if self.cap is not None else (False, None)
        if not ok or frame is None:
            return None
        if self.spec.live:
            t = time.monotonic()
        else:
            t = self.index / (self.fps or 30.0)
        self.index += 1
        return frame, t

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class _FolderReader:
    """Images of a folder (or one image) in natural order; timestamps ``i / fps``."""

    def __init__(self, spec: SourceSpec, fps: float) -> None:
        self.spec, self.fps, self.index = spec, fps, 0
        if spec.kind == "image":
            self.paths = [Path(str(spec.target))]
        else:
            folder = Path(str(spec.target))
            self.paths = list_images(folder)
            if not self.paths:
                raise SourceError(f"no images ({', '.join(IMAGE_EXTS)}) in folder {folder}")

    @property
    def frame_count(self) -> int:
        return len(self.paths)

    def read(self) -> Optional[Frame]:
        if self.index >= len(self.paths):
            return None
        path = self.paths[self.index]
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise SourceError(f"cannot read image {path} (corrupt or unsupported format)")
        t = self.index / self.fps
        self.index += 1
        return frame, t

    def close(self) -> None:
        self.index = len(self.paths)


class _SyntheticReader:
    """The built-in blurred stream (``b2v_edge.data.synthetic.SyntheticStream``, numpy/cv2 only)."""

    def __init__(self, size: Tuple[int, int], frames: int, fps: float, seed: int) -> None:
        try:
            from b2v_edge.data.synthetic import SyntheticStream
        except ImportError as exc:
            raise SourceError(f"the synthetic source is unavailable ({exc}); reinstall b2v-edge") from exc
        self.stream = SyntheticStream(frames=frames, size=tuple(size), seed=seed, fps=fps)

    def read(self) -> Optional[Frame]:
        return next(self.stream)

    def close(self) -> None:
        pass


class Source:
    """An opened source: iterate for ``(frame, timestamp_s)``; use as a context manager.

    Attributes:
        spec: the parsed URI.
        fps: nominal frame rate (None if unknown).
        frame_count: number of frames for files/folders, None for live and synthetic sources.
        frames_read: frames delivered so far.
        reconnects: successful reconnections after a lost live source.
    """

    def __init__(
        self,
        spec: SourceSpec,
        reader_factory: Callable[[], Any],
        fps: Optional[float],
        reconnect_attempts: int = 5,
        reconnect_delay: float = 0.5,
    ) -> None:
        self.spec = spec
        self._factory = reader_factory
        self._reader = reader_factory()
        self.fps = getattr(self._reader, "fps", None) or fps
        self.frame_count: Optional[int] = getattr(self._reader, "frame_count", None)
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_delay = reconnect_delay
        self.frames_read = 0
        self.reconnects = 0

    @property
    def live(self) -> bool:
        return self.spec.live

    def __iter__(self) -> Iterator[Frame]:
        failures = 0
        while self._reader is not None:
            item = self._reader.read()
            if item is not None:
                failures = 0
                self.frames_read += 1
                yield item
                continue
            if not self.live:
                if self.frames_read == 0 and self.spec.kind == "file":
                    raise SourceError(f"cannot decode any frame from {self.spec.uri} (corrupt or unsupported)")
                return
            failures += 1
            self._reconnect(failures)

    def _reconnect(self, failures: int) -> None:
        if failures > self.reconnect_attempts:
            raise SourceError(
                f"{self.spec.kind} {self.spec.uri} was lost and did not come back after "
                f"{self.reconnect_attempts} reconnect attempts"
            )
        log.warning(
            "%s %s lost; reconnecting (%d/%d)", self.spec.kind, self.spec.uri, failures, self.reconnect_attempts
        )
        if self._reader is not None:
            self._reader.close()
        time.sleep(self.reconnect_delay * failures)
        try:
            self._reader = self._factory()
            self.reconnects += 1
        except SourceError as exc:
            log.warning("reconnect failed: %s", exc)
            self._reader = _DeadReader()

    def close(self) -> None:
        """Release the device/file (idempotent)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _DeadReader:
    """Stands for a device that failed to reopen: every read fails (counts toward the limit)."""

    def read(self) -> None:
        return None

    def close(self) -> None:
        pass


def open_source(
    uri: Union[str, int],
    *,
    size: Tuple[int, int] = (256, 256),
    frames: int = 7,
    fps: float = 30.0,
    seed: int = 0,
    reconnect_attempts: int = 5,
    reconnect_delay: float = 0.5,
) -> Source:
    """Open a source by URI (see the module table).

    Args:
        uri: camera index, ``/dev/videoN``, ``csi://N``, ``rtsp://…``, video/image file, folder or
            ``"synthetic"``.
        size: ``(H, W)`` of synthetic frames (use the engine's input size).
        frames: N used to synthesise blur (synthetic only).
        fps: nominal rate of folders/images/synthetic (and files that do not store one).
        seed: synthetic stream seed.
        reconnect_attempts: live sources: reconnections tried after a lost frame before failing.
        reconnect_delay: seconds before the first reconnection (grows linearly).

    Raises:
        SourceError: one-line reason (camera unavailable, file missing, empty folder, ...).
    """
    if fps <= 0:
        raise SourceError(f"fps must be > 0, got {fps}")
    if reconnect_attempts < 0 or reconnect_delay < 0:
        raise SourceError("reconnect_attempts and reconnect_delay must be >= 0")
    spec = parse_source(uri)
    if spec.kind == "synthetic":
        factory: Callable[[], Any] = lambda: _SyntheticReader(size, frames, fps, seed)  # noqa: E731
    elif spec.kind in ("folder", "image"):
        factory = lambda: _FolderReader(spec, fps)  # noqa: E731
    else:
        factory = lambda: _CaptureReader(spec)  # noqa: E731
    return Source(spec, factory, fps, reconnect_attempts, reconnect_delay)
