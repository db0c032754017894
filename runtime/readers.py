"""The readers behind each source kind: ``read() -> (BGR uint8 frame, t)`` or ``None`` at the end.

Capture readers (camera, CSI, stream, video file) wrap ``cv2.VideoCapture``; folders and single
images read with ``cv2.imread`` and skip unreadable files with a warning; the synthetic reader
renders the built-in blurred stream paced like a camera. :mod:`b2v_edge.runtime.sources` maps URIs
to these classes and adds reconnects and the latest-frame policy.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

import cv2
import numpy as np

from b2v_edge.common.images import IMAGE_EXTS, list_images

from .source_uri import SourceError, SourceSpec, csi_pipeline, has_gstreamer, rtsp_pipeline

__all__ = [
    "CameraReader",
    "CsiReader",
    "FolderReader",
    "ReaderContext",
    "StreamReader",
    "SyntheticReader",
    "VideoFileReader",
]

log = logging.getLogger("b2v_edge.runtime")

Frame = Tuple[np.ndarray, float]
Target = Union[int, str]  # what cv2.VideoCapture opens: a device index or a path / URL / pipeline


@dataclass(frozen=True)
class ReaderContext:
    """What a reader may need besides its URI.

    Attributes:
        size: ``(H, W)`` of generated frames (synthetic: the engine's input size).
        frames: N of the model (synthetic blur is rendered for it).
        fps: nominal rate of folders, images, synthetic frames and files without one.
        seed: seed of generated content.
        open_timeout_ms: open/read timeout of network streams.
    """

    size: Tuple[int, int] = (256, 256)
    frames: int = 7
    fps: float = 30.0
    seed: int = 0
    open_timeout_ms: int = 5000


# ---- readers: read() -> (frame, t) or None; close() ------------------------------------------
class _CaptureReader:
    """``cv2.VideoCapture`` reader; subclasses say what to open (:meth:`capture_args`)."""

    def __init__(self, spec: SourceSpec, context: ReaderContext) -> None:
        self.spec, self.context = spec, context
        self.cap: Any = None
        self.index = 0
        self.open()

    def capture_args(self) -> Tuple[Target, int, List[int]]:
        """``(target, api, params)`` for ``cv2.VideoCapture``."""
        return self.spec.target, cv2.CAP_ANY, []

    def open_error(self) -> str:
        return f"cannot open {self.spec.kind} source {self.spec.uri} (unreachable, or unsupported by this OpenCV)"

    def open(self) -> None:
        target, api, params = self.capture_args()
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no WARN spam on failure
        try:
            cap = cv2.VideoCapture(target, api, params) if params else cv2.VideoCapture(target, api)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            raise SourceError(self.open_error())
        if self.spec.live:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.cap = cap

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
        t = time.monotonic() if self.spec.live else self.index / (self.fps or self.context.fps)
        self.index += 1
        return frame, t

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class CameraReader(_CaptureReader):
    """A V4L2 camera (index or ``/dev/videoN``) with a 1-frame buffer."""

    def capture_args(self) -> Tuple[Target, int, List[int]]:
        linux = os.name == "posix" and os.uname().sysname == "Linux"
        return self.spec.target, (cv2.CAP_V4L2 if linux else cv2.CAP_ANY), []

    def open_error(self) -> str:
        return f"camera {self.spec.uri} could not be opened (not connected, or in use by another program?)"


class CsiReader(_CaptureReader):
    """A Jetson CSI camera through GStreamer (``csi://N?width=&height=&fps=&flip=``)."""

    def capture_args(self) -> Tuple[Target, int, List[int]]:
        if not has_gstreamer():
            raise SourceError(
                f"{self.spec.uri} needs OpenCV built with GStreamer (JetPack's python3-opencv); this OpenCV has none"
            )
        o = self.spec.options
        try:
            size = [int(o.get(k, d)) for k, d in (("width", 1280), ("height", 720), ("fps", 30), ("flip", 0))]
        except ValueError:
            raise SourceError(f"{self.spec.uri}: width, height, fps and flip must be integers") from None
        return csi_pipeline(int(self.spec.target), *size), cv2.CAP_GSTREAMER, []


class StreamReader(_CaptureReader):
    """A network stream: GStreamer ``rtspsrc latency=0`` for RTSP when available, else FFMPEG low-delay."""

    def capture_args(self) -> Tuple[Target, int, List[int]]:
        url = str(self.spec.target)
        if url.startswith("rtsp") and has_gstreamer():
            return rtsp_pipeline(url), cv2.CAP_GSTREAMER, []
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay")
        ms = self.context.open_timeout_ms
        return url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]


class VideoFileReader(_CaptureReader):
    """A video file: every frame, timestamps from the frame index and the container's fps.

    A file that ends before the frame count its container declares (truncated, or damaged in the
    middle) ends the run normally, with a warning that says how many frames were decoded.
    """

    def open_error(self) -> str:
        return f"cannot read video file {self.spec.uri} (unsupported format or corrupt)"

    def __init__(self, spec: SourceSpec, context: ReaderContext) -> None:
        super().__init__(spec, context)
        self._declared, self._warned = self.frame_count, False

    def read(self) -> Optional[Frame]:
        item = super().read()
        declared = self._declared
        if item is None and declared and self.index < declared and not self._warned:
            self._warned = True
            log.warning(
                "%s ended after %d of its %d frames: the file is truncated or damaged",
                self.spec.uri,
                self.index,
                declared,
            )
        return item


class FolderReader:
    """Images of a folder (or one image) in natural order; timestamps ``i / fps``.

    An image that cannot be decoded is skipped with a warning (its slot in time stays empty); only a
    folder none of whose images can be read is an error.
    """

    def __init__(self, spec: SourceSpec, context: ReaderContext) -> None:
        self.spec, self.fps, self.index, self.skipped = spec, context.fps, 0, 0
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
        while self.index < len(self.paths):
            path = self.paths[self.index]
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            t = self.index / self.fps
            self.index += 1
            if frame is not None:
                return frame, t
            self.skipped += 1
            if self.skipped == self.index and self.index == len(self.paths):
                others = f"; none of the {len(self.paths)} images could be read" if len(self.paths) > 1 else ""
                raise SourceError(f"cannot read image {path} (corrupt or unsupported format){others}")
            log.warning("cannot read image %s (corrupt or unsupported format): skipped", path)
        return None

    def close(self) -> None:
        self.index = len(self.paths)


class SyntheticReader:
    """The built-in blurred stream (``b2v_edge.data.synthetic.SyntheticStream``), paced like a camera.

    Frames are released at ``fps`` (URI option ``synthetic://?fps=60``, else the context's) on the
    wall clock, as a camera delivers them; when rendering is slower than that, as fast as it renders.
    Timestamps are ``n / fps``. URI option ``seed`` overrides the context's seed.
    """

    def __init__(self, spec: SourceSpec, context: ReaderContext) -> None:
        try:
            self.fps = float(spec.options.get("fps", context.fps))
            seed = int(spec.options.get("seed", context.seed))
        except ValueError:
            raise SourceError(f"{spec.uri}: fps must be a number and seed an integer") from None
        if not self.fps > 0:
            raise SourceError(f"{spec.uri}: fps must be > 0")
        try:
            from b2v_edge.data.synthetic import SyntheticStream
        except ImportError as exc:
            raise SourceError(f"the synthetic source is unavailable ({exc}); reinstall b2v-edge") from exc
        self.stream = SyntheticStream(frames=context.frames, size=tuple(context.size), seed=seed, fps=self.fps)
        self._start: Optional[float] = None
        self._n = 0

    def read(self) -> Optional[Frame]:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._n / self.fps
        if due > now:
            time.sleep(due - now)
        elif now - due > 1.0 / self.fps:  # rendering fell behind: no burst to catch up
            self._start = now - self._n / self.fps
        self._n += 1
        return next(self.stream)

    def close(self) -> None:
        pass
