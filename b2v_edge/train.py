"""Training loop: Adam(0.9, 0.999), LR halved at 50 % and 75 % of the steps (paper: epochs 40/60 of
80), checkpoint every epoch (atomic), ``resume``, seeds, and DDP under ``torchrun`` (gloo on CPU,
nccl on GPU). One "epoch" is ``epoch_steps`` optimisation steps (the synthetic source is endless).

Batches are a pure function of (seed, step, rank): a resumed run sees exactly the batches the
uninterrupted run would have seen. ``workers`` data processes render them ahead of the step (the
rendered sources are seeded per index, so the batches are the same with or without them).

Finite or fail: a step whose loss is NaN/Inf is skipped (no update); ``max_nonfinite`` such steps in
a row end the run with a :class:`TrainError`. An epoch whose held-out score is NaN is never saved as
``best.pt``. ``out`` is checked writable before the first step, not at the first checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist

from .checkpoint import load_checkpoint, save_checkpoint
from .common.atomic import atomic_write_text
from .common.errors import B2VError, ConfigError
from .common.metrics import better
from .evaluate import evaluate
from .losses import LossConfig, middle_loss, total_loss
from .model.network import Blur2Video, build_model

LAST, BEST = "last.pt", "best.pt"
STAGES = ("full", "middle", "others")


class TrainError(B2VError, RuntimeError):
    """Training cannot start or continue (one-line message with the fix)."""


@dataclass(frozen=True)
class TrainOptions:
    """Options of one training run, validated on construction (:class:`ConfigError`)."""

    data: str = "deadleaves"
    frames: int = 7
    preset: str = "lite"
    crop: int = 96
    batch: int = 8
    epochs: int = 40
    epoch_steps: int = 250
    lr: float = 5e-4
    seed: int = 0
    out: str = "runs/lite"
    resume: bool = False
    init: Optional[str] = None
    threads: int = 0
    workers: int = 1  # data processes rendering the next batches while the model steps (0: in this process)
    eval_samples: int = 16
    eval_size: int = 128
    loss: LossConfig = field(default_factory=LossConfig)
    model_overrides: Dict[str, Any] = field(default_factory=dict)  # ModelConfig fields over the preset
    stop_after_epochs: Optional[int] = None  # stop early (then --resume continues); for time-boxed runs
    stage: str = "full"  # full | middle (encoder + middle decoder alone) | others (the rest, middle path frozen)
    eval_data: Optional[str] = None  # held-out data for the per-epoch score (default: the test split of data)
    blur_px: Optional[Tuple[float, float]] = None  # blur range (output px) of rendered training data
    max_nonfinite: int = 10  # consecutive NaN/Inf losses (skipped steps) that end the run

    def __post_init__(self) -> None:
        if self.frames not in (3, 5, 7):
            raise ConfigError(f"--frames must be 3, 5 or 7, got {self.frames}")
        if self.crop < 32 or self.crop % 32:
            raise ConfigError(f"--crop must be a multiple of 32 (>= 32), got {self.crop}")
        for name in ("batch", "epochs", "epoch_steps", "eval_samples", "eval_size", "max_nonfinite"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not (0 < self.lr < 1):
            raise ConfigError(f"--lr must be in (0, 1), got {self.lr}")
        if self.threads < 0:
            raise ConfigError(f"--threads must be >= 0, got {self.threads}")
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0, got {self.workers}")
        if self.stage not in STAGES:
            raise ConfigError(f"--stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.stop_after_epochs is not None and self.stop_after_epochs < 1:
            raise ConfigError(f"--stop-after-epochs must be >= 1, got {self.stop_after_epochs}")

    @property
    def total_steps(self) -> int:
        return self.epochs * self.epoch_steps


@dataclass
class TrainResult:
    steps: int
    epochs: int
    last: Path
    best: Optional[Path]
    history: List[Dict[str, Any]]
    seconds: float


def _dist_info() -> Tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _maybe_init_distributed() -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return True
    return False


def batch_indices(step: int, batch: int, length: int, seed: int, rank: int = 0, world: int = 1) -> List[int]:
    """Dataset indices of ``step``'s batch for ``rank``: an epoch-wise seeded permutation of the data."""
    per_step = batch * world
    start = step * per_step + rank * batch
    out, perms = [], {}  # each cycle's permutation is drawn once per call
    for pos in range(start, start + batch):
        cycle, offset = divmod(pos, length)
        if cycle not in perms:
            perms[cycle] = np.random.default_rng([seed, cycle]).permutation(length)
        out.append(int(perms[cycle][offset]))
    return out


