"""`b2v-edge eval`: per-frame-position PSNR/SSIM of a checkpoint vs the blurred-repeated baseline."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markup import escape

from ..common.dataspec import describe
from .common import console, fail


def eval_cmd(
    checkpoint: Optional[str] = typer.Option(None, help="checkpoint .pt (default: shipped demo model)"),
    data: str = typer.Option(
        "synthetic", help=f"held-out data (default: scikit-image's photos, never trained on): {describe('eval')}"
    ),
    samples: int = typer.Option(64, help="number of held-out samples"),
    size: int = typer.Option(128, help="image size for generated sources (synthetic/panorama)"),
    ssim: bool = typer.Option(True, help="also compute SSIM"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    groups: bool = typer.Option(True, help="also print the gain per photo and per blur size"),
) -> None:
    """Evaluate on the held-out split, reverse-order aware, with the 'blurred input repeated' baseline."""
    from rich.table import Table

    from ..checkpoint import CheckpointError, load_checkpoint
    from ..data.torch_dataset import make_source
    from ..evaluate import evaluate

    try:
        ck = load_checkpoint(checkpoint)
        source = make_source(data, frames=ck.config.frames, split="test", size=(size, size), seed=0, command="eval")
        result = evaluate(ck.model, source, samples, with_ssim=ssim)
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


def register(app: typer.Typer) -> None:
    """Add `eval` to ``app``."""
    app.command("eval")(eval_cmd)
