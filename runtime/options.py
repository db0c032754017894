"""``RunOptions``: every setting of ``b2v-edge run`` in one typed dataclass, validated once.

Constructing a :class:`RunOptions` validates it (``__post_init__``); an invalid value raises
:class:`RunError` with a one-line message naming the flag, so the CLI and library callers share
the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Tuple, Union

from b2v_edge.common.errors import B2VError
from b2v_edge.common.vocab import RUN_PRECISION_NAMES

from .layout import FITS
from .mjpeg import LOCAL_HOSTS, parse_hostport
from .open import BACKENDS
from .outputs import OutputError, check_public, parse_output
from .preview import SHOW_MODES

__all__ = ["RunError", "RunOptions", "SYNTHETIC_HEADLESS_FRAMES"]

#: Frames processed when the synthetic source runs headless with nothing to watch and no limit.
SYNTHETIC_HEADLESS_FRAMES = 100


class RunError(B2VError, ValueError):
    """Invalid run options or a run that cannot continue (one-line message)."""


@dataclass(frozen=True)
class RunOptions:
    """Everything ``b2v-edge run`` needs, validated once on construction.

    Attributes:
        model: deploy dir (or an ``.onnx``/``.plan`` file).
        source: source URI (see :mod:`~b2v_edge.runtime.sources`).
        backend: ``auto``, ``tensorrt``, ``onnxruntime`` or ``openvino``.
        precision: ``fp32``/``fp16``/``int8``, ``bf16`` (OpenVINO), None = best available.
        show: ``middle``, ``sequence`` or ``grid``.
        outputs: output URIs (:mod:`~b2v_edge.runtime.outputs`): ``display://``,
            ``file://out.mp4`` (or a bare ``.mp4``/``.avi`` path), ``mjpeg://127.0.0.1:8080``;
            several at once. ``display://`` is added unless ``headless``.
        headless: no window (also chosen automatically when there is no display / GUI).
        output: shorthand for ``file://OUTPUT``: the restored stream as H.264 ``.mp4`` or MJPG
            ``.avi`` (sequence mode: N frames per input).
        serve: shorthand for ``mjpeg://HOST:PORT``; non-local hosts need ``serve_public``.
        serve_public: allow an MJPEG output on a non-loopback address.
        max_frames: stop after this many processed frames (None = until the source ends;
            headless synthetic runs without output/serve stop after 100).
        realtime: pace file/folder/synthetic sources at their fps and drop stale frames like a
            live source.
        fit: ``full`` (frames keep their resolution: a dynamic graph runs at the frame size padded
            to 32, a static graph as overlapping tiles), ``letterbox`` or ``resize`` (scale to a
            static graph's input and back: one pass, resolution lost).
        threads: ONNX Runtime intra-op threads.
        shadow_every: every K-th frame also runs the fp32 ONNX reference; running PSNR in the
            overlay and summary (0 = off).
        playback_fps: slow-motion playback rate of ``sequence`` in the window / MJPEG page.
        output_fps: frame rate of ``output`` (default: the source's, else 30).
        size: ``(H, W)`` of synthetic frames when the engine's H/W are dynamic (else its input size).
        max_failures: consecutive NaN/Inf outputs tolerated before the run stops with an error.
        reconnect_attempts: reconnections of a lost live source before giving up.
    """

    model: Union[str, Path]
    source: str = "synthetic"
    backend: str = "auto"
    precision: Optional[str] = None
    show: str = "middle"
    outputs: Tuple[str, ...] = ()
    headless: bool = False
    output: Optional[Path] = None
    serve: Optional[str] = None
    serve_public: bool = False
    max_frames: Optional[int] = None
    realtime: bool = False
    fit: str = "full"
    threads: Optional[int] = None
    shadow_every: int = 0
    playback_fps: float = 30.0
    output_fps: Optional[float] = None
    size: Tuple[int, int] = (256, 256)
    max_failures: int = 10
    reconnect_attempts: int = 5

    def __post_init__(self) -> None:
        """Check every field once; raises :class:`RunError` with a one-line message."""
        _choice("backend", self.backend, BACKENDS)
        _choice("show", self.show, SHOW_MODES)
        _choice("fit", self.fit, FITS)
        if self.precision is not None:
            _choice("precision", self.precision, RUN_PRECISION_NAMES)
        for name in ("max_frames", "shadow_every", "threads", "max_failures", "reconnect_attempts"):
            value = getattr(self, name)
            low = 1 if name in ("max_frames", "max_failures") else 0
            if value is not None and (not isinstance(value, int) or value < low):
                raise RunError(f"{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")
        for name in ("playback_fps", "output_fps"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise RunError(f"{name.replace('_', '-')} must be > 0, got {value!r}")
        if self.output is not None:
            object.__setattr__(self, "output", Path(self.output))
        if self.serve is not None:
            self.serve_address()
        object.__setattr__(self, "outputs", tuple(str(uri) for uri in self.outputs))
        uris = self.output_uris()
        if self.headless and "display" in [self._kind(uri) for uri in self.outputs]:
            raise RunError("--headless and display:// contradict each other; drop one")
        for uri in uris:
            self._kind(uri)

    def _kind(self, uri: str) -> str:
        try:
            spec = parse_output(uri)
            check_public(spec, self.serve_public)
        except OutputError as exc:
            raise RunError(str(exc)) from None
        return spec.kind

    def output_uris(self) -> Tuple[str, ...]:
        """Every output as a URI: ``display://`` unless headless, then ``output``, ``serve``, ``outputs``."""
        uris = [] if self.headless else ["display://"]
        if self.output is not None:
            uris.append(str(self.output))
        if self.serve is not None:
            uris.append(f"mjpeg://{self.serve}")
        uris += [u for u in self.outputs if u not in uris]
        return tuple(uris)

    def serve_address(self) -> Tuple[str, int]:
        """``(host, port)`` of ``serve``; refuses non-local hosts without ``serve_public``."""
        try:
            host, port = parse_hostport(str(self.serve))
        except ValueError as exc:
            raise RunError(str(exc)) from exc
        if host not in LOCAL_HOSTS and not self.serve_public:
            raise RunError(
                f"--serve {self.serve} would expose the preview beyond this machine; "
                "add --serve-public to allow it (or use 127.0.0.1 with an SSH tunnel)"
            )
        return host, port


def _choice(name: str, value: Any, allowed: Tuple[str, ...]) -> None:
    if value not in allowed:
        raise RunError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}")
