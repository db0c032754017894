"""The manifest loader: typed fields, forward-compatible extra keys, paths confined to the deploy dir."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from b2v_edge.common.confine import ConfinementError, check_relative, confined
from b2v_edge.common.manifest import Manifest, ManifestError


def _write(root: Path, data) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(data))
    return root


def _artifact(path: str = "model.onnx", **kw) -> dict:
    return {"path": path, "kind": "onnx", "precision": "fp32", "sha256": "0" * 64, **kw}


def _manifest(*arts, **kw) -> dict:
    return {"schema_version": 1, "artifacts": list(arts), **kw}


@pytest.mark.parametrize("rel", ["model.onnx", "sub/model.onnx", "a.b.c"])
def test_relative_paths_pass(rel):
    assert check_relative(rel, "x") == rel


@pytest.mark.parametrize(
    "rel", ["", ".", "..", "../x", "a/../b", "/etc/passwd", "~/x", "a//b", "./a", "a/", "a\\b", "a\x00b", 3, None]
)
def test_escaping_or_odd_paths_are_refused(rel):
    with pytest.raises(ConfinementError, match="x"):
        check_relative(rel, "x")


def test_symlink_out_of_the_dir_is_refused(tmp_path):
    root = tmp_path / "deploy"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", root / "model.onnx")
    os.symlink(tmp_path, root / "up")
    with pytest.raises(ConfinementError, match="outside the deploy dir"):
        confined(root, "model.onnx", "artifact")
    with pytest.raises(ConfinementError, match="outside"):
        confined(root, "up/secret.txt", "artifact", follow=False)
    # the link itself may be unlinked (it is inside); its target never is
    assert confined(root, "model.onnx", "artifact", follow=False) == root / "model.onnx"


def test_symlink_inside_the_dir_is_fine(tmp_path):
    root = tmp_path / "deploy"
    (root / "gen").mkdir(parents=True)
    (root / "gen" / "model.onnx").write_text("m")
    os.symlink("gen/model.onnx", root / "model.onnx")
    assert confined(root, "model.onnx", "artifact").read_text() == "m"


@pytest.mark.parametrize("bad", ["../../victim.txt", "/etc/passwd", "", ".", "a/../../b"])
def test_load_refuses_an_artifact_path_outside(tmp_path, bad):
    root = _write(tmp_path / "d", _manifest(_artifact(bad)))
    with pytest.raises(ManifestError, match=r"artifacts\[0\]\.path") as exc:
        Manifest.load(root)
    assert "\n" not in str(exc.value)


def test_load_refuses_calibration_and_reference_paths_outside(tmp_path):
    cal = {"tensorrt": {"files": {"model": {"path": "../x.onnx", "sha256": "0"}}}}
    with pytest.raises(ManifestError, match=r"calibration\.tensorrt\.files\.model\.path"):
        Manifest.load(_write(tmp_path / "a", _manifest(calibration=cal)))
    parity = {"reference_set": {"path": "/etc/passwd", "sha256": "0"}}
    with pytest.raises(ManifestError, match=r"parity\.reference_set\.path"):
        Manifest.load(_write(tmp_path / "b", _manifest(parity=parity)))


def test_path_of_refuses_a_symlink_to_outside(tmp_path):
    root = _write(tmp_path / "d", _manifest(_artifact()))
    (tmp_path / "evil.onnx").write_bytes(b"x")
    os.symlink(tmp_path / "evil.onnx", root / "model.onnx")
    manifest = Manifest.load(root)
    with pytest.raises(ManifestError, match="outside the deploy dir"):
        manifest.verify(manifest.artifacts[0])


@pytest.mark.parametrize(
    "data, where",
    [
        ([1, 2], "the manifest must be an object"),
        (_manifest({"path": "m.onnx", "kind": "onnx", "precision": "fp32"}), r"artifacts\[0\] has no 'sha256'"),
        (_manifest("model.onnx"), r"artifacts\[0\] must be an object"),
        ({"schema_version": 1, "artifacts": {"a": 1}}, "artifacts must be a list"),
        (_manifest(model=[1]), "model must be an object"),
        (_manifest(input="x"), "input must be an object"),
        (_manifest(model={"frames": "7"}), "model.frames must be"),
        (_manifest(model={"frames": True}), "model.frames must be"),
        (_manifest(_artifact(opset="18")), r"artifacts\[0\]\.opset must be"),
        (_manifest(_artifact(extra=[])), r"artifacts\[0\]\.extra must be an object"),
        (_manifest(_artifact(sha256="abc")), r"artifacts\[0\]\.sha256 must be 64"),
        (_manifest(input={"shape": [1, 3, [2], 4]}), r"input\.shape\[2\] must be"),
        ({"schema_version": 2}, "schema_version is 2"),
    ],
)
def test_wrong_types_are_one_line_errors(tmp_path, data, where):
    root = _write(tmp_path / "d", data)
    with pytest.raises(ManifestError, match=where) as exc:
        Manifest.load(root)
    assert "\n" not in str(exc.value) and "manifest.json" in str(exc.value)


def test_unknown_keys_of_a_newer_writer_are_kept_with_a_notice(tmp_path, caplog):
    data = _manifest(_artifact(future_field={"a": 1}), future_top=[1, 2])
    root = _write(tmp_path / "d", data)
    with caplog.at_level(logging.WARNING, logger="b2v_edge.manifest"):
        manifest = Manifest.load(root)
    assert "artifacts[0].future_field" in caplog.text and "future_top" in caplog.text
    manifest.save()
    again = json.loads((root / "manifest.json").read_text())
    assert again["future_top"] == [1, 2] and again["artifacts"][0]["future_field"] == {"a": 1}


def test_files_lists_everything_the_manifest_names(tmp_path):
    cal = {"tensorrt": {"files": {"model": {"path": "model.int8.onnx"}, "record": {"path": "calibration.json"}}}}
    data = _manifest(_artifact(), calibration=cal, parity={"reference_set": {"path": "reference.npz"}})
    manifest = Manifest.load(_write(tmp_path / "d", data))
    assert manifest.files() == ["model.onnx", "model.int8.onnx", "calibration.json", "reference.npz"]


def test_hash_mismatch_names_the_command_that_rewrites_the_file(tmp_path):
    root = _write(tmp_path / "d", _manifest(_artifact(), _artifact("model.int8.onnx", precision="int8")))
    (root / "model.onnx").write_bytes(b"x")
    (root / "model.int8.onnx").write_bytes(b"x")
    manifest = Manifest.load(root)
    with pytest.raises(ManifestError, match="b2v-edge export --precision fp32") as exc:
        manifest.verify(manifest.artifacts[0])
    assert "modified after export" not in str(exc.value)
    with pytest.raises(ManifestError, match="b2v-edge calibrate"):
        manifest.verify(manifest.artifacts[1])


@pytest.mark.parametrize(
    "extra, where",
    [
        ({"build_options": []}, r"extra\.build_options must be an object"),
        ({"tensorrt_version": 10}, r"extra\.tensorrt_version must be a string"),
        ({"profile": "x"}, r"extra\.profile must be an object"),
        ({"source": "../model.onnx"}, r"extra\.source must be a relative path"),
    ],
)
def test_extra_fields_the_tools_read_are_typed(tmp_path, extra, where):
    root = _write(tmp_path / "d", _manifest(_artifact("model.fp16.plan", kind="tensorrt_plan", extra=extra)))
    with pytest.raises(ManifestError, match=where):
        Manifest.load(root)
