"""Bad inputs against the CLI: corrupt checkpoints, ONNX, images and videos, NaN models, odd outputs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from fault_helpers import assert_clean_failure, invoke, tree_digest, verify_deploy

from b2v_edge.common.manifest import Manifest, sha256_file


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _bad_checkpoints(folder):
    folder.mkdir()
    (folder / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "empty.pt").write_bytes(b"")
    torch.save({"format_version": 2, "x": _Evil()}, folder / "evil_zip.pt")
    (folder / "evil_raw.pt").write_bytes(pickle.dumps({"x": _Evil()}))
    torch.save({"format_version": 2, "config": {}}, folder / "no_state.pt")
    return sorted(folder.iterdir())


def test_bad_checkpoints_are_one_line_for_eval_and_export(tmp_path):
    for ckpt in _bad_checkpoints(tmp_path / "ckpts"):
        assert_clean_failure(invoke("eval", "--checkpoint", ckpt, "--samples", 1), match=ckpt.name)
        out = tmp_path / f"out-{ckpt.stem}"
        assert_clean_failure(invoke("export", "--checkpoint", ckpt, "--out", out, "--size", "64x64"), match=ckpt.name)
        assert not out.exists()


def test_corrupt_onnx_with_a_matching_hash_is_one_line(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "d", precisions=("fp32",))
    (root / "model.onnx").write_bytes(b"\x08\x07" + b"garbage" * 50)
    manifest = Manifest.load(root)
    manifest.artifacts[0].sha256 = sha256_file(root / "model.onnx")
    manifest.save()
    assert_clean_failure(invoke("run", "--model", root, "--headless", "--max-frames", 1), match="model.onnx")
    assert_clean_failure(invoke("calibrate", root, "--samples", 4, "--quiet"), match="model.onnx")


def test_a_modified_artifact_names_the_command_that_rewrites_it(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "d", precisions=("fp32",))
    (root / "model.onnx").write_bytes((root / "model.onnx").read_bytes() + b"x")
    line = assert_clean_failure(invoke("run", "--model", root, "--headless", "--max-frames", 1))
    assert "b2v-edge export --precision fp32" in line and "modified after export" not in line


def test_nan_model_fails_run_and_calibrate(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "nan", precisions=("fp32",), nan=True)
    before = tree_digest(root)
    assert_clean_failure(invoke("run", "--model", root, "--headless", "--max-frames", 12), match="NaN/Inf")
    assert_clean_failure(invoke("calibrate", root, "--samples", 4, "--eval-samples", 1, "--quiet"), match="NaN/Inf")
    after = {k: v for k, v in tree_digest(root).items() if k != ".b2v-edge/lock"}
    assert after == before  # nothing written


def test_one_corrupt_image_in_a_folder_is_skipped(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "d")
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((16, 24, 3), 30 * i, np.uint8))
    (folder / "2.png").write_bytes(b"broken")
    result = invoke("run", "--model", root, "--source", folder, "--headless", "--output", tmp_path / "o.avi")
    assert result.exit_code == 0, result.output
    assert "4 processed" in result.stdout and "2.png" in result.stderr and "skipped" in result.stderr
    assert (tmp_path / "o.avi").is_file()


def test_a_truncated_video_runs_to_its_end_with_a_notice(tmp_path, runtime_models):
    root = runtime_models.make_deploy(tmp_path / "d")
    full = runtime_models.write_video(tmp_path / "full.avi", frames=60, h=16, w=24)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    result = invoke("run", "--model", root, "--source", cut, "--headless")
    assert result.exit_code == 0, result.output
    assert "of its 60 frames" in result.stderr and "truncated" in result.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (["--output", "DIR"], "is a directory"),
        (["--source", ""], "--source is empty"),
        (["--source", "/no/such/video.mp4"], "/no/such/video.mp4"),
        (["--serve", "a:b:c"], "'a:b:c'"),
        (["--serve", "0.0.0.0:0"], "--serve-public"),
    ],
)
def test_bad_run_arguments_are_one_line(tmp_path, runtime_models, args, match):
    root = runtime_models.make_deploy(tmp_path / "d")
    (tmp_path / "DIR.mp4").mkdir()
    args = [str(tmp_path / "DIR.mp4") if a == "DIR" else a for a in args]
    assert_clean_failure(invoke("run", "--model", root, "--headless", "--max-frames", 2, *args), match=match)


HOLD = """
import sys, time
from b2v_edge.common.deploydir import writer_lock
with writer_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_at_once(tmp_path, calib_graphs):
    root = calib_graphs.make_deploy(tmp_path / "deploy", calib_graphs.build_graph("native"), "native")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = invoke("calibrate", root, "--samples", 4, "--quiet")
        assert_clean_failure(result, match=f"being written by another b2v-edge process (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    verify_deploy(root)


def test_train_into_a_file_fails_before_any_step(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    result = invoke("train", "--out", blocker, "--epochs", 1, "--epoch-steps", 1, "--crop", 32, "--batch", 1)
    assert_clean_failure(result, match="not a directory")
    assert "step 1" not in result.stdout


def test_a_nan_checkpoint_is_refused_before_anything_is_exported(tmp_path, runtime_models, tiny_checkpoints):
    from b2v_edge.checkpoint import load_checkpoint, save_checkpoint

    model = load_checkpoint(tiny_checkpoints[0]).model
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    nan_ckpt = save_checkpoint(tmp_path / "nan.pt", model, {})
    root = runtime_models.make_deploy(tmp_path / "deploy")
    contents = lambda: {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}  # noqa: E731
    before = contents()
    result = invoke("export", "--checkpoint", nan_ckpt, "--out", root, "--size", "64x64")
    assert_clean_failure(result, match="NaN/Inf")
    assert contents() == before  # the old files, byte for byte
    verify_deploy(root)
