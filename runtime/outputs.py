"""Outputs by URI: one table of kinds (jetson-utils' ``videoOutput::Create`` pattern), several at once.

==================================  =========  ===============================================
URI                                 kind       output
==================================  =========  ===============================================
``display://``                      display    an OpenCV window: blurred input | restored
``out.mp4``, ``file://out.mp4``     file       video file: H.264 ``.mp4`` or MJPG ``.avi``
                                               (``?fps=15`` sets its rate)
``mjpeg://127.0.0.1:8080``          mjpeg      MJPEG preview over HTTP (SSH-only devices)
==================================  =========  ===============================================

An output has ``write(blurred, images, overlay) -> bool`` (False: the viewer asked to quit) and
``close(ok)``. ``b2v-edge run``'s ``--headless``, ``--output PATH`` and ``--serve HOST:PORT`` are
shorthands for leaving out ``display://``, ``file://PATH`` and ``mjpeg://HOST:PORT``. Adding a
kind is one :func:`register_output` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from b2v_edge.common.errors import B2VError

from .mjpeg import LOCAL_HOSTS, MjpegServer, parse_hostport
from .preview import PreviewWindow, gui_available, has_display
from .sinks import CONTAINERS, VideoSink
from .source_uri import split_uri

__all__ = [
    "OUTPUT_KINDS",
    "OutputContext",
    "OutputError",
    "OutputKind",
    "OutputSpec",
    "OutputUnavailable",
    "describe_outputs",
    "open_output",
    "parse_output",
    "register_output",
]


class OutputError(B2VError, ValueError):
    """An output URI that cannot be used (one-line message)."""


class OutputUnavailable(OutputError):
    """An output this machine cannot provide (no display, no GUI): the run goes on without it."""


@dataclass(frozen=True)
class OutputSpec:
    """A parsed output URI: ``kind``, its ``target`` (path, ``(host, port)``, ...) and query options."""

    uri: str
    kind: str
    target: Any
    options: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputContext:
    """What outputs need besides their URI.

    Attributes:
        show: ``middle``, ``sequence`` or ``grid`` (captions, slow-motion playback).
        playback_fps: rate of sequence frames in the window / MJPEG page.
        fps: frame rate of video files (the source's, unless the URI says ``?fps=``).
        title: window title.
        serve_public: allow an MJPEG server on a non-loopback address.
    """

    show: str = "middle"
    playback_fps: float = 30.0
    fps: float = 30.0
    title: str = "b2v-edge"
    serve_public: bool = False


Factory = Callable[[OutputSpec, OutputContext], Any]


@dataclass(frozen=True)
class OutputKind:
    """One row of the output table.

    Attributes:
        name: the kind (``OutputSpec.kind``).
        factory: ``factory(spec, context)`` → an opened output; raises :class:`OutputError`
            (:class:`OutputUnavailable` when this machine cannot have it).
        usage: the URI form, for help text.
        doc: what it is, for help text.
        schemes: URI schemes selecting the kind.
        target: ``(uri, rest)`` → target, validating ``rest``; default ``rest``.
        match: scheme-less text → target if the text is of this kind, else None.
    """

    name: str
    factory: Factory
    usage: str
    doc: str
    schemes: Tuple[str, ...]
    target: Optional[Callable[[str, str], Any]] = None
    match: Optional[Callable[[str], Any]] = None


#: The output table.
OUTPUT_KINDS: Dict[str, OutputKind] = {}


def register_output(kind: OutputKind) -> OutputKind:
    """Add (or replace) a kind of the output table; returns it."""
    OUTPUT_KINDS[kind.name] = kind
    return kind


def _display(spec: OutputSpec, context: OutputContext) -> Any:
    if not has_display():
        raise OutputUnavailable("no display found ($DISPLAY is not set)")
    if not gui_available():
        raise OutputUnavailable("this OpenCV has no GUI (opencv-python-headless)")
    try:
        return PreviewWindow(context.title, context.show, context.playback_fps)
    except RuntimeError as exc:
        raise OutputUnavailable(str(exc)) from exc


def _file_target(uri: str, rest: str) -> Path:
    path = Path(rest).expanduser()
    if path.suffix.lower() not in CONTAINERS:
        raise OutputError(f"output file must end with {' or '.join(CONTAINERS)}, got {uri!r}")
    return path


def _file(spec: OutputSpec, context: OutputContext) -> Any:
    try:
        fps = float(spec.options.get("fps", context.fps))
    except ValueError:
        raise OutputError(f"{spec.uri}: fps must be a number") from None
    return VideoSink(spec.target, fps=fps)


def _mjpeg_target(uri: str, rest: str) -> Tuple[str, int]:
    try:
        return parse_hostport(rest)
    except ValueError as exc:
        raise OutputError(f"{uri}: {exc}") from None


def _mjpeg(spec: OutputSpec, context: OutputContext) -> Any:
    host, port = spec.target
    check_public(spec, context.serve_public)
    return MjpegServer(host, port, context.show, context.playback_fps).start()


def check_public(spec: OutputSpec, allowed: bool) -> None:
    """Refuse an MJPEG server on a non-loopback address unless ``allowed`` (``--serve-public``).

    Raises:
        OutputError: the address is reachable from other machines and not allowed.
    """
    if spec.kind == "mjpeg" and spec.target[0] not in LOCAL_HOSTS and not allowed:
        host, port = spec.target
        raise OutputError(
            f"{spec.uri} would expose the preview beyond this machine on {host}:{port}; add --serve-public "
            "to allow it (or use 127.0.0.1 with an SSH tunnel)"
        )


register_output(OutputKind("display", _display, "display://", "window: blurred | restored", ("display",)))
register_output(
    OutputKind(
        "file",
        _file,
        "out.mp4, out.avi or file://out.mp4?fps=15",
        "video file (H.264 mp4, MJPG avi)",
        ("file",),
        _file_target,
        lambda text: _file_target(text, text),
    )
)
register_output(
    OutputKind("mjpeg", _mjpeg, "mjpeg://127.0.0.1:8080", "MJPEG preview over HTTP", ("mjpeg",), _mjpeg_target)
)


def describe_outputs() -> List[Tuple[str, str, str]]:
    """``(usage, kind, doc)`` rows of the output table, for help text."""
    return [(k.usage, k.name, k.doc) for k in OUTPUT_KINDS.values()]


def parse_output(uri: str) -> OutputSpec:
    """Classify an output URI with the output table (nothing is opened).

    Raises:
        OutputError: empty, unknown scheme, or a target the kind refuses (file extension, address).
    """
    text = str(uri).strip()
    if not text:
        raise OutputError("empty output URI")
    scheme, rest, options = split_uri(text)
    for kind in OUTPUT_KINDS.values():
        if scheme and scheme in kind.schemes:
            target = kind.target(text, rest) if kind.target is not None else rest
            return OutputSpec(text, kind.name, target, options)
        if not scheme and kind.match is not None:
            target = kind.match(text)
            if target is not None:
                return OutputSpec(text, kind.name, target, {})
    forms = "; ".join(k.usage for k in OUTPUT_KINDS.values())
    raise OutputError(f"unknown output {text!r}; use one of: {forms}")


def open_output(uri: str, context: Optional[OutputContext] = None) -> Any:
    """Open an output by URI (see the module table).

    Raises:
        OutputError: bad URI, or the output cannot be opened (``OutputUnavailable``: not on this machine).
        OSError: an MJPEG address that cannot be bound.
    """
    spec = parse_output(uri)
    return OUTPUT_KINDS[spec.kind].factory(spec, context or OutputContext())
