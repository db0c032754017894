"""What a source URI is, before anything is opened: :class:`SourceSpec`, URI splitting, GStreamer pipelines.

The table of source kinds (which URI selects which reader) lives in :mod:`.sources`, which also
re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Tuple, Union
from urllib.parse import parse_qs, urlsplit

import cv2

from b2v_edge.common.errors import B2VError

__all__ = ["SourceError", "SourceSpec", "csi_pipeline", "has_gstreamer", "rtsp_pipeline", "split_uri"]


class SourceError(B2VError, RuntimeError):
    """A source that cannot be opened or was lost (one-line, actionable message)."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source URI.

    Attributes:
        uri: as given.
        kind: a name of the source table (``camera``, ``csi``, ``stream``, ``file``, ``image``,
            ``folder``, ``synthetic`` or a registered kind).
        target: camera index, device path, URL or file/folder path.
        options: query options (``csi://0?width=1920``), as strings.
        live: frames arrive in real time and cannot be re-read (the latest-frame policy applies).
    """

    uri: str
    kind: str
    target: Union[int, str]
    options: Dict[str, str] = field(default_factory=dict)
    live: bool = False


def split_uri(text: str) -> Tuple[str, str, Dict[str, str]]:
    """``(scheme, rest, options)`` of ``scheme://rest?k=v``; scheme ``""`` for a bare path or index.

    ``rest`` is everything between ``://`` and ``?`` (netloc and path); the last value of a
    repeated option wins.
    """
    if "://" not in text:
        return "", text, {}
    parts = urlsplit(text)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return parts.scheme.lower(), parts.netloc + parts.path, options


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
