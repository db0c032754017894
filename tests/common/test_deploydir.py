"""common/deploydir.py: generations, one atomic switch, one writer, sweeping what killed writers left."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from b2v_edge.common import deploydir
from b2v_edge.common.atomic import atomic_write_bytes
from b2v_edge.common.deploydir import DeployLockedError, update
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file


def _write_generation(root: Path, tag: str, names=("model.onnx", "model.fp16.onnx")) -> None:
    """One update: every listed file holds ``tag`` and the manifest says so."""
    with update(root) as stage:
        manifest = Manifest.load(stage) if (stage / "manifest.json").exists() else Manifest(root=stage)
        manifest.artifacts = []
        for i, name in enumerate(names):
            atomic_write_bytes(stage / name, f"{tag}:{name}".encode() * 1000)
            precision = ("fp32", "fp16", "int8")[i]
            manifest.upsert(Artifact(name, "onnx", precision, sha256_file(stage / name)))
        manifest.model = {"name": tag}
        manifest.save()


def _generation(root: Path) -> str:
    """The tag of the deploy dir after checking every listed file against the manifest."""
    manifest = Manifest.load(root)
    for art in manifest.artifacts:
        manifest.verify(art)
    return manifest.model["name"]


def test_first_update_writes_the_layout_and_reads_like_a_flat_dir(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A")
    assert _generation(root) == "A"
    assert (root / "model.onnx").is_symlink() and (root / "manifest.json").is_symlink()
    assert (root / "model.onnx").read_bytes().startswith(b"A:model.onnx")
    gens = [p.name for p in (root / deploydir.STATE_DIR).iterdir() if p.name.startswith("gen-")]
    assert len(gens) == 1


def test_a_new_generation_replaces_every_file_and_drops_unlisted_names(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A", names=("model.onnx", "model.fp16.onnx", "model.int8.onnx"))
    _write_generation(root, "B", names=("model.onnx",))
    assert _generation(root) == "B"
    assert not os.path.lexists(root / "model.fp16.onnx") and not os.path.lexists(root / "model.int8.onnx")
    gens = [p.name for p in (root / deploydir.STATE_DIR).iterdir() if p.name.startswith("gen-")]
    assert len(gens) == 1


def test_a_failed_update_leaves_the_old_generation_and_no_staging(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A")
    with pytest.raises(RuntimeError, match="boom"):
        with update(root) as stage:
            atomic_write_bytes(stage / "model.onnx", b"half")
            raise RuntimeError("boom")
    assert _generation(root) == "A"
    gens = [p.name for p in (root / deploydir.STATE_DIR).iterdir() if p.name.startswith("gen-")]
    assert len(gens) == 1


def test_a_flat_deploy_dir_is_taken_over_with_its_files_unchanged(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "flat")
    (root / "notes.txt").write_text("mine")
    before = {n: sha256_file(root / n) for n in ("model.onnx", "model.fp16.onnx")}
    with update(root) as stage:
        manifest = Manifest.load(stage)
        manifest.model["checkpoint"] = "updated"
        manifest.save()
    manifest = Manifest.load(root)
    assert manifest.model["checkpoint"] == "updated"
    for art in manifest.artifacts:
        manifest.verify(art)
    assert {n: sha256_file(root / n) for n in before} == before
    assert (root / "notes.txt").read_text() == "mine" and not (root / "notes.txt").is_symlink()


def test_a_manifest_saved_in_place_is_taken_over_again(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A")
    manifest = Manifest.load(root)
    manifest.model = {"name": "edited in place"}
    manifest.save()  # replaces the link by a plain file
    _write_generation(root, "B")
    assert _generation(root) == "B"


def test_update_errors_name_the_deploy_dir_not_the_staging_folder(tmp_path):
    from b2v_edge.common.manifest import ManifestError

    root = tmp_path / "deploy"
    _write_generation(root, "A")
    with pytest.raises(ManifestError) as exc:
        with update(root) as stage:
            raise ManifestError(f"{stage}/model.onnx is broken")
    assert str(exc.value) == f"{root}/model.onnx is broken"


def test_leftovers_of_killed_writers_are_swept_on_the_next_write(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A")
    state = root / deploydir.STATE_DIR
    (state / "gen-killed").mkdir()
    (state / "gen-killed" / "model.onnx").write_bytes(b"x" * 1000)
    (root / ".export-abc").mkdir()
    (root / ".export-abc" / "raw.onnx").write_bytes(b"x")
    (root / ".model.onnx.k2j3.tmp").write_bytes(b"x")
    os.symlink(f"{deploydir.STATE_DIR}/current/model.int8.onnx", root / "model.int8.onnx")  # dangling
    (root / "keep.txt").write_text("user file")
    _write_generation(root, "B")
    assert not (state / "gen-killed").exists() and not (root / ".export-abc").exists()
    assert not (root / ".model.onnx.k2j3.tmp").exists() and not os.path.lexists(root / "model.int8.onnx")
    assert (root / "keep.txt").read_text() == "user file"
    assert _generation(root) == "B"


HOLD_LOCK = """
import sys, time
from b2v_edge.common.deploydir import writer_lock
with writer_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DeployLockedError, match=rf"being written by another b2v-edge process \(pid {holder.pid}\)"):
            _write_generation(root, "B")
    finally:
        holder.kill()
        holder.wait()
    _write_generation(root, "B")  # the kernel released the dead holder's lock
    assert _generation(root) == "B"


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    root = tmp_path / "deploy"
    with deploydir.writer_lock(root):
        _write_generation(root, "A")
    assert _generation(root) == "A"


WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from test_deploydir import _write_generation
from pathlib import Path
root, i = Path(sys.argv[1]), 0
print("started", flush=True)
while True:
    i += 1
    _write_generation(root, f"G{i}", names=("model.onnx", "model.fp16.onnx", "model.int8.onnx")[: 1 + i % 3])
"""


def _read_generation_number(root: Path) -> int:
    return int(_generation(root)[1:])


def test_sigkill_at_random_instants_always_leaves_one_whole_generation(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "G0")
    rng = random.Random(0)
    seen = 0
    for _ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(Path(__file__).parent)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _read_generation_number(root)  # raises if any listed file disagrees with the manifest
        assert now >= 0
        seen = max(seen, now)
    assert seen > 0  # the writer did commit generations between the kills
    _write_generation(root, "G-final")
    assert _generation(root) == "G-final"
    leftovers = [p.name for p in (root / deploydir.STATE_DIR).iterdir() if p.name.startswith("gen-")]
    assert len(leftovers) == 1


def test_readme_reliability_section_states_the_guarantee():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Reliability", 1)[1].split("\n## ", 1)[0].lower()
    for phrase in ("sigkill", "wholly old or wholly new", "lock", "outside the deploy dir", "nan"):
        assert phrase in section


def _digest(root: Path) -> str:
    return hashlib.sha256(json.dumps(Manifest.load(root).to_dict(), sort_keys=True).encode()).hexdigest()


def test_nested_updates_commit_once(tmp_path):
    root = tmp_path / "deploy"
    _write_generation(root, "A")
    before = _digest(root)
    with update(root) as stage:
        with update(stage) as inner:
            assert inner == stage
            manifest = Manifest.load(inner)
            manifest.model = {"name": "nested"}
            manifest.save()
        assert _digest(root) == before  # not committed until the outer block ends
    assert _generation(root) == "nested"
