"""`b2v-edge parity` (engine vs PyTorch vs ground truth, reports, exit code) and `b2v-edge bench`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from .common import console, fail

DATA_HELP = "synthetic | gopro:PATH | panorama:PATH | images:DIR (no ground truth: engine vs PyTorch only)"


def _size(text: Optional[str]) -> Optional[tuple]:
    from ..verify.bench import parse_sizes

    sizes = parse_sizes(text or "")
    if len(sizes) > 1:
        raise ValueError(f"--size takes one HxW, got {text!r}")
    return sizes[0] if sizes else None


def _print_parity(report: Any, paths: dict) -> None:
    from rich.table import Table

    table = Table(title=f"parity of {report.deploy_dir} on {report.count} samples of {report.data}")
    for col in ("artifact", "precision", "PSNR vs PyTorch mean/worst", "GT drop (dB)", "result"):
        table.add_column(
            col,
            justify="left" if col in ("artifact", "result") else "right",
            overflow="fold",
            no_wrap=col == "artifact",
        )
    for a in report.artifacts:
        psnr = (
            f"{sum(a.psnr_vs_torch) / len(a.psnr_vs_torch):.2f} / {min(a.psnr_vs_torch_min):.2f}"
            if a.psnr_vs_torch
            else "—"
        )
        drop = f"{max(a.gt_drop):+.3f}" if a.gt_drop else "—"
        style = "green" if a.passed else "dim" if a.skipped else "bold red"
        frames = ", ".join(map(str, a.failing_positions))
        status = a.status + (
            f" ({a.skipped})" if a.skipped else f" ({a.error})" if a.error else f" (frames {frames})" if frames else ""
        )
        table.add_row(a.path, a.precision, psnr, drop, f"[{style}]{status}[/]")
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(f"reports: {paths['html']} (also report.json, report.md)")


def parity_cmd(
    deploy_dir: Path = typer.Argument(..., help="deploy directory with manifest.json"),
    data: str = typer.Option("synthetic", help=DATA_HELP),
    samples: int = typer.Option(8, help="number of test inputs (the first K of the test split)"),
    backend: str = typer.Option("auto", help="auto | onnxruntime (ONNX only) | tensorrt (plans only)"),
    out: Optional[Path] = typer.Option(None, help="report folder (default: DEPLOY_DIR/parity)"),
    fail_under: Optional[str] = typer.Option(
        None, help="engine-vs-PyTorch PSNR floors, e.g. 'fp16=38,int8=28' (defaults 60/40/30)"
    ),
    max_gt_drop: Optional[str] = typer.Option(
        None, help="allowed PSNR-vs-GT loss, e.g. 'fp16=0.2,int8=1' (defaults 0.1/0.1/0.5)"
    ),
    checkpoint: Optional[str] = typer.Option(
        None, help="PyTorch reference (default: the checkpoint named in the manifest)"
    ),
    size: Optional[str] = typer.Option(None, help="HxW for artifacts with dynamic height/width (default 256x256)"),
    threads: Optional[int] = typer.Option(
        None, help="ONNX Runtime and torch threads (default: ORT's; 1 for the PyTorch reference)"
    ),
    ssim: bool = typer.Option(True, help="also compute SSIM"),
) -> None:
    """Check every artifact against its PyTorch checkpoint (and ground truth); exit 1 when any fails."""
    from rich.progress import Progress

    from ..common.manifest import ManifestError
    from ..verify.compare import ParityOptions, Thresholds, parse_levels, record_in_manifest, run_parity
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
    except (ValueError, ManifestError, FileNotFoundError) as exc:
        fail(str(exc))
    _print_parity(report, paths)
    if not report.passed:
        fail("parity failed: " + " | ".join(report.failures()), code=1)


def bench_cmd(
    deploy_dir: Path = typer.Argument(..., help="deploy directory with manifest.json"),
    sizes: str = typer.Option("", help="input sizes HxW,... (default: the deploy dir's input size)"),
    runs: int = typer.Option(20, help="timed runs per row (after the warm-up)"),
    warmup: int = typer.Option(3, help="untimed warm-up runs per row"),
    samples: int = typer.Option(4, help="test inputs for the accuracy columns"),
    data: str = typer.Option("synthetic", help=DATA_HELP),
    stream_frames: int = typer.Option(20, help="frames of the end-to-end stream measurement (0 = skip)"),
    warp_compare: bool = typer.Option(True, help="also export and time the other warp variant (fp32)"),
    isolate: bool = typer.Option(True, help="run each row in a fresh process (honest peak memory)"),
    threads: Optional[int] = typer.Option(None, help="torch / ONNX Runtime intra-op threads"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of the table"),
) -> None:
    """Latency, FPS, memory, accuracy and GFLOP/s of PyTorch eager and every artifact."""
    from ..common.manifest import ManifestError
    from ..verify.bench import BenchOptions, parse_sizes, run_bench
    from ..verify.render import render_bench_markdown

    try:
        opts = BenchOptions(
            deploy_dir, parse_sizes(sizes), runs, warmup, samples, data, stream_frames, warp_compare, isolate, threads
        )
        report = run_bench(opts, progress=None if json_out else lambda msg: console.print(f"[dim]{msg}[/]"))
    except (ValueError, ManifestError, FileNotFoundError) as exc:
        fail(str(exc))
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
