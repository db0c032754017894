"""CLI for ``b2v-edge run``: live deblurred / slow-motion preview from a camera, stream or file.

Parse flags → :class:`~b2v_edge.runtime.RunOptions` → :func:`~b2v_edge.runtime.run` → print the
summary. Torch-free: the runtime is imported inside the command; only building the demo model
(when neither ``--model`` nor ``./deploy`` exists) needs the ``[export]`` extra.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..common.paths import cache_dir
from .common import console, err_console, fail

DEMO_DIR_NAME = "demo-deploy"


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""
    app.command("run")(run_command)


def run_command(
    camera: Optional[int] = typer.Option(None, "--camera", help="Camera index (0 = first camera)."),
    source: Optional[str] = typer.Option(
        None, "--source", help="Source URI: /dev/videoN, csi://N, rtsp://..., video file, image folder, synthetic."
    ),
    model: Optional[Path] = typer.Option(
        None, "--model", help="Deploy dir. Default: ./deploy if it has a manifest, else the demo model."
    ),
    backend: str = typer.Option("auto", "--backend", help="auto | tensorrt | onnxruntime"),
    precision: Optional[str] = typer.Option(None, "--precision", help="fp32 | fp16 | int8 (default: best available)"),
    show: str = typer.Option("middle", "--show", help="middle | sequence (slow motion) | grid"),
    headless: bool = typer.Option(False, "--headless", help="No window (automatic when there is no display)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write the restored stream to .mp4/.avi."),
    serve: Optional[str] = typer.Option(None, "--serve", help="Serve an MJPEG preview, e.g. 127.0.0.1:8080."),
    serve_public: bool = typer.Option(False, "--serve-public", help="Allow --serve on a non-local address."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Stop after N frames."),
    realtime: bool = typer.Option(False, "--realtime", help="Pace files at their fps and drop stale frames."),
    shadow_every: int = typer.Option(0, "--shadow-every", help="Every K-th frame also run fp32: live PSNR."),
    threads: Optional[int] = typer.Option(None, "--threads", help="ONNX Runtime intra-op threads."),
) -> None:
    """Run the model on a camera, stream or file and show the deblurred frame or the slow-motion sequence."""
    from b2v_edge.runtime import EngineError, ManifestError, RunError, RunOptions, SinkError, SourceError, run

    _show_notices()
    if camera is not None and source is not None:
        fail("give either --camera or --source, not both")
    try:
        options = RunOptions(
            model=model if model is not None else default_model(),
            backend=backend,
            precision=precision,
            source=str(camera) if camera is not None else (source or "synthetic"),
            show=show,
            headless=headless,
            output=output,
            serve=serve,
            serve_public=serve_public,
            max_frames=max_frames,
            realtime=realtime,
            shadow_every=shadow_every,
            threads=threads,
        )
        summary = run(options)
    except (ManifestError, EngineError, SourceError, SinkError, RunError, OSError) as exc:
        fail(escape(str(exc)))
    table = Table(title="b2v-edge run", show_header=False, title_justify="left")
    for label, value in summary.rows():
        table.add_row(Text(label), Text(value))
    console.print(table)


def shipped_demo_dir() -> Path:
    """The demo model's deploy dir shipped inside the package (fp32 ONNX + manifest; torch-free)."""
    import importlib.resources

    return Path(str(importlib.resources.files("b2v_edge.weights").joinpath("demo")))


def default_model() -> Path:
    """``./deploy`` if it has a manifest, else the shipped demo deploy dir, else a cached one built once
    via export (only when the package was installed without the shipped demo)."""
    local = Path("deploy")
    if (local / "manifest.json").exists():
        return local
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
                f"no --model, no ./deploy/manifest.json and no demo model in {demo}; building one needs "
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
