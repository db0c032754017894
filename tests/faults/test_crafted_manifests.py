"""Crafted manifests: path tricks and wrong types never read, load or delete outside the deploy dir."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from fault_helpers import assert_clean_failure, invoke, tree_digest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _art(data, i=0):
    return data["artifacts"][i]


def _escape_relative(d, root, outside):
    _art(d)["path"] = "../outside/victim.txt"
    _art(d)["sha256"] = _sha(outside / "victim.txt")


def _escape_absolute(d, root, outside):
    _art(d)["path"] = str(outside / "evil.onnx")
    _art(d)["sha256"] = _sha(outside / "evil.onnx")


def _escape_symlink(d, root, outside):
    (root / "model.onnx").unlink()
    os.symlink(outside / "evil.onnx", root / "model.onnx")
    _art(d)["sha256"] = _sha(outside / "evil.onnx")


def _escape_dotdot_inside(d, root, outside):
    _art(d)["path"] = "sub/../../outside/evil.onnx"


def _calibration_outside(d, root, outside):
    d["calibration"] = {"tensorrt": {"files": {"model": {"path": str(outside / "victim.txt"), "sha256": "0"}}}}


def _reference_outside(d, root, outside):
    d["parity"] = {"reference_set": {"path": "../outside/victim.txt", "sha256": _sha(outside / "victim.txt")}}


MUTATIONS = {
    "relative path out": (_escape_relative, "artifacts[0].path"),
    "absolute path out": (_escape_absolute, "artifacts[0].path"),
    "symlink out": (_escape_symlink, "outside the deploy dir"),
    "dotdot path": (_escape_dotdot_inside, "artifacts[0].path"),
    "empty path": (lambda d, r, o: _art(d).update(path=""), "artifacts[0].path"),
    "dot path": (lambda d, r, o: _art(d).update(path="."), "artifacts[0].path"),
    "calibration file out": (_calibration_outside, "calibration.tensorrt.files.model.path"),
    "reference set out": (_reference_outside, "parity.reference_set.path"),
    "json is a list": (lambda d, r, o: d.clear() or d.update(LIST=True), "the manifest must be an object"),
    "no sha256": (lambda d, r, o: _art(d).pop("sha256"), "has no 'sha256'"),
    "artifacts not a list": (lambda d, r, o: d.update(artifacts={"a": 1}), "artifacts must be a list"),
    "artifact not an object": (lambda d, r, o: d.update(artifacts=["model.onnx"]), "artifacts[0] must be an object"),
    "model is a list": (lambda d, r, o: d.update(model=[]), "model must be an object"),
    "input is a string": (lambda d, r, o: d.update(input="x"), "input must be an object"),
    "frames is a string": (lambda d, r, o: d["model"].update(frames="3"), "model.frames must be"),
    "extra is a list": (lambda d, r, o: _art(d).update(extra=[]), "artifacts[0].extra must be an object"),
    "opset is a string": (lambda d, r, o: _art(d).update(opset="18"), "artifacts[0].opset must be"),
    "shape holds a list": (lambda d, r, o: d["input"].update(shape=[1, 3, [16], 24]), "input.shape[2] must be"),
    "unknown kind": (lambda d, r, o: _art(d).update(kind="zip"), "kind must be one of"),
    "schema 99": (lambda d, r, o: d.update(schema_version=99), "schema_version is 99"),
    "truncated json": (None, "is not valid JSON"),
}

COMMANDS = {
    "run": lambda root: ["run", "--model", root, "--headless", "--max-frames", 1],
    "parity": lambda root: ["parity", root],
    "bench": lambda root: ["bench", root, "--runs", 1, "--samples", 1, "--no-warp-compare", "--no-isolate"],
    "calibrate": lambda root: ["calibrate", root, "--samples", 4],
    "build-engine": lambda root: ["build-engine", root],
}


def _craft(root: Path, outside: Path, name: str) -> None:
    mutate, _ = MUTATIONS[name]
    file = root / "manifest.json"
    if mutate is None:
        file.write_text(file.read_text()[:57])
        return
    data = json.loads(file.read_text())
    mutate(data, root, outside)
    file.write_text(json.dumps([1, 2] if data.get("LIST") else data))


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_crafted_manifest_is_one_line_and_touches_nothing(tmp_path, runtime_models, outside, name, command):
    root = runtime_models.make_deploy(tmp_path / "deploy")
    _craft(root, outside, name)
    before_outside, before_root = tree_digest(outside), tree_digest(root)
    result = invoke(*COMMANDS[command](root))
    # the manifest itself is valid here: bench and parity stop first at the missing PyTorch reference,
    # build-engine at the missing TensorRT (its source is model.fp16.onnx)
    late = name == "symlink out" and command in ("bench", "parity", "build-engine")
    line = assert_clean_failure(result, code=None if late else 2, match="" if late else MUTATIONS[name][1])
    assert late or "manifest.json" in line or "outside the deploy dir" in line
    assert tree_digest(outside) == before_outside
    after = {k: v for k, v in tree_digest(root).items() if k != ".b2v-edge/lock"}  # a writer may have locked
    assert after == before_root  # a refused manifest is not rewritten either


@pytest.mark.parametrize("bad", ["../outside/victim.txt", "ABS"])
def test_export_into_a_crafted_dir_deletes_nothing(tmp_path, runtime_models, outside, bad):
    root = runtime_models.make_deploy(tmp_path / "deploy")
    data = json.loads((root / "manifest.json").read_text())
    data["artifacts"].append(dict(_art(data, 1), path=str(outside / "victim.txt") if bad == "ABS" else bad))
    (root / "manifest.json").write_text(json.dumps(data))
    before = tree_digest(outside)
    result = invoke("export", "--out", root, "--size", "64x64")
    assert_clean_failure(result, match="artifacts[2].path")
    assert tree_digest(outside) == before


def test_a_newer_writers_extra_keys_still_run(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "deploy")
    data = json.loads((root / "manifest.json").read_text())
    data["future"] = {"x": 1}
    for art in data["artifacts"]:
        art["future_field"] = [1, 2]
    (root / "manifest.json").write_text(json.dumps(data))
    result = invoke("run", "--model", root, "--headless", "--max-frames", 2)
    assert result.exit_code == 0, result.output
    assert "2 processed" in result.stdout
