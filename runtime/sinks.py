"""Headless output: the restored stream written to a video file, atomically.

Frames go to a hidden temporary file in the target folder (same extension, so OpenCV picks the
same container); on a clean close (including Ctrl-C) it is renamed over the target, on an error it
is deleted — a half-written file never appears under the final name.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import cv2
import numpy as np

from b2v_edge.common.errors import B2VError

__all__ = ["FOURCC", "SinkError", "VideoSink"]

#: Container extension → FourCC available in every OpenCV build (no GPL/x264 needed).
FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}


class SinkError(B2VError, RuntimeError):
    """An output that cannot be written (one-line message)."""


class VideoSink:
    """Write the restored images of each input frame to a video file.

    Args:
        path: ``.mp4`` (mp4v) or ``.avi`` (MJPG).
        fps: playback rate of the file. In sequence mode N frames are written per input, so the
            file plays the recovered exposure N times slower: slow motion.

    Raises:
        SinkError: unsupported extension or the writer cannot be opened.
    """

    def __init__(self, path: Union[str, Path], fps: float = 30.0) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise SinkError(f"output must end with {' or '.join(FOURCC)}, got {self.path.name!r}")
        if fps <= 0:
            raise SinkError(f"output fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.fourcc = FOURCC[suffix]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.parent / f".{self.path.stem}.{os.getpid()}.partial{suffix}"
        self._writer: Any = None
        self._size: Optional[tuple] = None
        self.frames_written = 0

    def _open(self, width: int, height: int) -> None:
        writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (width, height))
        if not writer.isOpened():
            raise SinkError(f"cannot write {self.path} (codec {self.fourcc} unavailable in this OpenCV?)")
        self._writer, self._size = writer, (width, height)

    def write(self, blurred: np.ndarray, images: List[np.ndarray], overlay: Sequence[str] = ()) -> bool:
        """Append ``images`` (BGR uint8; resized to the first frame's size if they differ)."""
        for img in images:
            h, w = img.shape[:2]
            if self._writer is None:
                self._open(w, h)
            if (w, h) != self._size:
                img = cv2.resize(img, self._size, interpolation=cv2.INTER_AREA)
            self._writer.write(np.ascontiguousarray(img))
            self.frames_written += 1
        return True

    def close(self, ok: bool = True) -> None:
        """Finish the file: rename it into place when ``ok`` and frames were written, else delete it."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if ok and self.frames_written and self.tmp.exists():
            os.replace(self.tmp, self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
