"""Source URIs without opening them: :func:`parse_source` → :class:`SourceSpec`, GStreamer pipelines,
image-folder listing. :mod:`.sources` (which opens them) re-exports everything here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Union
from urllib.parse import parse_qs, urlsplit

import cv2

from b2v_edge.common.errors import B2VError
from b2v_edge.common.images import IMAGE_EXTS

LIVE_KINDS = ("camera", "csi", "stream")
_STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "rtp", "tcp")


class SourceError(B2VError, RuntimeError):
    """A source that cannot be opened or was lost (one-line, actionable message)."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source URI.

    Attributes:
        uri: as given.
        kind: ``camera``, ``csi``, ``stream``, ``file``, ``image``, ``folder`` or ``synthetic``.
        target: camera index, device path, URL or file/folder path.
        options: query options (``csi://0?width=1920``), as strings.
    """

    uri: str
    kind: str
    target: Union[int, str]
    options: Dict[str, str] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Frames arrive in real time and cannot be re-read (latest-frame policy applies)."""
        return self.kind in LIVE_KINDS


@lru_cache(maxsize=1)
def has_gstreamer() -> bool:
    """Whether this OpenCV was built with GStreamer (JetPack's is; pip wheels are not)."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line.split(":", 1)[1]
    return False


def csi_pipeline(sensor_id: int, width: int = 1280, height: int = 720, fps: int = 30, flip: int = 0) -> str:
    """GStreamer pipeline for a Jetson CSI camera (Argus), ending in a 1-buffer BGR appsink."""
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
        f"framerate=(fraction){fps}/1, format=(string)NV12 ! "
        f"nvvidconv flip-method={flip} ! video/x-raw, format=(string)BGRx ! "
        "videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def rtsp_pipeline(url: str, latency_ms: int = 0) -> str:
    """Low-latency GStreamer pipeline for RTSP (``latency=0``, drop stale buffers)."""
    return (
        f"rtspsrc location={url} latency={latency_ms} ! decodebin ! videoconvert ! "
        "video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def parse_source(uri: Union[str, int]) -> SourceSpec:
    """Classify a source URI without opening it.

    Raises:
        SourceError: unknown scheme, bad camera/csi index, missing file or device.
    """
    text = str(uri).strip()
    if not text:
        raise SourceError("empty source URI")
    if text.isdigit():
        return SourceSpec(text, "camera", int(text))
    if text in ("synthetic", "synthetic://"):
        return SourceSpec(text, "synthetic", "synthetic")
    if text.startswith("/dev/video"):
        if not os.path.exists(text):
            found = sorted(str(p) for p in Path("/dev").glob("video*")) or ["none"]
            raise SourceError(f"camera {text} does not exist (video devices: {', '.join(found)})")
        return SourceSpec(text, "camera", text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower() if "://" in text else ""
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()} if scheme else {}
    if scheme == "csi":
        if not parts.netloc.isdigit():
            raise SourceError(f"csi source must be csi://N with a sensor number, got {text!r}")
        return SourceSpec(text, "csi", int(parts.netloc), options)
    if scheme in _STREAM_SCHEMES:
        return SourceSpec(text, "stream", text)
    if scheme == "file":
        text = parts.path
    elif scheme:
        raise SourceError(
            f"unknown source scheme {scheme}://; use a camera index, /dev/videoN, csi://N, rtsp://..., "
            "a video file, an image or folder, or 'synthetic'"
        )
    path = Path(text).expanduser()
    if path.is_dir():
        return SourceSpec(text, "folder", str(path))
    if not path.exists():
        raise SourceError(f"source not found: {path} (no such file or folder)")
    kind = "image" if path.suffix.lower() in IMAGE_EXTS else "file"
    return SourceSpec(text, kind, str(path))
