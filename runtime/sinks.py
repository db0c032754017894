"""Video file output: the restored stream written to ``.mp4`` (H.264) or ``.avi`` (MJPG), atomically.

``.mp4`` files are H.264 (libx264, ``yuv420p``, ``+faststart``) through PyAV, which ships FFmpeg
in its wheel: they play in browsers, phones and every player. Without a working PyAV/libx264 the
file falls back to OpenCV's MPEG-4 Part 2 (``mp4v``) writer with a notice (most browsers refuse
that codec). ``.avi`` files are Motion-JPEG through OpenCV.

Frames go to a hidden temporary file in the target folder; on a clean close (end of source,
``max_frames``, Ctrl-C, SIGTERM) the encoder is flushed and the file renamed over the target, on an
error it is deleted — a half-written file never appears under the final name.
"""

from __future__ import annotations

import contextlib
import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from b2v_edge.common.errors import B2VError

__all__ = ["CONTAINERS", "SinkError", "VideoSink", "h264_available"]

log = logging.getLogger("b2v_edge.runtime")

#: Container extension → (codec written, OpenCV FourCC used as the fallback / the writer).
CONTAINERS = {".mp4": ("h264", "mp4v"), ".avi": ("mjpeg", "MJPG")}
#: libx264 quality (constant rate factor) and speed preset of ``.mp4`` outputs.
X264_OPTIONS = {"crf": "18", "preset": "veryfast"}


class SinkError(B2VError, RuntimeError):
    """An output that cannot be written (one-line message)."""


def h264_available() -> Tuple[bool, str]:
    """``(True, "")`` when PyAV with the libx264 encoder is importable, else ``(False, reason)``."""
    try:
        import av
    except ImportError as exc:
        return False, f"PyAV is not installed ({exc.name or exc})"
    try:
        av.codec.Codec("libx264", "w")
    except Exception as exc:  # PyAV raises its own UnknownCodecError
        return False, f"this PyAV has no libx264 encoder ({type(exc).__name__})"
    return True, ""


class _PyAvWriter:
    """H.264 in MP4 through PyAV (libx264); frames must have even width and height (``yuv420p``)."""

    codec = "h264"

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        import av

        self._container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            self._stream = self._container.add_stream(
                "libx264", rate=Fraction(fps).limit_denominator(1001), options=dict(X264_OPTIONS)
            )
            self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        except Exception:
            self._container.close()
            raise
        self._frame_type = av.VideoFrame

    def write(self, bgr: np.ndarray) -> None:
        frame = self._frame_type.from_ndarray(bgr, format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def release(self) -> None:
        """Flush the encoder's delayed frames and write the index (``moov``) into the file."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()


class _OpenCvWriter:
    """``cv2.VideoWriter`` with a FourCC available in every OpenCV build (``mp4v``, ``MJPG``)."""

    def __init__(self, path: Path, fourcc: str, fps: float, width: int, height: int) -> None:
        self.codec = fourcc.lower()
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
        if not self._writer.isOpened():
            self._writer.release()
            raise SinkError(f"cannot write {path.name}: OpenCV has no working {fourcc} encoder for {width}x{height}")

    def write(self, bgr: np.ndarray) -> None:
        self._writer.write(bgr)

    def release(self) -> None:
        self._writer.release()


class VideoSink:
    """Write the restored images of each input frame to a video file.

    Args:
        path: ``.mp4`` (H.264, or ``mp4v`` when PyAV/libx264 is missing) or ``.avi`` (MJPG).
        fps: playback rate of the file. In sequence mode N frames are written per input, so the
            file plays the recovered exposure N times slower: slow motion.

    Attributes:
        codec: what was written (``h264``, ``mp4v`` or ``mjpg``), known after the first frame.
        frames_written: frames in the file.
        size: ``(width, height)`` of the file, known after the first frame.

    Raises:
        SinkError: unsupported extension or the writer cannot be opened.
    """

    def __init__(self, path: Union[str, Path], fps: float = 30.0) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CONTAINERS:
            raise SinkError(f"output must end with {' or '.join(CONTAINERS)}, got {self.path.name!r}")
        if fps <= 0:
            raise SinkError(f"output fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.suffix = suffix
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create the folder of {self.path} ({exc.strerror or exc})") from exc
        if not os.access(self.path.parent, os.W_OK):
            raise SinkError(f"cannot write {self.path}: the folder {self.path.parent} is not writable")
        if self.path.is_dir():
            raise SinkError(f"cannot write {self.path}: it is a directory; give a file name")
        self.tmp = self.path.parent / f".{self.path.stem}.{os.getpid()}.partial{suffix}"
        self._writer: Any = None
        self.size: Optional[Tuple[int, int]] = None
        self.codec = ""
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        if CONTAINERS[self.suffix][0] == "h264":
            usable, reason = h264_available()
            if usable:
                even = (width + width % 2, height + height % 2)
                if even != (width, height):
                    log.warning("H.264 needs even sizes: %s is edge-padded to %dx%d", self.path.name, *even)
                self._writer, self.size = _PyAvWriter(self.tmp, self.fps, *even), even
                self.codec = self._writer.codec
                return
            log.warning(
                "%s: %s; writing MPEG-4 Part 2 (mp4v), which browsers do not play (`pip install av` for H.264)",
                self.path.name,
                reason,
            )
        self._writer = _OpenCvWriter(self.tmp, CONTAINERS[self.suffix][1], self.fps, width, height)
        self.size, self.codec = (width, height), self._writer.codec

    def _fit(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        tw, th = self.size
        if (w, h) == (tw, th):
            return np.ascontiguousarray(img)
        if w <= tw and h <= th and tw - w <= 1 and th - h <= 1:  # odd size padded for yuv420p
            return cv2.copyMakeBorder(img, 0, th - h, 0, tw - w, cv2.BORDER_REPLICATE)
        return cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)

    def write(self, blurred: np.ndarray, images: List[np.ndarray], overlay: Sequence[str] = ()) -> bool:
        """Append ``images`` (BGR uint8; resized to the first frame's size if they differ).

        Raises:
            SinkError: the encoder refused the frame size or failed (the message names both).
        """
        for img in images:
            try:
                if self._writer is None:
                    self._open(img.shape[1], img.shape[0])
                self._writer.write(self._fit(img))
            except SinkError:
                raise
            except Exception as exc:  # PyAV / FFmpeg errors carry their own types
                first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
                size = f"{img.shape[1]}x{img.shape[0]}"
                raise SinkError(
                    f"cannot encode {self.path.name} at {size} ({first}); write a .avi or use a smaller source"
                ) from exc
            self.frames_written += 1
        return True

    def close(self, ok: bool = True) -> None:
        """Finish the file: rename it into place when ``ok`` and frames were written, else delete it."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                try:
                    writer.release()
                except Exception as exc:  # a failed run's half-open encoder may refuse to flush
                    if ok:
                        raise SinkError(f"cannot finish {self.path} ({exc}); the video was not written") from exc
            if ok and self.frames_written and self.tmp.exists():
                os.replace(self.tmp, self.path)
        except OSError as exc:
            raise SinkError(f"cannot save {self.path} ({exc.strerror or exc}); the video was not written") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()

    def describe(self) -> str:
        """``out.mp4 (h264, 640x360, 120 frames)`` for the run summary."""
        size = f"{self.size[0]}x{self.size[1]}, " if self.size else ""
        return f"{self.path} ({self.codec or 'nothing written'}, {size}{self.frames_written} frames)"
