"""`b2v-edge train`: train (or resume) a model on synthetic, GoPro or panorama blur."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..common.errors import B2VError
from .common import console, fail
from .extras import require_extra
from .options import Threads, data_option, out_option


def train_cmd(
    data: Annotated[str, data_option("train", "; or a weighted mix like 3*deadleaves+photos:DIR")] = "deadleaves",
    frames: int = typer.Option(7, help="N, frames restored per blurred image (3, 5 or 7)"),
    preset: str = typer.Option("lite", help="model preset: lite (edge) or paper"),
    crop: int = typer.Option(96, help="square training crop (multiple of 32)"),
    batch: int = typer.Option(8, help="batch size per process"),
    epochs: int = typer.Option(40, help="epochs; LR halves at 50% and 75% of all steps"),
    epoch_steps: int = typer.Option(250, help="optimisation steps per epoch (checkpoint + eval each epoch)"),
    lr: float = typer.Option(5e-4, help="Adam learning rate"),
    seed: int = typer.Option(0, help="random seed"),
    out: Annotated[str, out_option("run directory (last.pt, best.pt, history.json)")] = "runs/lite",
    resume: bool = typer.Option(False, help="continue from OUT/last.pt"),
    init: Optional[str] = typer.Option(None, help="initialise weights from a checkpoint ('demo' = shipped model)"),
    threads: Threads = None,
    workers: int = typer.Option(
        1, min=0, help="data processes rendering the next batches while the model trains (0: in the training process)"
    ),
    lambda_tcl: float = typer.Option(0.01, help="weight of the transformation consistency loss"),
    lambda_pt: float = typer.Option(0.02, help="weight of the penalty term"),
    middle_weight: float = typer.Option(1.0, help="weight of the middle frame in the photometric loss (others: 1)"),
    stop_after_epochs: Optional[int] = typer.Option(
        None, help="stop after this many epochs in this run (then --resume)"
    ),
    stage: str = typer.Option(
        "full", help="full | middle (encoder + middle decoder alone, fast) | others (the rest, middle path frozen)"
    ),
    eval_data: Optional[str] = typer.Option(
        None, help="held-out data scored every epoch (default: the test split of --data)"
    ),
    eval_samples: int = typer.Option(16, help="held-out samples scored every epoch"),
    block: Optional[str] = typer.Option(
        None, help="encoder/middle-decoder block: dense or naf (default: the preset's)"
    ),
    enc_blocks: Optional[str] = typer.Option(None, help="NAF blocks per encoder level, 5 ints like 1,1,2,2,4"),
    mid_blocks: Optional[str] = typer.Option(None, help="NAF blocks per middle-decoder level, 5 ints like 2,2,1,1,0"),
    pixel_loss: str = typer.Option("l1", help="pixel error of the photometric loss: l1 or charbonnier"),
    fft_weight: float = typer.Option(0.0, help="weight of the frequency (FFT L1) term of the photometric loss"),
    blur_px: Optional[str] = typer.Option(
        None, help="blur range of rendered training data in output pixels, MIN,MAX (default: 4-24 px at 128 px)"
    ),
    max_nonfinite: int = typer.Option(
        10, "--max-nonfinite-steps", metavar="K", help="stop with an error after K NaN/Inf losses in a row"
    ),
) -> None:
    """Train the blur-to-video network; checkpoints every epoch, atomically. Works under torchrun."""
    require_extra("train")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..losses import LossConfig
    from ..train import TrainOptions, train

    try:
        overrides = _model_overrides(block, enc_blocks, mid_blocks)
        blur_range = _pair(blur_px, "--blur-px") if blur_px is not None else None
        loss = LossConfig(
            lambda_tcl=lambda_tcl,
            lambda_pt=lambda_pt,
            middle_weight=middle_weight,
            pixel=pixel_loss,
            fft_weight=fft_weight,
        )
        opts = TrainOptions(
            data=data,
            frames=frames,
            preset=preset,
            crop=crop,
            batch=batch,
            epochs=epochs,
            epoch_steps=epoch_steps,
            lr=lr,
            seed=seed,
            out=out,
            resume=resume,
            init=init,
            threads=threads or 0,
            workers=workers,
            loss=loss,
            stop_after_epochs=stop_after_epochs,
            stage=stage,
            eval_data=eval_data,
            eval_samples=eval_samples,
            blur_px=blur_range,
            model_overrides=overrides,
            max_nonfinite=max_nonfinite,
        )
    except ValueError as exc:
        fail(escape(str(exc)))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    if resume and not (Path(out) / "last.pt").exists():
        console.print(f"notice: --resume: no last.pt in {escape(out)}: starting from step 0", soft_wrap=True)
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("train", total=opts.total_steps)

            def on_step(step: int, terms: dict) -> None:
                desc = " ".join(f"{k} {v:.4f}" for k, v in terms.items())
                bar.update(task, completed=step, description=f"train {desc}")
                if not console.is_terminal and step % 50 == 0:  # background runs: a plain log line
                    console.print(f"step {step}/{opts.total_steps} {desc}")

            result = train(opts, on_step=on_step)
    except (ValueError, FileNotFoundError, B2VError) as exc:
        fail(escape(str(exc)))
    if os.environ.get("RANK", "0") != "0":  # torchrun: only rank 0 reports
        return
    last = result.history[-1] if result.history else {}
    console.print(f"trained to step {result.steps} in {result.seconds:.0f} s; last: {result.last}; best: {result.best}")
    if last:
        console.print(
            f"held-out PSNR per frame: {[round(p, 2) for p in last['psnr']]} "
            f"(blurred repeated: {[round(p, 2) for p in last['baseline_psnr']]})"
        )


def _pair(text: str, flag: str) -> tuple:
    """``"4,24"`` -> ``(4.0, 24.0)``."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} takes MIN,MAX like 4,24, got {text!r}") from None
    return lo, hi


def _model_overrides(block: Optional[str], enc_blocks: Optional[str], mid_blocks: Optional[str]) -> dict:
    """ModelConfig overrides from the CLI (only the flags that were given)."""
    overrides: dict = {}
    if block is not None:
        overrides["block"] = block
    for name, text in (("enc_blocks", enc_blocks), ("mid_blocks", mid_blocks)):
        if text is None:
            continue
        try:
            overrides[name] = tuple(int(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"--{name.replace('_', '-')} takes 5 comma-separated ints, got {text!r}") from None
    return overrides


def register(app: typer.Typer) -> None:
    """Add `train` to ``app``."""
    app.command("train")(train_cmd)
