"""SIGKILL at random instants of export, calibrate and train: the deploy dir (or checkpoint) is always
whole — the old generation or the new one — and the next run succeeds.

The default run kills each writer a few times; ``-m slow`` runs the long loops (more than 50 kills).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from fault_helpers import TINY, run_cli, tree_digest, verify_deploy

from b2v_edge.common import deploydir

CLI = "from b2v_edge.cli.main import app; app(prog_name='b2v-edge')"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _kill_after(args: List[object], seconds: float, env=None) -> int:
    """Start ``b2v-edge *args``, SIGKILL it after ``seconds`` (if still running); returns its exit code."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.returncode


def _generations(root: Path) -> List[str]:
    return [p.name for p in (root / deploydir.STATE_DIR).iterdir() if p.name.startswith("gen-")]


def _export_args(ckpt: Path, out: Path) -> List[object]:
    return ["export", "--checkpoint", ckpt, "--out", out, "--size", "64x64", "--precision", "fp16"]


def _export_kills(tmp_path, runtime_models, ckpts, outside, kills: int, seed: int) -> int:
    root = runtime_models.make_deploy(tmp_path / "deploy")
    old = {a.path: a.sha256 for a in verify_deploy(root).artifacts}
    new_sha = {_sha(c) for c in ckpts}
    before_outside = tree_digest(outside)
    rng, landed = random.Random(seed), 0
    for i in range(kills):
        rc = _kill_after(_export_args(ckpts[i % 2], root), rng.uniform(2.0, 24.0))
        manifest = verify_deploy(root)  # raises if any listed file disagrees with the manifest
        sha = manifest.model.get("checkpoint_sha256")
        if sha is None:
            assert {a.path: a.sha256 for a in manifest.artifacts} == old  # wholly the old generation
        else:
            assert sha in new_sha and manifest.get("onnx", "fp16")  # wholly a new one
        landed += rc == -signal.SIGKILL
    assert tree_digest(outside) == before_outside
    done = run_cli(*_export_args(ckpts[0], root))
    assert done.returncode == 0, done.stderr
    assert verify_deploy(root).model["checkpoint_sha256"] == _sha(ckpts[0])
    assert len(_generations(root)) == 1 and not list(root.glob(".export-*"))  # leftovers swept
    return landed


def test_export_killed_then_rerun(tmp_path, runtime_models, tiny_checkpoints, outside):
    assert _export_kills(tmp_path, runtime_models, tiny_checkpoints, outside, kills=1, seed=3) == 1


@pytest.mark.slow
def test_export_kill_loop(tmp_path, runtime_models, tiny_checkpoints, outside):
    assert _export_kills(tmp_path, runtime_models, tiny_checkpoints, outside, kills=25, seed=11) >= 20


def _calib_args(root: Path) -> List[object]:
    return ["calibrate", root, "--samples", 8, "--eval-samples", 2, "--quiet", "--no-cache"]


def _calibrate_kills(tmp_path, calib_graphs, kills: int, seed: int) -> int:
    root = calib_graphs.make_deploy(tmp_path / "deploy", calib_graphs.build_graph("native"), "native")
    rng, landed = random.Random(seed), 0
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    start = time.monotonic()
    first = subprocess.run([sys.executable, "-c", CLI, *map(str, _calib_args(root))], env=env)
    took = time.monotonic() - start  # kills land across the whole run, startup to commit
    assert first.returncode == 0
    old = {a.path: a.sha256 for a in verify_deploy(root).artifacts}
    for _ in range(kills):
        rc = _kill_after(_calib_args(root), rng.uniform(0.1, 0.97) * took, env=env)
        manifest = verify_deploy(root)
        paths = {a.path for a in manifest.artifacts}
        assert paths == set(old)  # every generation lists the same files, each matching its hash
        landed += rc == -signal.SIGKILL
    return landed


def test_calibrate_killed_at_random_instants(tmp_path, calib_graphs):
    assert _calibrate_kills(tmp_path, calib_graphs, kills=3, seed=5) >= 1


@pytest.mark.slow
def test_calibrate_kill_loop(tmp_path, calib_graphs):
    assert _calibrate_kills(tmp_path, calib_graphs, kills=25, seed=13) >= 15


TRAIN = [
    "train",
    "--data",
    "synthetic",
    "--frames",
    3,
    "--crop",
    32,
    "--batch",
    2,
    "--epochs",
    6,
    "--epoch-steps",
    2,
    "--eval-samples",
    2,
    "--threads",
    1,
]


@pytest.mark.slow
def test_train_kill_loop_always_resumes(tmp_path):
    """Killed at random instants, ``--resume`` always finds a loadable ``last.pt`` and finishes."""
    from b2v_edge.checkpoint import load_checkpoint

    code = (
        "import b2v_edge.train as t, sys; from b2v_edge.cli.main import app; "
        f"t.build_model = (lambda f: lambda preset, frames, **kw: f(preset, frames, **{TINY!r}))(t.build_model); "
        "app(prog_name='b2v-edge')"
    )
    out, rng = tmp_path / "run", random.Random(7)
    for _ in range(10):
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, TRAIN), "--out", out, "--resume"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(3.0, 15.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (out / "last.pt").exists():
            load_checkpoint(out / "last.pt", with_train_state=True)
    done = subprocess.run([sys.executable, "-c", code, *map(str, TRAIN), "--out", out, "--resume"])
    assert done.returncode == 0
    assert load_checkpoint(out / "last.pt", with_train_state=True).train_state["step"] == 12
