"""Frame sources by URI: one table of kinds, ``open_source(uri)`` → ``(BGR uint8 frame, t)``.

The table (:data:`SOURCE_KINDS`, jetson-utils' ``videoSource::Create`` pattern) maps each kind to
its reader class, its live flag and its help row; :func:`parse_source` classifies a URI with it
and :func:`open_source` opens the kind's reader. Adding a kind is one :func:`register_source` call.

=====================================  ==========  =====  =========================================
URI                                    kind        live   reader
=====================================  ==========  =====  =========================================
``0``, ``1`` ... or ``/dev/videoN``    camera      yes    V4L2, a buffer of 1 frame
``csi://N?width=&height=&fps=&flip=``  csi         yes    GStreamer ``nvarguscamerasrc`` (Jetson)
``rtsp://``, ``http(s)://``, ...       stream      yes    GStreamer ``rtspsrc latency=0`` when
                                                          OpenCV has it, else FFMPEG low-delay
``synthetic`` (``synthetic://?fps=``)  synthetic   yes    built-in blurred stream, paced like a
                                                          30 fps camera (no camera needed)
``path/folder/``                       folder      no     images in natural order
``path/image.png``                     image       no     one frame
``path/video.mp4``, ``file://...``     file        no     every frame, container timestamps
=====================================  ==========  =====  =========================================

Live kinds time-stamp frames as they arrive, are read with the latest-frame policy by the
pipeline, and reconnect up to ``reconnect_attempts`` times when a read fails before raising
:class:`SourceError`. Files, folders and images end, and every frame is delivered.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from b2v_edge.common.images import IMAGE_EXTS, is_image, list_images

from .readers import (
    CameraReader,
    CsiReader,
    FolderReader,
    Frame,
    ReaderContext,
    StreamReader,
    SyntheticReader,
    Target,
    VideoFileReader,
)
from .source_uri import SourceError, SourceSpec, csi_pipeline, has_gstreamer, rtsp_pipeline, split_uri

__all__ = [
    "IMAGE_EXTS",
    "SOURCE_KINDS",
    "ReaderContext",
    "Source",
    "SourceError",
    "SourceKind",
    "SourceSpec",
    "csi_pipeline",
    "describe_sources",
    "has_gstreamer",
    "list_images",
    "open_source",
    "parse_source",
    "register_source",
    "rtsp_pipeline",
]

log = logging.getLogger("b2v_edge.runtime")


# ---- the table of kinds ---------------------------------------------------------------------
Reader = Any
ReaderFactory = Callable[[SourceSpec, ReaderContext], Reader]


@dataclass(frozen=True)
class SourceKind:
    """One row of the source table: which URIs select a kind and how it is read.

    Attributes:
        name: the kind (``SourceSpec.kind``).
        reader: ``reader(spec, context)`` → an object with ``read() -> (frame, t) | None`` and
            ``close()`` (optional ``fps``, ``frame_count``); raises :class:`SourceError` when it
            cannot open.
        live: frames arrive in real time (latest-frame policy, reconnects, arrival timestamps).
        usage: the URI form(s), for help text.
        doc: what the kind is, for help text.
        schemes: URI schemes selecting the kind (``csi`` for ``csi://0``).
        target: ``scheme://rest`` → target (validates ``rest``); default: the whole URI.
        match: scheme-less text → target if the text is of this kind, else None (may raise
            :class:`SourceError` for text that is clearly of this kind but invalid).
    """

    name: str
    reader: ReaderFactory
    live: bool
    usage: str
    doc: str
    schemes: Tuple[str, ...] = ()
    target: Optional[Callable[[str, str], Target]] = None
    match: Optional[Callable[[str], Optional[Target]]] = None


#: The source table, in matching order for scheme-less URIs.
SOURCE_KINDS: Dict[str, SourceKind] = {}


def register_source(kind: SourceKind) -> SourceKind:
    """Add (or replace) a kind of the source table; returns it.

    Raises:
        ValueError: a scheme already claimed by another kind.
    """
    for other in SOURCE_KINDS.values():
        taken = set(other.schemes) & set(kind.schemes)
        if other.name != kind.name and taken:
            raise ValueError(f"source scheme {sorted(taken)[0]}:// already belongs to kind {other.name!r}")
    SOURCE_KINDS[kind.name] = kind
    return kind


def _camera_match(text: str) -> Optional[Target]:
    if text.isdigit():
        return int(text)
    if text.startswith("/dev/video"):
        if not os.path.exists(text):
            found = sorted(str(p) for p in Path("/dev").glob("video*")) or ["none"]
            raise SourceError(f"camera {text} does not exist (video devices: {', '.join(found)})")
        return text
    return None


def _csi_target(uri: str, rest: str) -> Target:
    if not rest.isdigit():
        raise SourceError(f"csi source must be csi://N with a sensor number, got {uri!r}")
    return int(rest)


def _on_disk(predicate: Callable[[Path], bool]) -> Callable[[str], Optional[Target]]:
    def match(text: str) -> Optional[Target]:
        path = Path(text).expanduser()
        return str(path) if predicate(path) else None

    return match


for _kind in (
    SourceKind("camera", CameraReader, True, "0, 1, ... or /dev/videoN", "V4L2 camera", match=_camera_match),
    SourceKind("csi", CsiReader, True, "csi://N?width=&height=&fps=&flip=", "Jetson CSI camera", ("csi",), _csi_target),
    SourceKind(
        "stream",
        StreamReader,
        True,
        "rtsp://..., http(s)://..., rtmp://, udp://",
        "network stream, low-latency",
        ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "rtp", "tcp"),
    ),
    SourceKind(
        "synthetic",
        SyntheticReader,
        True,
        "synthetic or synthetic://?fps=30&seed=0",
        "built-in blurred stream, paced like a camera",
        ("synthetic",),
        lambda uri, rest: "synthetic",
        lambda text: "synthetic" if text == "synthetic" else None,
    ),
    SourceKind("folder", FolderReader, False, "path/folder/", "images in natural order", match=_on_disk(Path.is_dir)),
    SourceKind(
        "image",
        FolderReader,
        False,
        "path/image.png",
        "one frame",
        match=_on_disk(lambda p: p.is_file() and is_image(p)),
    ),
    SourceKind(
        "file", VideoFileReader, False, "path/video.mp4 or file://path", "every frame", match=_on_disk(Path.exists)
    ),
):
    register_source(_kind)


def describe_sources() -> List[Tuple[str, str, bool, str]]:
    """``(usage, kind, live, doc)`` rows of the source table, for help text."""
    return [(k.usage, k.name, k.live, k.doc) for k in SOURCE_KINDS.values()]


def parse_source(uri: Union[str, int]) -> SourceSpec:
    """Classify a source URI with the source table, without opening it.

    ``file://PATH`` is the bare ``PATH``. Scheme-less text is tried against each kind's ``match``
    in table order.

    Raises:
        SourceError: unknown scheme, bad camera/csi index, missing file or device.
    """
    text = str(uri).strip()
    if not text:
        raise SourceError("empty source URI")
    scheme, rest, options = split_uri(text)
    if scheme == "file":
        scheme, text = "", rest
    if scheme:
        kind = next((k for k in SOURCE_KINDS.values() if scheme in k.schemes), None)
        if kind is None:
            forms = "; ".join(k.usage for k in SOURCE_KINDS.values())
            raise SourceError(f"unknown source scheme {scheme}://; use one of: {forms}")
        target = kind.target(text, rest) if kind.target is not None else text
        return SourceSpec(str(uri), kind.name, target, options, kind.live)
    for kind in SOURCE_KINDS.values():
        found = kind.match(text) if kind.match is not None else None
        if found is not None:
            return SourceSpec(str(uri), kind.name, found, {}, kind.live)
    raise SourceError(f"source not found: {Path(text).expanduser()} (no such file or folder)")


# ---- the opened source ----------------------------------------------------------------------
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
        uri: camera index, ``/dev/videoN``, ``csi://N``, ``rtsp://…``, video/image file, folder,
            ``"synthetic"`` or a registered kind's URI.
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
    reader = SOURCE_KINDS[spec.kind].reader
    context = ReaderContext(size=tuple(size), frames=frames, fps=fps, seed=seed)
    return Source(spec, lambda: reader(spec, context), fps, reconnect_attempts, reconnect_delay)
