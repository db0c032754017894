"""b2v_edge/cli/run.py: `b2v-edge run` end to end with CliRunner (exit code + output)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from b2v_edge.cli import run as run_cli
from b2v_edge.cli.main import app


@pytest.fixture
def models(runtime_models):
    return runtime_models


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Fresh machine: no display, empty cache, cwd without ./deploy."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # a package installed without the shipped demo deploy dir (tests of the cache fallback)
    monkeypatch.setattr(run_cli, "shipped_demo_dir", lambda: tmp_path / "no-shipped-demo")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(app, ["run", *map(str, args)])


def _one_line_error(result, match):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], result.stderr


def test_headless_video_to_mp4_prints_summary(env, models):
    deploy = models.make_deploy(env / "d")
    video = models.write_video(env / "clip.avi", frames=10)
    r = invoke("--model", deploy, "--source", video, "--headless", "--output", env / "out.mp4", "--show", "sequence")
    assert r.exit_code == 0, r.output
    for text in ("b2v-edge run", "10 processed", "end of source", "h264, 64x48, 30 frames)", "infer", "throughput"):
        assert text in r.stdout
    assert (env / "out.mp4").exists()


def test_defaults_use_the_demo_synthetic_and_fall_back_to_headless(env, models, monkeypatch):
    demo = models.make_deploy(env / "shipped-demo", n=5)
    monkeypatch.setattr(run_cli, "shipped_demo_dir", lambda: demo)
    models.make_deploy(env / "deploy", n=3)  # an untrusted ./deploy in the working directory
    r = invoke("--max-frames", 3, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["source"] == "synthetic" and summary["frames_processed"] == 3
    assert summary["frames_per_input"] == 5 and summary["model_path"].startswith(str(demo))  # not ./deploy
    assert "notice: no display found" in r.stderr
    assert "pass --model deploy to run ./deploy" in r.stderr


def test_no_model_and_no_export_is_one_line_error(env, monkeypatch):
    monkeypatch.setitem(sys.modules, "b2v_edge.export.api", None)
    _one_line_error(invoke(), "b2v-edge[export]")


def test_demo_model_is_built_once_via_export_default(env, models, monkeypatch):
    built = []

    def export_default(out_dir):
        built.append(Path(out_dir))
        models.make_deploy(Path(out_dir), precisions=("fp32",))

    monkeypatch.setitem(sys.modules, "b2v_edge.export.api", types.SimpleNamespace(export_default=export_default))
    r = invoke("--max-frames", 2)
    assert r.exit_code == 0, r.output
    demo = env / "cache" / "b2v-edge" / "demo-deploy"
    assert built == [demo] and "building the demo model" in r.stderr
    assert invoke("--max-frames", 1).exit_code == 0 and len(built) == 1  # cached
    assert run_cli.default_model() == demo


def test_demo_build_failure_is_one_line(env, monkeypatch):
    def export_default(out_dir):
        raise RuntimeError("checkpoint missing")

    monkeypatch.setitem(sys.modules, "b2v_edge.export.api", types.SimpleNamespace(export_default=export_default))
    r = invoke()
    assert r.exit_code == 2 and "building the demo model failed (checkpoint missing)" in r.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (["--camera", "7"], "camera 7 could not be opened"),
        (["--source", "missing.mp4"], "source not found"),
        (["--source", "ftp://x"], "unknown source scheme"),
        (["--camera", "0", "--source", "synthetic"], "either --camera or --source"),
        (["--show", "movie"], "--show must be one of"),
        (["--backend", "tflite"], "--backend must be one of"),
        (["--output", "out.gif"], "must end with .mp4 or .avi"),
        (["--serve", "0.0.0.0:8080"], "--serve-public"),
        (["--backend", "tensorrt"], "no tensorrt_plan artifact"),
    ],
)
def test_bad_input_one_line_errors(env, models, args, match):
    deploy = models.make_deploy(env / "d")
    _one_line_error(invoke("--model", deploy, "--headless", *args), match)


def test_deploy_problems_are_one_line_errors(env, models):
    empty = env / "empty"
    empty.mkdir()
    _one_line_error(invoke("--model", empty, "--headless"), "no manifest.json")
    from b2v_edge.common.manifest import Manifest

    Manifest(root=empty).save()
    _one_line_error(invoke("--model", empty, "--headless"), "has no onnx artifact")
    deploy = models.make_deploy(env / "d")
    (deploy / "model.onnx").write_bytes(b"changed")
    _one_line_error(invoke("--model", deploy, "--headless", "--precision", "fp32"), "does not match the manifest")
    bad = env / "bad.avi"
    bad.write_bytes(b"\x00" * 32)
    _one_line_error(invoke("--model", models.make_deploy(env / "d2"), "--headless", "--source", bad), "bad.avi")


def test_plan_for_other_tensorrt_is_refused_with_rebuild_command(env, models, monkeypatch):
    deploy = models.make_deploy(env / "d")
    models.add_plan(deploy, trt_version="8.6.2")
    from b2v_edge.runtime.engines import trt as engine_trt

    monkeypatch.setattr(engine_trt, "device_info", lambda cuda=None: ("10.3.0", "8.7", "Orin"))
    _one_line_error(invoke("--model", deploy, "--headless", "--backend", "tensorrt"), "b2v-edge build-engine")


def test_nan_output_is_reported_and_counted(env, models):
    deploy = models.make_deploy(env / "nan", precisions=("fp32",), nan=True)
    r = invoke("--model", deploy, "--headless", "--max-frames", 5)
    assert r.exit_code == 2 and "10 consecutive frames gave NaN/Inf" in r.stderr
    assert "notice:" in r.stderr and "frame skipped" in r.stderr
    assert "try --precision fp32" not in r.stderr and "the model itself is broken" in r.stderr  # it is fp32


# ---- full resolution in, H.264 out (the user's path) ---------------------------------------------------
def _probe(path):
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return ctx.name, ctx.width, ctx.height, sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize(
    "size, graph, layout",
    [
        ((360, 640), dict(h=64, w=96), "overlapping 64x96 tiles"),  # static graph: tiles
        ((720, 1280), dict(h="H", w="W"), "one pass, padded to 736x1280 (dynamic graph)"),  # dynamic: one pass
    ],
)
def test_clip_in_h264_out_same_size_and_frame_count(env, models, size, graph, layout):
    deploy = models.make_deploy(env / "d", precisions=("fp32",), **graph)
    clip = models.write_video(env / "clip.mp4", frames=6, h=size[0], w=size[1])
    r = invoke("--model", deploy, "--source", clip, "--output", env / "out.mp4", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["frames_processed"] == 6 and summary["frames_written"] == 6 and layout in summary["layout"]
    assert summary["policy"].startswith("every frame")
    assert _probe(env / "out.mp4") == ("h264", size[1], size[0], 6)


def test_status_lines_in_logs(env, models):
    deploy = models.make_deploy(env / "d")
    r = invoke("--model", deploy, "--headless", "--max-frames", 4, "--status-every", "1e-9")
    assert r.exit_code == 0, r.output
    assert "run: frame 4/4" in r.stderr and "FPS" in r.stderr and "latency" in r.stderr


def test_readme_sequence_example_is_finalised_by_sigterm(tmp_path):
    """`b2v-edge run --headless --output out.mp4 --show sequence` runs until stopped; SIGTERM finishes the file."""
    import os
    import signal
    import subprocess
    import time

    exe = Path(sys.executable).with_name("b2v-edge")
    cmd = [str(exe), "run", "--headless", "--output", "out.mp4", "--show", "sequence", "--json"]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.*.partial.mp4")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)  # poll for the first written frame (bounded by a generous deadline)
        assert list(tmp_path.glob(".out.*.partial.mp4")), "no frame was written"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stop_reason"] == "terminated (SIGTERM)" and summary["frames_written"] >= 7
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mp4") == ["out.mp4"]
    assert _probe(tmp_path / "out.mp4") == ("h264", 256, 256, summary["frames_written"])


def test_status_printer_keeps_one_live_line_on_a_terminal_and_prints_lines_in_logs():
    import io

    from rich.console import Console

    from b2v_edge.runtime.stats import RunStatus

    status = RunStatus(frames=3, fps=7.5, latency_ms=140, infer_ms=120, dropped=2, failed=0, elapsed_s=1.0, total=10)
    tty = io.StringIO()
    with run_cli.StatusPrinter(Console(file=tty, force_terminal=True, width=100), every=5.0) as printer:
        printer(status)
        assert printer._live is not None  # a live line, redrawn in place
    assert "frame 3/10" in tty.getvalue() and "dropped 2" in tty.getvalue()
    log = io.StringIO()
    with run_cli.StatusPrinter(Console(file=log, force_terminal=False, width=100), every=0.0) as printer:
        printer(status)  # every=0: no plain lines at all
    assert log.getvalue() == ""
    with run_cli.StatusPrinter(Console(file=log, force_terminal=False, width=100), every=1e-9) as printer:
        printer(status)
        printer(status)
    assert log.getvalue().count("run: frame 3/10  7.5 FPS  latency 140 ms  infer 120 ms  dropped 2") == 2


def test_error_text_is_printed_verbatim_not_as_emoji(env, models):
    deploy = models.make_deploy(env / "d")
    r = invoke("--model", deploy, "--serve", "a:b:c", "--max-frames", 1, "--headless")
    _one_line_error(r, "'a:b:c'")


def test_an_empty_source_is_an_error_not_the_synthetic_stream(env, models):
    _one_line_error(invoke("--model", models.make_deploy(env / "d"), "--source", "", "--headless"), "--source is empty")


def test_missing_int8_of_the_shipped_demo_never_suggests_writing_into_the_package(env):
    import importlib.resources

    demo = Path(str(importlib.resources.files("b2v_edge.weights").joinpath("demo")))
    r = invoke("--model", demo, "--precision", "int8", "--headless", "--max-frames", 1)
    _one_line_error(r, "--out deploy")
    assert "site-packages" not in r.stderr and str(demo) not in r.stderr.split("run `")[-1]
