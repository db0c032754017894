import os
import subprocess
import sys

import torch
from tiny_model import TINY

from b2v_edge.checkpoint import load_checkpoint
from b2v_edge.losses import LossConfig, total_loss
from b2v_edge.model import build_model
from b2v_edge.train import TrainOptions, batch_indices, train


def _opts(tmp_path, **kw):
    base = dict(
        out=str(tmp_path / "run"),
        crop=32,
        batch=2,
        epochs=3,
        epoch_steps=2,
        eval_samples=2,
        eval_size=32,
        model_overrides=TINY,
        frames=3,
        lr=1e-3,
    )
    base.update(kw)
    return TrainOptions(**base)


def test_batch_indices_deterministic_and_rank_disjoint():
    a = batch_indices(5, 4, 100, seed=1, rank=0, world=2)
    b = batch_indices(5, 4, 100, seed=1, rank=1, world=2)
    assert a == batch_indices(5, 4, 100, seed=1, rank=0, world=2)
    assert not set(a) & set(b)
    epoch = [i for s in range(25) for i in batch_indices(s, 4, 100, seed=1)]
    assert sorted(epoch) == list(range(100))  # one pass = a permutation


def test_step_batches_from_a_data_worker_equal_the_in_process_ones():
    from b2v_edge.data.torch_dataset import BlurDataset, make_source
    from b2v_edge.train import StepBatches, step_batches

    source = make_source("2*deadleaves+synthetic", frames=3, size=(32, 32), seed=3)
    batches = StepBatches(BlurDataset(source), batch=2, seed=3)
    here = list(step_batches(batches, 4, 7, workers=0))
    worker = list(step_batches(batches, 4, 7, workers=1))
    assert len(here) == len(worker) == 3
    for (xa, ya), (xb, yb) in zip(here, worker):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(here[0][0], here[1][0])  # steps differ


def test_a_run_with_a_data_worker_matches_one_without(tmp_path):
    import pytest

    a = train(_opts(tmp_path / "a", workers=0, epochs=2))
    b = train(_opts(tmp_path / "b", workers=1, epochs=2))
    wa = load_checkpoint(a.last).model.state_dict()
    wb = load_checkpoint(b.last).model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.history[-1]["score"] == b.history[-1]["score"]
    with pytest.raises(ValueError, match="--workers must be >= 0"):
        _opts(tmp_path / "c", workers=-1)


def test_model_and_losses_learn_a_fixed_batch():
    torch.manual_seed(0)
    from b2v_edge.data.synthetic import SyntheticBlur

    src = SyntheticBlur(frames=3, size=(64, 64), split="train", seed=3)
    items = [src[i] for i in range(4)]
    x = torch.from_numpy(__import__("numpy").stack([s.blurred for s in items])).permute(0, 3, 1, 2)
    y = torch.from_numpy(__import__("numpy").stack([s.frames for s in items])).permute(0, 1, 4, 2, 3)
    model = build_model("lite", 3, **TINY)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    losses = []
    for _ in range(40):
        loss, _ = total_loss(model(x, aux=True), y, LossConfig())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5


def test_resume_continues_from_saved_step_and_matches_uninterrupted(tmp_path):
    full = train(_opts(tmp_path / "a"))
    assert full.steps == 6 and len(full.history) == 3
    part = train(_opts(tmp_path / "b", stop_after_epochs=1))
    assert part.steps == 2
    seen = []
    rest = train(_opts(tmp_path / "b", resume=True), on_step=lambda s, t: seen.append(s))
    assert seen[0] == 3 and rest.steps == 6 and len(rest.history) == 3
    a = load_checkpoint(full.last).model.state_dict()
    b = load_checkpoint(rest.last).model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    ck = load_checkpoint(rest.last, with_train_state=True)
    assert ck.train_state["step"] == 6 and ck.metadata["trained_steps"] == 6


