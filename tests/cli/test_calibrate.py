"""``b2v-edge calibrate`` through typer's CliRunner: exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from b2v_edge.cli.main import app

runner = CliRunner()


@pytest.fixture
def deploy(tmp_path, calib_graphs) -> Path:
    graphs = calib_graphs
    return graphs.make_deploy(tmp_path / "deploy", graphs.build_graph("native"), "native", target="trt8.6")


def _invoke(*args: str):
    result = runner.invoke(app, ["calibrate", *args])
    result.text = " ".join(result.output.split())  # rich wraps at the terminal width
    return result


def test_calibrate_writes_int8_and_reports(deploy, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = _invoke(str(deploy), "--samples", "8", "--eval-samples", "1", "--quiet")
    assert result.exit_code == 0, result.output
    for text in (
        "kept in float",
        "INT8 vs FP32",
        "model.int8.onnx",
        "calibration.cache",
        "blur_px",
        "per-frame-position PSNR dB, mean over 1 input(s)",
        "FP32 vs GT",
        "INT8 vs GT",
        "GT drop",
    ):
        assert text in result.text
    assert (deploy / "calibration.cache").read_text().startswith("TRT-8602-EntropyCalibration2")
    again = _invoke(str(deploy), "--samples", "8", "--eval-samples", "1", "--quiet")
    assert again.exit_code == 0 and "(cached ranges)" in again.text


def test_onnxruntime_target_states_the_recommendation(deploy, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = _invoke(str(deploy), "--samples", "8", "--eval-samples", "1", "--quiet", "--target", "onnxruntime")
    assert result.exit_code == 0, result.output
    assert "recommended:" in result.text and "model.int8.cpu.onnx" in result.text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "webcam"], "unknown kind 'webcam'"),
        (["--data", "images:/no/such/dir"], "no such folder"),
        (["--method", "kl"], "method must be one of"),
        (["--samples", "0"], "samples must be >= 1"),
        (["--camera", "0", "--data", "video:x.mp4"], "either --camera or --data"),
        (["--quantizer", "modelopt", "--method", "percentile"], "--quantizer modelopt supports"),
        (["--target", "trt9"], "target must be one of"),
    ],
)
def test_bad_input_is_one_line_error(deploy, args, message):
    result = _invoke(str(deploy), "--quiet", *args)
    assert result.exit_code == 2
    assert message in result.text and "Traceback" not in result.output


def test_deploy_dir_without_manifest(tmp_path):
    result = _invoke(str(tmp_path), "--quiet")
    assert result.exit_code == 2 and "no manifest.json" in result.text and "b2v-edge export" in result.text
