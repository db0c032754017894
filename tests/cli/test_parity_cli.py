"""b2v_edge/cli/parity.py: `b2v-edge parity` and `b2v-edge bench` with CliRunner (exit code + output).

(Named test_parity_cli.py: tests/export/test_parity.py already owns the module name ``test_parity``.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from b2v_edge.cli.main import app
from b2v_edge.runtime.engines.openvino import available


@pytest.fixture
def deploy(tmp_path_factory, tmp_path, parity_helpers) -> Path:
    return Path(shutil.copytree(parity_helpers.shared_deploy(tmp_path_factory), tmp_path / "deploy"))


def invoke(*args):
    return CliRunner().invoke(app, [*map(str, args)])


# A child interpreter in which ``import torch`` fails, as on a device with only the base install.
NO_TORCH = """
import sys
sys.modules["torch"] = None
from b2v_edge.cli.main import app
from b2v_edge.runtime.engines.openvino import available
app(sys.argv[1:], prog_name="b2v-edge")
"""


def run_without_torch(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH, *map(str, args)], capture_output=True, text=True, timeout=600
    )


def test_parity_without_torch_uses_the_stored_reference_set(tmp_path_factory, tmp_path, parity_helpers):
    stored = Path(shutil.copytree(parity_helpers.shared_stored_deploy(tmp_path_factory), tmp_path / "stored"))
    r = run_without_torch("parity", stored, "--threads", 1)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "model.fp16.onnx" in r.stdout and "stored at export" in r.stdout
    reports = stored / "parity"
    assert {p.name for p in reports.iterdir()} == {"report.json", "report.md", "report.html"}
    data = json.loads((reports / "report.json").read_text())
    assert data["passed"] is True and data["reference"]["origin"] == "stored" and data["samples"] == 2
    assert data["summary_table"]["columns"][0] == "artifact" and len(data["summary_table"]["rows"]) == 2 + available()
    assert "stored at export" in (reports / "report.md").read_text()
    assert json.loads((stored / "manifest.json").read_text())["parity"]["reference_origin"] == "stored"


def test_parity_without_torch_or_reference_set_says_what_to_do(deploy):
    r = run_without_torch("parity", deploy)
    assert r.returncode == 2 and r.stderr.startswith("error: ")
    assert "has no reference set" in r.stderr and "b2v-edge[export]" in " ".join(r.stderr.split())
    r = run_without_torch("parity", deploy, "--data", "synthetic")
    assert r.returncode == 2 and "needs PyTorch" in r.stderr


def test_parity_passes_writes_reports_and_manifest(deploy, tmp_path):
    r = invoke("parity", deploy, "--samples", 2, "--threads", 1, "--out", tmp_path / "rep")
    assert r.exit_code == 0, r.output
    for text in ("model.onnx", "model.fp16.onnx", "pass", "report.html"):
        assert text in r.stdout
    assert {p.name for p in (tmp_path / "rep").iterdir()} == {"report.json", "report.md", "report.html"}
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["passed"] is True
    parity = json.loads((deploy / "manifest.json").read_text())["parity"]
    assert parity["passed"] is True and "export" in parity


def test_broken_artifact_exits_nonzero_naming_it_and_positions(deploy, parity_helpers):
    parity_helpers.break_artifact(deploy, "model.onnx")
    r = invoke("parity", deploy, "--samples", 2, "--threads", 1, "--no-ssim")
    assert r.exit_code == 1, r.output
    err = " ".join(r.stderr.split())
    assert err.startswith("error: parity failed: model.onnx (fp32):") and "at frame positions" in err
    assert "model.fp16.onnx" not in err  # the intact artifact is not blamed
    assert (deploy / "parity" / "report.html").exists()  # reports are written for failures too
    assert json.loads((deploy / "manifest.json").read_text())["parity"]["passed"] is False


def test_parity_threshold_override_and_bad_flags(deploy):
    r = invoke("parity", deploy, "--samples", 1, "--threads", 1, "--no-ssim", "--fail-under", "fp16=200")
    assert r.exit_code == 1 and "model.fp16.onnx (fp16)" in r.stderr and "frame positions 1, 2, 3" in r.stderr
    for args, match in (
        (["--fail-under", "fp16"], "PRECISION=dB"),
        (["--samples", "0"], "--samples"),
        (["--data", "nope"], "unknown kind"),
    ):
        r = invoke("parity", deploy, *args)
        assert r.exit_code == 2 and r.stderr.startswith("error: ") and match in r.stderr, r.output
    r = invoke("parity", deploy, "--size", "64x")  # a usage error, reported by the parser
    assert r.exit_code == 2 and "expected HxW" in r.output
    r = invoke("parity", deploy.parent / "missing")
    assert r.exit_code == 2 and "no manifest.json" in r.stderr


def test_bench_json(deploy):
    r = invoke(
        "bench",
        deploy,
        "--size",
        "96x96",
        "--runs",
        1,
        "--warmup",
        0,
        "--samples",
        1,
        "--stream-frames",
        0,
        "--no-warp-compare",
        "--no-isolate",
        "--threads",
        1,
        "--json",
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [row["label"] for row in data["rows"]] == ["PyTorch eager", "ORT fp32", "OpenVINO fp32", "ORT fp16"]
    assert data["rows"][0]["median_ms"] > 0 and data["rows"][1]["skipped"] == "artifact is static 64x64"
    assert data["options"]["isolate"] is False and data["gflops"]["96x96"] > 0


def test_bench_table_and_bad_sizes(deploy):
    r = invoke(
        "bench",
        deploy,
        "--runs",
        1,
        "--warmup",
        0,
        "--samples",
        1,
        "--stream-frames",
        0,
        "--no-warp-compare",
        "--no-isolate",
        "--threads",
        1,
    )
    assert r.exit_code == 0, r.output
    for text in ("b2v-edge bench", "PyTorch eager", "ORT fp16", "median ms", "95% CI", "speed-up", "interleaved"):
        assert text in r.stdout
    assert "goal" not in r.stdout and " met" not in r.stdout  # the bench measures, it judges nothing
    assert max(len(line) for line in r.stdout.splitlines()) <= 80 and "…" not in r.stdout
    r = invoke("bench", deploy, "--size", "64x")
    assert r.exit_code == 2 and "expected HxW" in r.output
    r = invoke("bench", deploy, "--format", "html")
    assert r.exit_code == 2 and "--format must be one of table, md, json" in r.stderr


def test_help_lists_both_commands():
    r = invoke("--help")
    assert r.exit_code == 0 and "parity" in r.stdout and "bench" in r.stdout


def test_cli_defaults_match_the_library():
    import inspect

    from b2v_edge.cli.parity import bench_cmd, parity_cmd
    from b2v_edge.verify.bench import BenchOptions
    from b2v_edge.verify.parity import ParityOptions

    def default(param):  # typer.Option(...) as default, or an Annotated parameter's plain default
        return getattr(param.default, "default", param.default)

    params = inspect.signature(parity_cmd).parameters
    for name in ("samples", "data", "backend", "checkpoint"):
        assert default(params[name]) == ParityOptions.__dataclass_fields__[name].default, name
    bench = inspect.signature(bench_cmd).parameters
    for name in ("runs", "warmup", "rounds", "samples", "stream_frames", "data", "checkpoint"):
        assert default(bench[name]) == BenchOptions.__dataclass_fields__[name].default, name


def test_bench_takes_the_checkpoint_its_mismatch_error_asks_for(deploy, tmp_path):
    """A deploy dir made elsewhere: the wrong checkpoint is refused with a hint that bench accepts."""
    from b2v_edge.checkpoint import resolve_checkpoint

    exported = resolve_checkpoint(json.loads((deploy / "manifest.json").read_text())["model"]["checkpoint"])
    args = ["--runs", 1, "--warmup", 0, "--samples", 1, "--stream-frames", 0, "--no-warp-compare", "--no-isolate"]
    r = invoke("bench", deploy, *args, "--threads", 1, "--checkpoint", "demo")
    assert r.exit_code == 2 and "is not the checkpoint exported" in r.stderr and "--checkpoint" in r.stderr, r.output
    moved = Path(shutil.copy(exported, tmp_path / "moved.pt"))
    r = invoke("bench", deploy, *args, "--threads", 1, "--checkpoint", moved, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"][0]["label"] == "PyTorch eager"


def test_bench_exits_non_zero_when_a_row_fails(deploy):
    (deploy / "model.onnx").write_bytes(b"truncated")
    (deploy / "model.fp16.onnx").write_bytes(b"truncated")
    args = ["--runs", 1, "--warmup", 0, "--samples", 1, "--stream-frames", 0, "--no-warp-compare", "--no-isolate"]
    r = invoke("bench", deploy, *args, "--threads", 1, "--json")
    assert r.exit_code == 1, r.output
    assert json.loads(r.stdout)["rows"][1]["skipped"].startswith("failed: ")  # the report is still printed
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and re.match(r"error: \d+ of \d+ bench rows failed \(ORT fp32: failed: ", lines[0]), lines
