"""export/deploy.py never deletes outside the deploy dir, whatever its manifest says."""

from __future__ import annotations

import json
import os

import pytest

from b2v_edge.common.manifest import Artifact, Manifest
from b2v_edge.export import deploy
from b2v_edge.export.constants import ExportError


@pytest.mark.parametrize("bad", ["../victim.txt", "ABSOLUTE"])
def test_crafted_manifest_is_refused_and_nothing_outside_is_deleted(tmp_path, bad):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "deploy"
    out.mkdir()
    path = str(victim) if bad == "ABSOLUTE" else bad
    art = {"path": path, "kind": "onnx", "precision": "fp16", "sha256": "0" * 64}
    (out / "manifest.json").write_text(json.dumps({"schema_version": 1, "artifacts": [art]}))
    with pytest.raises(ExportError, match=r"artifacts\[0\]\.path"):
        deploy.load_or_new(out)
    assert victim.read_text() == "keep me"


def test_drop_stale_unlinks_a_symlink_never_its_target(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "deploy"
    out.mkdir()
    os.symlink(victim, out / "model.fp16.onnx")
    manifest = Manifest(root=out, model={"checkpoint_sha256": "a"})
    manifest.upsert(Artifact(path="model.fp16.onnx", kind="onnx", precision="fp16", sha256="0" * 64))
    messages = deploy.drop_stale(manifest, {"checkpoint_sha256": "b"}, ["model.onnx"])
    assert messages and not (out / "model.fp16.onnx").is_symlink()
    assert victim.read_text() == "keep me"


def test_drop_stale_refuses_a_path_through_a_symlinked_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.onnx").write_text("keep me")
    out = tmp_path / "deploy"
    out.mkdir()
    os.symlink(outside, out / "sub")
    manifest = Manifest(root=out, model={"checkpoint_sha256": "a"})
    manifest.upsert(Artifact(path="sub/x.onnx", kind="onnx", precision="fp16", sha256="0" * 64))
    with pytest.raises(Exception, match="outside the deploy dir"):
        deploy.drop_stale(manifest, {"checkpoint_sha256": "b"}, [])
    assert (outside / "x.onnx").read_text() == "keep me"
