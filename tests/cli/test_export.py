"""CLI: ``b2v-edge export``, ``lint`` and ``build-engine`` (exit codes and one-line errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_model import TINY
from typer.testing import CliRunner

from b2v_edge.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from b2v_edge.checkpoint import save_checkpoint
    from b2v_edge.model import build_model

    torch.manual_seed(0)
    model = build_model("lite", 3, **TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", model.eval())


@pytest.fixture(scope="module")
def exported(tmp_path_factory, checkpoint) -> Path:
    out = tmp_path_factory.mktemp("cli") / "deploy"
    result = runner.invoke(
        app,
        [
            "export",
            "--checkpoint",
            str(checkpoint),
            "--size",
            "64x64",
            "--precision",
            "fp32",
            "--out",
            str(out),
            "--triton",
            str(out.parent / "repo"),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_export_writes_a_deploy_dir(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert [a["path"] for a in manifest["artifacts"]] == ["model.onnx"]
    assert manifest["artifacts"][0]["target"] == "trt10" and manifest["artifacts"][0]["warp"] == "native"
    assert (exported.parent / "repo" / "b2v_lite_n3_onnx" / "config.pbtxt").exists()
    assert manifest["parity"]["reference_set"]["samples"] == 2 and (exported / "reference.npz").is_file()


@pytest.mark.parametrize(
    "args,match",
    [
        (["--size", "16x64"], "--size height must be an integer in 32..4096"),
        (["--size", "64x100000"], "--size width must be an integer"),
        (["--target", "trt9"], "unknown target"),
        (["--target", "trt8.0", "--precision", "int8"], "not available for trt8.0"),
        (["--target", "trt8.2", "--warp", "native"], "use --warp gather"),
        (["--dynamic", "--size", "100x64"], "multiples of 32"),
    ],
)
def test_export_bad_options(tmp_path, checkpoint, args, match):
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "--checkpoint", str(checkpoint), "--out", str(out), *args])
    assert match in _one_line_error(result)
    assert not out.exists()


def test_export_missing_and_corrupt_checkpoint(tmp_path):
    out = tmp_path / "out"
    assert "does not exist" in _one_line_error(
        runner.invoke(app, ["export", "--checkpoint", str(tmp_path / "no.pt"), "--out", str(out)])
    )
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert "corrupt" in _one_line_error(runner.invoke(app, ["export", "--checkpoint", str(bad), "--out", str(out)]))
    assert not out.exists()


def test_export_unwritable_out_dir(tmp_path, checkpoint):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["export", "--checkpoint", str(checkpoint), "--out", str(blocker / "deploy")])
    assert "not writable" in _one_line_error(result)


def test_lint_command(exported):
    ok = runner.invoke(app, ["lint", str(exported / "model.onnx"), "--target", "trt10"])
    assert ok.exit_code == 0 and "passes the trt10 lint" in ok.output
    bad = runner.invoke(app, ["lint", str(exported / "model.onnx"), "--target", "trt8.2"])
    assert bad.exit_code == 1
    assert (
        "node_grid_sample" in bad.output
        and "use --warp gather" in bad.output
        and "(and 10 more GridSample nodes)" in bad.output  # 5 FTN levels + 6 ITN scales
    )
    as_json = runner.invoke(app, ["lint", str(exported / "model.onnx"), "--target", "trt8.2", "--json"])
    assert '"passed": false' in as_json.output


def test_lint_bad_inputs(tmp_path):
    assert "does not exist" in _one_line_error(runner.invoke(app, ["lint", str(tmp_path / "x.onnx")]))
    junk = tmp_path / "junk.onnx"
    junk.write_text("hello")
    assert "not a readable ONNX model" in _one_line_error(runner.invoke(app, ["lint", str(junk)]))
    assert "unknown target" in _one_line_error(runner.invoke(app, ["lint", str(junk), "--target", "tpu"]))


def test_build_engine_without_tensorrt_prints_trtexec(exported, monkeypatch):
    import b2v_edge.export.trt_build as tb

    monkeypatch.setattr(tb, "find_tensorrt", lambda: None)
    result = runner.invoke(app, ["build-engine", str(exported), "--precision", "fp32"])
    assert "TensorRT is not installed" in _one_line_error(result, code=3)
    assert f"trtexec --onnx={exported}/model.onnx" in result.output
    assert not (exported / "model.fp32.plan").exists()


def test_cli_defaults_are_the_library_defaults():
    import inspect

    from b2v_edge.cli.export import build_engine_command, export_command
    from b2v_edge.export.options import ExportOptions
    from b2v_edge.export.trt_build import BuildOptions

    assert (
        inspect.signature(build_engine_command).parameters["workspace"].default.default == BuildOptions().workspace_mib
    )
    export_params = inspect.signature(export_command).parameters
    assert export_params["reference_samples"].default.default == ExportOptions().reference_samples


def test_build_engine_bad_inputs(tmp_path, exported):
    assert "no manifest.json" in _one_line_error(runner.invoke(app, ["build-engine", str(tmp_path)]))
    assert "1x3x256x256" in _one_line_error(runner.invoke(app, ["build-engine", str(exported), "--max-shape", "big"]))
    assert "unknown precision" in _one_line_error(
        runner.invoke(app, ["build-engine", str(exported), "--precision", "fp64"])
    )


def test_build_engine_for_a_precision_without_its_graph_names_the_export(exported, monkeypatch):
    """No trtexec line for a file that does not exist: say which export makes the graph."""
    import b2v_edge.export.trt_build as tb

    monkeypatch.setattr(tb, "find_tensorrt", lambda: None)
    result = runner.invoke(app, ["build-engine", str(exported), "--precision", "fp16"])
    line = _one_line_error(result)
    assert "no onnx artifact for fp16" in line and f"b2v-edge export --precision fp16 --out {exported}" in line
    assert "trtexec" not in result.output


def test_bad_options_are_refused_before_torch_is_imported():
    code = (
        "import sys\n"
        "from b2v_edge.cli.main import app\n"
        "try:\n"
        "    app(['export', '--size', '16x64', '--out', 'unused'], prog_name='b2v-edge')\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'torch' in sys.modules)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "exit 2 False", done.stdout + done.stderr
    assert "--size height must be an integer in 32..4096" in done.stderr
