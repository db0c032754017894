"""CLI for ``b2v-edge run``: live deblurred / slow-motion preview from a camera, stream or file.

Parse flags → :class:`~b2v_edge.runtime.RunOptions` → :func:`~b2v_edge.runtime.run` → print the
summary (a table, or JSON with ``--json``). While it runs, a status line (frames, FPS, latency) is
kept up to date on a terminal, and printed every ``--status-every`` seconds otherwise (logs).
Torch-free: the runtime is imported inside the command; only building the demo model (when no
``--model`` is given and the package ships none) needs the ``[export]`` extra. Without ``--model`` the
demo model runs, never a deploy dir found in the working directory: a model is loaded only from
where the user points.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..common.paths import cache_dir
from .common import console, err_console, fail
from .extras import require_backend
from .options import Backend, ImageSize, Json, Precision, Threads, size_option

DEMO_DIR_NAME = "demo-deploy"


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""
    app.command("run")(run_command)


def _source_help() -> str:
    from b2v_edge.runtime.sources import describe_sources

    forms = "; ".join(usage for usage, *_ in describe_sources())
    return f"Source URI: {forms}. Default: synthetic (a camera stand-in)."


def _output_help() -> str:
    from b2v_edge.runtime.outputs import describe_outputs

    forms = ", ".join(usage for usage, *_ in describe_outputs())
    return f"Output URI, repeatable: {forms}. A window (display://) is added unless --headless."


def run_command(
    camera: Optional[int] = typer.Option(None, "--camera", metavar="N", help="Camera index: --source N."),
    source: Optional[str] = typer.Option(None, "--source", metavar="URI", help=_source_help()),
    model: Optional[Path] = typer.Option(
        None, "--model", metavar="PATH", help="Deploy dir (or one .onnx / .plan in it). Default: the demo model."
    ),
    backend: Backend = "auto",
    precision: Precision = None,
    show: str = typer.Option("middle", "--show", metavar="MODE", help="middle | sequence (slow motion) | grid"),
    fit: str = typer.Option(
        "full",
        "--fit",
        metavar="MODE",
        help="full (keep the resolution: padded or tiled) | letterbox | resize (one pass, softer)",
    ),
    output: List[str] = typer.Option([], "--output", "--out", "-o", metavar="URI", help=_output_help()),
    headless: bool = typer.Option(False, "--headless", help="No window (automatic when there is no display)."),
    serve: Optional[str] = typer.Option(None, "--serve", metavar="HOST:PORT", help="Shorthand: -o mjpeg://HOST:PORT."),
    serve_public: bool = typer.Option(False, "--serve-public", help="Allow an MJPEG output on a non-local address."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", metavar="N", min=1, help="Stop after N frames."),
    realtime: bool = typer.Option(False, "--realtime", help="Pace files at their fps and drop stale frames."),
    shadow_every: int = typer.Option(
        0, "--shadow-every", metavar="K", help="Every K-th frame also run fp32: live PSNR."
    ),
    threads: Threads = None,
    size: Annotated[Optional[ImageSize], size_option("Synthetic frames for a dynamic-shape model.")] = None,
    status_every: float = typer.Option(
        5.0, "--status-every", metavar="SECONDS", help="Status line interval when not on a terminal (0 = none)."
    ),
    as_json: Json = False,
) -> None:
    """Run the model on a camera, stream or file and show the deblurred frame or the slow-motion sequence."""
    from b2v_edge.runtime import EngineError, ManifestError, RunError, RunOptions, SinkError, SourceError, run

    require_backend("run", backend)
    _show_notices()
    if camera is not None and source is not None:
        fail("give either --camera or --source, not both")
    if source is not None and not source.strip():
        fail("--source is empty: give a camera index, a file, a folder, a URL or synthetic")
    try:
        options = RunOptions(
            model=model if model is not None else default_model(),
            backend=backend,
            precision=precision,
            source=str(camera) if camera is not None else (source if source is not None else "synthetic"),
            show=show,
            fit=fit,
            outputs=tuple(output),
            headless=headless,
            serve=serve,
            serve_public=serve_public,
            max_frames=max_frames,
            realtime=realtime,
            shadow_every=shadow_every,
            threads=threads,
            size=tuple(size) if size is not None else (256, 256),
        )
        with StatusPrinter(err_console, status_every) as status:
            summary = run(options, on_status=status)
    except (ManifestError, EngineError, SourceError, SinkError, RunError, OSError) as exc:
        fail(escape(str(exc)))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
        return
    table = Table(title="b2v-edge run", show_header=False, title_justify="left")
    for label, value in summary.rows():
        table.add_row(Text(label), Text(value))
    console.print(table)


class StatusPrinter:
    """Progress of a run: one live status line on a terminal, else a plain line every ``every`` seconds.

    Args:
        target: the console to print to (stderr keeps stdout for the summary / JSON).
        every: seconds between plain lines when ``target`` is not a terminal (0 = none).
    """

    def __init__(self, target: Console, every: float) -> None:
        self.target, self.every = target, every
        self._live: Optional[Live] = None
        self._last = time.monotonic()

    def __enter__(self) -> "StatusPrinter":
        if self.target.is_terminal:
            self._live = Live(Text("starting ..."), console=self.target, transient=True, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __call__(self, status: Any) -> None:
        if self._live is not None:
            self._live.update(Text(f"run: {status.line()}"))
            return
        now = time.monotonic()
        if self.every > 0 and now - self._last >= self.every:
            self._last = now
            self.target.print(Text(f"run: {status.line()}"), soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None


def shipped_demo_dir() -> Path:
    """The demo model's deploy dir shipped inside the package (fp32 ONNX + manifest; torch-free)."""
    import importlib.resources

    return Path(str(importlib.resources.files("b2v_edge.weights").joinpath("demo")))


def default_model() -> Path:
    """The shipped demo deploy dir, else a cached one built once via export (only when the package
    was installed without the shipped demo). A ``./deploy`` in the working directory is never used
    unasked (it may come from an untrusted checkout): a notice says how to run it."""
    if (Path("deploy") / "manifest.json").exists():
        err_console.print("notice: running the demo model; pass --model deploy to run ./deploy", soft_wrap=True)
    shipped = shipped_demo_dir()
    if (shipped / "manifest.json").exists():
        return shipped
    demo = cache_dir(DEMO_DIR_NAME)
    if (demo / "manifest.json").exists():
        return demo
    try:
        from b2v_edge.export.api import export_default
    except ImportError as exc:
        fail(
            escape(
                f"no --model and no demo model in {demo}; building one needs "
                f"`pip install 'b2v-edge[export]'` (missing {exc.name or exc}), or run `b2v-edge export --out deploy` "
                "where torch is installed and pass --model"
            )
        )
    err_console.print(escape(f"notice: building the demo model in {demo} (once)"), soft_wrap=True)
    try:
        export_default(demo)
    except Exception as exc:  # any export failure becomes one line, not a traceback
        fail(escape(f"building the demo model failed ({exc}); run `b2v-edge export --out deploy`"))
    return demo


class _NoticeHandler(logging.Handler):
    """Print runtime warnings as one ``notice:`` line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[yellow]notice:[/] {escape(record.getMessage())}", soft_wrap=True)


def _show_notices(logger: Any = None) -> None:
    logger = logger or logging.getLogger("b2v_edge.runtime")
    if not any(isinstance(h, _NoticeHandler) for h in logger.handlers):
        handler = _NoticeHandler(level=logging.WARNING)
        logger.addHandler(handler)
