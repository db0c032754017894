"""`b2v-edge parity` (engine vs PyTorch reference vs ground truth, reports, exit code) and `b2v-edge bench`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from ..common.dataspec import describe
from .common import console, fail

PARITY_DATA_HELP = (
    "reference (the deploy dir's stored reference set: no PyTorch needed; the default when it has one) | "
    + describe("parity")
    + " — a data spec recomputes the PyTorch reference (needs torch); images:DIR has no ground truth"
)
BENCH_DATA_HELP = describe("bench") + " (images:DIR: no ground truth)"


def _size(text: Optional[str]) -> Optional[tuple]:
    from ..verify.bench import parse_sizes

    sizes = parse_sizes(text or "")
    if len(sizes) > 1:
        raise ValueError(f"--size takes one HxW, got {text!r}")
    return sizes[0] if sizes else None


def _print_parity(report: Any, paths: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

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
    deploy_dir: Path = typer.Argument(..., help="deploy directory with manifest.json"),
    data: Optional[str] = typer.Option(None, help=PARITY_DATA_HELP),
    samples: Optional[int] = typer.Option(
        None, help="number of inputs (default: every stored sample, or 8 when recomputing)"
    ),
    backend: str = typer.Option("auto", help="auto | onnxruntime (ONNX only) | tensorrt (plans only)"),
    out: Optional[Path] = typer.Option(None, help="report folder (default: DEPLOY_DIR/parity)"),
    fail_under: Optional[str] = typer.Option(
        None, help="engine-vs-PyTorch PSNR floors, e.g. 'fp16=38,int8=28' (defaults 60/40/30)"
    ),
    max_gt_drop: Optional[str] = typer.Option(
        None, help="allowed PSNR-vs-GT loss, e.g. 'fp16=0.2,int8=1' (defaults 0.1/0.1/0.5)"
    ),
    checkpoint: Optional[str] = typer.Option(
        None, help="recompute with this PyTorch checkpoint (default: the one named in the manifest)"
    ),
    size: Optional[str] = typer.Option(None, help="HxW for artifacts with dynamic height/width when recomputing"),
    threads: Optional[int] = typer.Option(
        None, help="ONNX Runtime and torch threads (default: ORT's; 1 for the PyTorch reference)"
    ),
    ssim: bool = typer.Option(True, help="also compute SSIM"),
) -> None:
    """Check every artifact against the PyTorch reference (and ground truth); exit 1 when any fails."""
    from rich.markup import escape
    from rich.progress import Progress

    from ..common.errors import B2VError
    from ..verify.compare import Thresholds, parse_levels
    from ..verify.parity import ParityOptions, record_in_manifest, run_parity
    from ..verify.render import write_reports

    try:
        thresholds = Thresholds(parse_levels(fail_under, "--fail-under"), parse_levels(max_gt_drop, "--max-gt-drop"))
        opts = ParityOptions(
            deploy_dir, data, samples, backend, thresholds, checkpoint, _size(size), threads=threads, ssim=ssim
        )
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("parity", total=None)
            report = run_parity(opts, lambda what, i, n: bar.update(task, description=f"{what} {i}/{n}"))
        paths = write_reports(report, out or Path(deploy_dir) / "parity")
        record_in_manifest(report)
    except (B2VError, ValueError, FileNotFoundError) as exc:
        fail(escape(str(exc)))
    _print_parity(report, paths)
    if not report.passed:
        fail(escape("parity failed: " + " | ".join(report.failures())), code=1)


def bench_cmd(
    deploy_dir: Path = typer.Argument(..., help="deploy directory with manifest.json"),
    sizes: str = typer.Option("", help="input sizes HxW,... (default: the deploy dir's input size)"),
    runs: int = typer.Option(20, help="timed runs per row (after the warm-up)"),
    warmup: int = typer.Option(3, help="untimed warm-up runs per row"),
    samples: int = typer.Option(4, help="test inputs for the accuracy columns"),
    data: str = typer.Option("synthetic", help=BENCH_DATA_HELP),
    stream_frames: int = typer.Option(20, help="frames of the end-to-end stream measurement (0 = skip)"),
    warp_compare: bool = typer.Option(True, help="also export and time the other warp variant (fp32)"),
    isolate: bool = typer.Option(True, help="run each row in a fresh process (honest peak memory)"),
    threads: Optional[int] = typer.Option(None, help="torch / ONNX Runtime intra-op threads"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of the table"),
) -> None:
    """Latency, FPS, memory, accuracy and GFLOP/s of PyTorch eager and every artifact."""
    from rich.markup import escape

    from ..common.errors import B2VError
    from ..verify.bench import BenchOptions, parse_sizes, run_bench
    from ..verify.data import require_torch
    from ..verify.render import render_bench_markdown

    try:
        require_torch("b2v-edge bench (the PyTorch row, GFLOPs and the GEMM ceiling)")
        from ..export.api import export_variant

        opts = BenchOptions(
            deploy_dir, parse_sizes(sizes), runs, warmup, samples, data, stream_frames, warp_compare, isolate, threads
        )
        say = None if json_out else lambda msg: console.print(f"[dim]{escape(msg)}[/]")
        report = run_bench(opts, progress=say, export_variant=export_variant)
    except (B2VError, ValueError, FileNotFoundError) as exc:
        fail(escape(str(exc)))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print_bench(report)
    console.print(render_bench_markdown(report).split("\n\n", 1)[1], markup=False)


def _print_bench(report: Any) -> None:
    from rich.table import Table

    from ..verify.render import BENCH_HEAD, bench_rows

    table = Table(title="b2v-edge bench")
    for col in BENCH_HEAD:
        table.add_column(col, justify="left" if col in ("row", "size") else "right")
    for row in bench_rows(report):
        table.add_row(*row)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `parity` and `bench` to ``app``."""
    app.command("parity")(parity_cmd)
    app.command("bench")(bench_cmd)