def test_resume_refuses_other_config(tmp_path):
    train(_opts(tmp_path, epochs=1))
    import pytest

    with pytest.raises(ValueError, match="different model config"):
        train(_opts(tmp_path, resume=True, frames=5))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_process_gloo(tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "b2v_edge.cli.main",
        "train",
        "--crop",
        "32",
        "--batch",
        "1",
        "--epochs",
        "1",
        "--epoch-steps",
        "3",
        "--frames",
        "3",
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ck = load_checkpoint(out / "last.pt", with_train_state=True)
    assert ck.train_state["step"] == 3
    assert proc.stdout.count("trained to step 3") == 1  # only rank 0 reports


def test_resume_with_longer_schedule_moves_lr_milestones(tmp_path):
    # 3 epochs x 2 steps: milestones at 3 and 4 -> after 6 steps the LR is quartered
    first = train(_opts(tmp_path, epochs=3))
    assert abs(first.history[-1]["lr"] - 1e-3 / 4) < 1e-12
    # resume to 12 epochs: milestones move to 12 and 18, so at step 6..8 the LR is back to the base
    longer = train(_opts(tmp_path, epochs=12, resume=True, stop_after_epochs=1))
    assert longer.steps == 8 and abs(longer.history[-1]["lr"] - 1e-3) < 1e-12


def _params(path):
    return {k: v.clone() for k, v in load_checkpoint(path).model.state_dict().items()}


def test_middle_stage_trains_only_the_middle_path(tmp_path):
    res = train(_opts(tmp_path, stage="middle", epochs=1, data="synthetic"))
    torch.manual_seed(0)  # train() seeds with --seed (0) before it builds the model
    before = build_model("lite", 3, **TINY).state_dict()
    after = _params(res.last)
    changed = {k.split(".")[0] for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"encoder", "middle"}
    h = res.history[-1]
    assert h["score"] == h["psnr"][1]  # the middle frame's PSNR picks the best checkpoint


def test_others_stage_freezes_the_middle_path_and_keeps_the_init_architecture(tmp_path):
    import dataclasses

    first = train(_opts(tmp_path / "m", stage="middle", epochs=1, model_overrides=dict(TINY, block="naf")))
    opts = dataclasses.replace(
        _opts(tmp_path / "o", stage="others", epochs=1), init=str(first.last), model_overrides={}
    )
    res = train(opts)
    a, b = _params(first.last), _params(res.last)
    changed = {k.split(".")[0] for k in a if not torch.equal(a[k], b[k])}
    assert changed == {"others"} and load_checkpoint(res.last).config.block == "naf"


def test_a_run_started_with_init_resumes_with_the_init_architecture(tmp_path):
    import dataclasses

    first = train(_opts(tmp_path / "m", stage="middle", epochs=1, model_overrides=dict(TINY, block="naf")))
    run = _opts(tmp_path / "o", stage="others", epochs=2, resume=True)
    run = dataclasses.replace(run, init=str(first.last), model_overrides={})
    part = train(dataclasses.replace(run, stop_after_epochs=1))  # --resume with no last.pt yet: starts from --init
    a, b = _params(first.last), _params(part.last)
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("others"))
    seen = []
    rest = train(run, on_step=lambda s, t: seen.append(s))
    assert seen[0] == part.steps + 1 and rest.steps == 4 and len(rest.history) == 2
    assert load_checkpoint(rest.last).config.block == "naf"
    whole = train(dataclasses.replace(run, out=str(tmp_path / "w"), resume=False))
    c, d = _params(whole.last), _params(rest.last)
    assert all(torch.allclose(c[k], d[k], atol=1e-6) for k in c)  # as if never interrupted


def test_eval_data_is_scored_and_stage_is_validated(tmp_path):
    import pytest

    res = train(_opts(tmp_path, epochs=1, eval_data="synthetic", data="deadleaves"))
    assert len(res.history) == 1
    with pytest.raises(ValueError, match="--stage must be one of"):
        train(_opts(tmp_path / "x", stage="middle-only"))


def test_nonfinite_losses_skip_updates_and_end_the_run(tmp_path, monkeypatch):
    import pytest

    import b2v_edge.train as train_mod

    def nan_loss(pred, y, cfg):
        zero = sum(p.sum() for p in pred if isinstance(p, torch.Tensor)) * 0
        return zero + float("nan"), {"loss": float("nan")}

    monkeypatch.setattr(train_mod, "total_loss", nan_loss)
    steps = []
    with pytest.raises(train_mod.TrainError, match="NaN/Inf for 3 steps in a row"):
        train(_opts(tmp_path, max_nonfinite=3), on_step=lambda s, t: steps.append(s))
    assert steps == [1, 2]  # the third NaN step raises before it is reported


def test_out_that_is_a_file_fails_before_the_first_step(tmp_path):
    import pytest

    from b2v_edge.train import TrainError

    (tmp_path / "run").write_text("a file")
    steps = []
    with pytest.raises(TrainError, match="not a directory"):
        train(_opts(tmp_path), on_step=lambda s, t: steps.append(s))
    assert steps == []


def test_resume_from_a_checkpoint_without_train_state_is_one_line(tmp_path):
    import shutil

    import pytest

    from b2v_edge.train import TrainError

    first = train(_opts(tmp_path, epochs=1))
    shutil.copy(first.best, first.last)  # best.pt holds no optimizer state
    with pytest.raises(TrainError, match="no training state") as exc:
        train(_opts(tmp_path, resume=True))
    assert "\n" not in str(exc.value)


def test_init_from_another_architecture_is_one_line(tmp_path):
    import pytest

    from b2v_edge.train import TrainError

    first = train(_opts(tmp_path / "a", epochs=1))
    other = {**TINY, "refine_channels": 6}
    with pytest.raises(TrainError, match="does not fit this model") as exc:
        train(_opts(tmp_path / "b", epochs=1, init=str(first.last), model_overrides=other))
    assert len(str(exc.value)) < 400