def _make_sources(opts: TrainOptions) -> Tuple[Any, Any]:
    from .data.torch_dataset import make_source

    size = (opts.crop, opts.crop)
    train = make_source(opts.data, frames=opts.frames, split="train", size=size, seed=opts.seed, blur_px=opts.blur_px)
    if opts.eval_data is not None:
        size = (opts.eval_size, opts.eval_size)
        return train, make_source(opts.eval_data, frames=opts.frames, split="test", size=size, seed=0, command="eval")
    test = make_source(
        opts.data, frames=opts.frames, split="test", size=(opts.eval_size, opts.eval_size), seed=opts.seed
    )
    return train, test


def _fetch(dataset: Any, indices: List[int], flip_seed: List[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Stack the items at ``indices``; random h/v flips drawn from ``flip_seed`` (a pure function of
    seed, step and rank, so a resumed run sees the very same batches)."""
    rng = np.random.default_rng(flip_seed)
    xs, ys = [], []
    for i in indices:
        x, y = dataset[i]
        hflip, vflip = rng.random(2) < 0.5
        dims = [-1] if hflip else []
        dims += [-2] if vflip else []
        if dims:
            x, y = x.flip(dims), y.flip(dims)
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


class StepBatches(torch.utils.data.Dataset):
    """The training batch of step ``s`` at index ``s``, so a data worker can render it ahead of time.

    Args:
        dataset: the training :class:`~b2v_edge.data.torch_dataset.BlurDataset`.
        batch: samples per batch (per process).
        seed: the run's seed (index permutation and flips).
        rank, world: this process's place in a distributed run.
    """

    def __init__(self, dataset: Any, batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.dataset, self.batch, self.seed, self.rank, self.world = dataset, batch, seed, rank, world

    def __len__(self) -> int:
        return 2**62  # steps are unbounded; the sampler decides which are drawn

    def __getitem__(self, step: int) -> Tuple[torch.Tensor, torch.Tensor]:
        indices = batch_indices(step, self.batch, len(self.dataset), self.seed, self.rank, self.world)
        return _fetch(self.dataset, indices, [self.seed, step, self.rank])


def step_batches(
    batches: StepBatches, start: int, stop: int, workers: int
) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Batches of steps ``start .. stop - 1`` in order, rendered by ``workers`` processes (0: here)."""
    if workers == 0:
        return (batches[s] for s in range(start, stop))
    loader = torch.utils.data.DataLoader(
        batches,
        batch_size=None,
        sampler=range(start, stop),
        num_workers=workers,
        prefetch_factor=2,
        generator=torch.Generator().manual_seed(batches.seed),  # leaves the global torch RNG alone
    )
    return iter(loader)


def _scheduler(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.MultiStepLR:
    milestones = [max(1, total // 2), max(2, (3 * total) // 4)]
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.5)


def _retarget_schedule(opt: torch.optim.Optimizer, sched: Any, opts: TrainOptions, step: int) -> None:
    """On resume with a different --epochs/--epoch-steps, move the LR milestones to 50 %/75 % of the new
    total and set the LR the new schedule prescribes at ``step`` (a longer run keeps its high LR)."""
    new = _scheduler(torch.optim.Adam([torch.zeros(1)], lr=opts.lr), opts.total_steps).milestones
    if new == sched.milestones:
        return
    sched.milestones = new
    factor = 0.5 ** sum(step >= m for m in new.elements())
    for group in opt.param_groups:
        group["lr"] = opts.lr * factor
    sched.base_lrs = [opts.lr for _ in opt.param_groups]
    sched._last_lr = [g["lr"] for g in opt.param_groups]


def _setup(opts: TrainOptions, out: Path) -> Tuple[Blur2Video, torch.optim.Optimizer, Any, int, List[Dict[str, Any]]]:
    """Model, optimizer, scheduler, start step and history (fresh, --init or --resume).

    With ``--init`` and no model overrides the architecture is the init checkpoint's own, also when
    such a run is resumed (``--init`` and ``--resume`` together: the run's ``last.pt`` holds it).
    """
    ck = load_checkpoint(out / LAST, with_train_state=True) if opts.resume and (out / LAST).exists() else None
    init = load_checkpoint(opts.init) if opts.init and ck is None else None
    own = init if init is not None else ck if opts.init else None
    if own is not None and not opts.model_overrides:
        if own.config.frames != opts.frames:
            source = f"--init {opts.init}" if own is init else str(out / LAST)
            raise ValueError(f"{source} restores {own.config.frames} frames, not --frames {opts.frames}")
        model = own.model
    else:
        model = build_model(opts.preset, opts.frames, **opts.model_overrides)
    opt = torch.optim.Adam(_trainable(model, opts.stage), lr=opts.lr, betas=(0.9, 0.999))
    sched = _scheduler(opt, opts.total_steps)
    step, history = 0, []
    if ck is not None:
        if ck.config.to_dict() != {**model.cfg.to_dict(), "warp_mode": ck.config.warp_mode}:
            raise ValueError(f"{out / LAST} was trained with a different model config; use another --out")
        state = ck.train_state or {}
        missing = [k for k in ("optimizer", "scheduler", "step", "torch_rng") if k not in state]
        if missing:
            raise TrainError(
                f"{out / LAST} has no training state ({', '.join(missing)} missing: a best.pt or an exported "
                f"checkpoint?); start a new run with --init {out / LAST} instead of --resume"
            )
        model.load_state_dict(ck.model.state_dict())
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, history = int(state["step"]), list(state.get("history", []))
        _retarget_schedule(opt, sched, opts, step)
        torch.set_rng_state(state["torch_rng"])
    elif init is not None and init.model is not model:
        try:
            model.load_state_dict(init.model.state_dict())
        except RuntimeError as exc:
            first = (str(exc).splitlines() or ["shapes differ"])[0][:160]
            raise TrainError(
                f"--init {opts.init} does not fit this model ({first}); drop the model options or use a "
                "checkpoint of the same preset and block layout"
            ) from exc
    return model, opt, sched, step, history


def _check_out(out: Path) -> None:
    """``out`` exists (created) and is writable, before any work is spent."""
    import tempfile

    try:
        if out.exists() and not out.is_dir():
            raise TrainError(f"--out {out} exists and is not a directory; choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise TrainError(f"--out {out} is not writable ({exc.strerror or exc}); choose another --out") from exc


class _MiddlePath(torch.nn.Module):
    """``forward`` = the model's middle path (so DDP syncs the middle-stage gradients)."""

    def __init__(self, model: Blur2Video) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return self.model.forward_middle(x)


def _trainable(model: Blur2Video, stage: str) -> List[torch.nn.Parameter]:
    """The parameters ``stage`` trains; the others are frozen (``requires_grad=False``)."""
    middle_path = {id(p) for p in model.encoder.parameters()} | {id(p) for p in model.middle.parameters()}
    params = []
    for p in model.parameters():
        train_it = stage == "full" or (id(p) in middle_path) == (stage == "middle")
        p.requires_grad_(train_it)
        if train_it:
            params.append(p)
    return params


def _save(out: Path, name: str, model: Blur2Video, opts: TrainOptions, step: int, history: list, opt, sched) -> Path:
    meta = {
        "trained_steps": step,
        "train_options": {k: v for k, v in asdict(opts).items() if k != "loss"},
        "loss": opts.loss.to_dict(),
        "last_eval": history[-1] if history else None,
    }
    state = None
    if name == LAST:
        state = {
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": step,
            "history": history,
            "torch_rng": torch.get_rng_state(),
        }
    return save_checkpoint(out / name, model, meta, state)


def train(opts: TrainOptions, on_step: Optional[Callable[[int, Dict[str, float]], None]] = None) -> TrainResult:
    """Run (or resume) training; returns where the checkpoints are. Rank 0 writes all files."""
    started_dist = _maybe_init_distributed()
    rank, world = _dist_info()
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed + rank)
    out = Path(opts.out)
    if rank == 0:
        _check_out(out)
    model, opt, sched, step, history = _setup(opts, out)
    train_src, test_src = _make_sources(opts)
    from .data.torch_dataset import BlurDataset

    dataset = BlurDataset(train_src, flip=False, seed=opts.seed)  # flips are drawn in _fetch
    net: torch.nn.Module = _MiddlePath(model) if opts.stage == "middle" else model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net)
    t0 = time.time()
    best_path = out / BEST if (out / BEST).exists() else None
    best_score = max((h.get("score", -math.inf) for h in history), default=-math.inf)
    epochs_run, nonfinite = 0, 0
    model.train()
    batches = step_batches(
        StepBatches(dataset, opts.batch, opts.seed, rank, world), step, opts.total_steps, opts.workers
    )
    while step < opts.total_steps:
        x, y = next(batches)
        if opts.stage == "middle":
            loss, terms = middle_loss(net(x), y[:, y.shape[1] // 2], opts.loss)
        else:
            loss, terms = total_loss(net(x, aux=True), y, opts.loss)
        opt.zero_grad(set_to_none=True)
        if torch.isfinite(loss.detach()).all():
            nonfinite = 0
            loss.backward()
            opt.step()
        else:  # skip the update: a NaN gradient would poison every weight
            nonfinite += 1
            if nonfinite >= opts.max_nonfinite:
                raise TrainError(
                    f"the loss was NaN/Inf for {nonfinite} steps in a row (last at step {step + 1}): training "
                    f"diverged; lower --lr (now {opts.lr:g}) and --resume from {out / LAST}, or start again"
                )
        sched.step()
        step += 1
        if on_step is not None and rank == 0:
            on_step(step, terms)
        if step % opts.epoch_steps == 0 or step == opts.total_steps:
            epochs_run += 1
            if rank == 0:
                res = evaluate(model, test_src, opts.eval_samples, with_ssim=False, allow_nonfinite=True)
                score = res.psnr[res.frames // 2] if opts.stage == "middle" else float(np.mean(res.psnr))
                history.append(
                    {
                        "step": step,
                        "epoch": step // opts.epoch_steps,
                        "score": score,
                        **terms,
                        "psnr": res.psnr,
                        "baseline_psnr": res.baseline_psnr,
                        "lr": opt.param_groups[0]["lr"],
                        "elapsed_s": round(time.time() - t0, 1),
                    }
                )
                _save(out, LAST, model, opts, step, history, opt, sched)
                if better(score, best_score):  # a NaN score is never the best
                    best_score = score
                    best_path = _save(out, BEST, model, opts, step, history, opt, sched)
                atomic_write_text(out / "history.json", json.dumps(history, indent=1))
            if opts.stop_after_epochs is not None and epochs_run >= opts.stop_after_epochs:
                break
    if started_dist:
        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(step, step // opts.epoch_steps, out / LAST, best_path, history, time.time() - t0)
