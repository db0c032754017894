"""`b2v-edge parity` (engine vs PyTorch reference vs ground truth, reports, exit code) and `b2v-edge bench`."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, List, Optional

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import console, err_console, fail
from .extras import have, require_backend, require_extra
from .options import Backend, DeployDir, ImageSize, Json, Threads, data_option, out_option, size_option

PARITY_DATA_NOTE = (
    "; or reference (the deploy dir's stored reference set, no PyTorch needed; the default when it has one)."
    " A data spec recomputes the PyTorch reference (needs torch); images:DIR has no ground truth"
)
BENCH_FORMATS = ("table", "md", "json")


@contextlib.contextmanager
def progress_bar(title: str, quiet: bool = False, every: float = 5.0) -> Iterator[Callable[[str, int, int], None]]:
    """Progress driven by ``update(message, done, total)``: a rich bar on a terminal, else (logs) a
    plain ``title: message (done/total)`` line on stderr at most every ``every`` seconds; nothing when quiet."""
    if quiet:
        yield lambda _message, _done, _total: None
        return
    if not err_console.is_terminal:
        last = [time.monotonic()]

        def log_line(message: str, done: int, total: int) -> None:
            if time.monotonic() - last[0] >= every:
                last[0] = time.monotonic()
                err_console.print(escape(f"{title}: {message} ({done}/{total})"), soft_wrap=True)

        yield log_line
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(title, total=None)

        def update(message: str, done: int, total: int) -> None:
            bar.update(task, description=escape(f"{title}: {message}"), completed=done, total=max(total, 1))

        yield update


def _print_parity(report: Any, paths: dict) -> None:
    from ..verify.render import TERMINAL_COLUMNS, summary_table

    head, rows = summary_table(report, TERMINAL_COLUMNS)
    table = Table(title=escape(f"parity of {report.deploy_dir} on {report.count} samples of {report.data}"))
    for col in head:
        table.add_column(col, justify="left" if col in ("artifact", "result") else "right", overflow="fold")
    for art, row in zip(report.artifacts, rows):
        style = "green" if art.passed else "dim" if art.skipped else "bold red"
        table.add_row(*map(escape, row[:-1]), f"[{style}]{escape(row[-1])}[/]")
    console.print(table)
    for note in report.notes:
        console.print(f"note: {escape(note)}", soft_wrap=True)
    console.print(f"reports: {escape(str(paths['html']))} (also report.json, report.md)")


def parity_cmd(
    deploy_dir: DeployDir,
    data: Annotated[Optional[str], data_option("parity", PARITY_DATA_NOTE)] = None,
    samples: Optional[int] = typer.Option(
        None, "--samples", metavar="N", help="Inputs to check (default: every stored sample, or 8 when recomputing)."
    ),
    backend: Backend = "auto",
    out: Annotated[Optional[Path], out_option("Report folder (default: DEPLOY_DIR/parity).")] = None,
    fail_under: Optional[str] = typer.Option(
        None, "--fail-under", metavar="P=DB,...", help="Engine-vs-PyTorch PSNR floors, e.g. 'fp16=38,int8=28'."
    ),
    max_gt_drop: Optional[str] = typer.Option(
        None, "--max-gt-drop", metavar="P=DB,...", help="Allowed PSNR-vs-GT loss, e.g. 'fp16=0.2,int8=1'."
    ),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", metavar="PATH", help="Recompute with this PyTorch checkpoint (default: the manifest's)."
    ),
    size: Annotated[
        Optional[ImageSize], size_option("Input size of dynamic-shape artifacts when recomputing (default 256x256).")
    ] = None,
    threads: Threads = None,
    ssim: bool = typer.Option(True, "--ssim/--no-ssim", help="Also compute SSIM."),
    as_json: Json = False,
) -> None:
    """Check every artifact against the PyTorch reference (and ground truth); exit 1 when any fails."""
    require_extra("parity")
    require_backend("parity", backend)
    from ..common.errors import B2VError
    from ..verify.parity import ParityOptions, record_in_manifest, run_parity
    from ..verify.render import render_json, write_reports
    from ..verify.results import Thresholds, parse_levels

    if not have("report") and not as_json:
        err_console.print(
            escape("notice: the HTML report has no PSNR plot without matplotlib: pip install 'b2v-edge[report]'"),
            soft_wrap=True,
        )
    try:
        thresholds = Thresholds(parse_levels(fail_under, "--fail-under"), parse_levels(max_gt_drop, "--max-gt-drop"))
        opts = ParityOptions(
            deploy_dir, data, samples, backend, thresholds, checkpoint, size and tuple(size), threads=threads, ssim=ssim
        )
        with progress_bar("parity", quiet=as_json) as update:
            report = run_parity(opts, lambda what, i, n: update(what, i, n))
        paths = write_reports(report, out or Path(deploy_dir) / "parity")
        record_in_manifest(report)
    except (B2VError, ValueError, FileNotFoundError) as exc:
        fail(escape(str(exc)))
    if as_json:
        typer.echo(render_json(report), nl=False)
    else:
        _print_parity(report, paths)
    if not report.passed:
        fail(escape("parity failed: " + " | ".join(report.failures())), code=1)


def bench_cmd(
    deploy_dir: DeployDir,
    size: Annotated[
        Optional[List[ImageSize]], size_option("Input size, repeatable (default: the deploy dir's input size).")
    ] = None,
    runs: int = typer.Option(20, "--runs", metavar="N", help="Timed runs per row, spread over the rounds."),
    rounds: int = typer.Option(5, "--rounds", metavar="N", help="Interleaved rounds (every row in every round)."),
    warmup: int = typer.Option(10, "--warmup", metavar="N", help="Untimed warm-up runs per row."),
    samples: int = typer.Option(4, "--samples", metavar="N", help="Test inputs for the accuracy columns."),
    data: Annotated[str, data_option("bench", " (images:DIR: no ground truth)")] = "synthetic",
    stream_frames: int = typer.Option(
        20, "--stream-frames", metavar="N", help="Frames of the end-to-end stream measurement (0 = skip)."
    ),
    warp_compare: bool = typer.Option(
        True, "--warp-compare/--no-warp-compare", help="Also export and time the other warp variant (fp32)."
    ),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", metavar="PATH", help="PyTorch row from this checkpoint (default: the manifest's)."
    ),
    isolate: bool = typer.Option(
        True, "--isolate/--no-isolate", help="One process per row (honest peak memory, no shared caches)."
    ),
    threads: Annotated[
        Optional[int],
        typer.Option(
            "--threads", metavar="N", min=1, help="Intra-op threads of every row, fixed (default: all cores)."
        ),
    ] = None,
    fmt: str = typer.Option("table", "--format", metavar="FMT", help="table (80 columns) | md | json"),
    as_json: Json = False,
) -> None:
    """Latency (median, spread), FPS, memory, accuracy and GFLOP/s of PyTorch eager and every artifact."""
    require_extra("bench")
    from ..common.errors import B2VError
    from ..export.api import export_variant
    from ..verify.bench import BenchOptions, run_bench
    from ..verify.render import render_bench_markdown

    fmt = "json" if as_json else fmt
    if fmt not in BENCH_FORMATS:
        fail(f"--format must be one of {', '.join(BENCH_FORMATS)}, got {fmt!r}")
    try:
        opts = BenchOptions(
            deploy_dir,
            tuple(tuple(s) for s in size or ()),
            runs,
            warmup,
            rounds=rounds,
            samples=samples,
            data=data,
            stream_frames=stream_frames,
            warp_compare=warp_compare,
            isolate=isolate,
            threads=threads,
            checkpoint=checkpoint,
        )
        with progress_bar("bench", quiet=fmt == "json") as update:
            report = run_bench(opts, progress=update, export_variant=export_variant)
    except (B2VError, ValueError, FileNotFoundError) as exc:
        fail(escape(str(exc)))
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif fmt == "md":
        typer.echo(render_bench_markdown(report), nl=False)
    else:
        _print_bench(report)
    failures = report.failures()
    if failures:
        fail(escape(f"{len(failures)} of {len(report.rows)} bench rows failed ({failures[0]}); fix the deploy dir"), 1)


def _print_bench(report: Any) -> None:
    """The bench as a table that fits 80 columns, then the ratios and notes (every column: --format md)."""
    from ..verify.render import BENCH_TERMINAL_HEAD, bench_ratio_lines, bench_terminal_rows

    table = Table(title="b2v-edge bench", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for col in BENCH_TERMINAL_HEAD:
        table.add_column(col, justify="left" if col == "row" else "right", overflow="fold")
    for row in bench_terminal_rows(report):
        table.add_row(*map(escape, row))
    console.print(table)
    for line in bench_ratio_lines(report) + list(report.notes):
        console.print(escape(f"- {line}"), soft_wrap=False)


def register(app: typer.Typer) -> None:
    """Add `parity` and `bench` to ``app``."""
    app.command("parity")(parity_cmd)
    app.command("bench")(bench_cmd)
