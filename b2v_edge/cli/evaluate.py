"""`b2v-edge eval`: per-frame-position PSNR/SSIM of a checkpoint vs the blurred-repeated baseline."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from .common import console, err_console, fail
from .extras import require_extra
from .options import ImageSize, Json, Threads, data_option, size_option


def eval_cmd(
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", metavar="PATH", help="Checkpoint .pt (default: the shipped demo model)."
    ),
    data: Annotated[
        str, data_option("eval", " (default: scikit-image's bundled photos, no download needed)")
    ] = "synthetic",
    samples: int = typer.Option(64, "--samples", metavar="N", help="Number of held-out samples."),
    size: Annotated[
        ImageSize, size_option("Image size of generated sources (synthetic, panorama, ...).", ImageSize(128, 128))
    ] = ImageSize(128, 128),
    ssim: bool = typer.Option(True, "--ssim/--no-ssim", help="Also compute SSIM."),
    threads: Threads = None,
    json_out: Json = False,
    groups: bool = typer.Option(True, "--groups/--no-groups", help="Also print the gain per photo and per blur size."),
) -> None:
    """Evaluate on the held-out split, reverse-order aware, with the 'blurred input repeated' baseline."""
    require_extra("eval")
    from rich.table import Table

    from ..checkpoint import CheckpointError, load_checkpoint
    from ..data.torch_dataset import make_source
    from ..evaluate import evaluate

    try:
        _set_threads(threads)
        ck = load_checkpoint(checkpoint)
        source = make_source(data, frames=ck.config.frames, split="test", size=tuple(size), seed=0, command="eval")
        with _progress(min(samples, len(source)), quiet=json_out) as advance:
            result = evaluate(ck.model, source, samples, with_ssim=ssim, progress=advance)
    except (CheckpointError, ValueError, FileNotFoundError) as exc:
        fail(escape(str(exc)))
    if json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"{ck.path.name} on {data} (test split, {result.count} samples, order-aware)")
    table.add_column("row")
    for k in range(result.frames):
        table.add_column(f"frame {k + 1}", justify="right")
    fmt = (lambda p, s: f"{p:.2f} / {s:.3f}") if ssim else (lambda p, s: f"{p:.2f}")
    ss = result.ssim or [0.0] * result.frames
    bs = result.baseline_ssim or [0.0] * result.frames
    table.add_row("model PSNR/SSIM" if ssim else "model PSNR", *[fmt(p, s) for p, s in zip(result.psnr, ss)])
    table.add_row("blurred repeated", *[fmt(p, s) for p, s in zip(result.baseline_psnr, bs)])
    table.add_row("gain (dB)", *[f"{p - b:+.2f}" for p, b in zip(result.psnr, result.baseline_psnr)])
    console.print(table)
    console.print(f"middle gain {result.middle_gain:+.2f} dB, first/last gain {result.ends_gain:+.2f} dB")
    if groups:
        for axis, title in (("image", "photo"), ("blur", "blur size")):
            if result.groups.get(axis):
                console.print(_group_table(result.groups[axis], title))


def _group_table(groups: dict, title: str):
    """Gain over the baseline per group: samples, middle frame, first/last frames (dB)."""
    from rich.table import Table

    table = Table(title=f"gain by {title} (dB over blurred repeated)")
    for name, justify in ((title, "left"), ("samples", "right"), ("middle", "right"), ("first/last", "right")):
        table.add_column(name, justify=justify)
    for key, score in groups.items():
        table.add_row(key, str(score.count), f"{score.middle_gain:+.2f}", f"{score.ends_gain:+.2f}")
    return table


def _set_threads(threads: Optional[int]) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _progress(total: int, quiet: bool) -> Any:
    """A rich progress bar on stderr (``advance(n)`` per batch); nothing when ``quiet``."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if quiet:
        return contextlib.nullcontext(lambda _n: None)

    @contextlib.contextmanager
    def bar() -> Any:
        columns = (TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("eval", total=total)
            yield lambda n: progress.advance(task, n)

    return bar()


def register(app: typer.Typer) -> None:
    """Add `eval` to ``app``."""
    app.command("eval")(eval_cmd)
