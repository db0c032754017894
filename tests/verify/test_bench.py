"""b2v_edge/verify/bench.py + bench_measure.py on a tiny real deploy dir (no timing assertions: CI machines vary)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import parity_helpers as H  # tests/verify is on sys.path (pytest rootdir-relative import)
import pytest

from b2v_edge.runtime import EngineError
from b2v_edge.verify.bench import BenchError, BenchOptions, BenchRow, TorchEngine, _ratios, parse_sizes, run_bench
from b2v_edge.verify.bench_measure import Job, measure_gemm, measure_row, model_gflops
from b2v_edge.verify.render import render_bench_markdown


@pytest.fixture(scope="session")
def deploy(tmp_path_factory) -> Path:
    return H.shared_deploy(tmp_path_factory)  # read-only here


def _opts(deploy: Path, **kw) -> BenchOptions:
    base = dict(
        runs=2, warmup=1, samples=2, stream_frames=3, warp_compare=False, isolate=False, threads=1, gemm_size=128
    )
    base.update(kw)
    return BenchOptions(deploy, **base)


def test_parse_sizes_and_options(deploy):
    assert parse_sizes("256x256, 320X480") == ((256, 256), (320, 480)) and parse_sizes("") == ()
    for bad in ("256", "16x16", "ax4", "256x"):
        with pytest.raises(BenchError, match="--sizes"):
            parse_sizes(bad)
    for kw, match in (
        ({"runs": 0}, "--runs"),
        ({"warmup": -1}, "--warmup"),
        ({"samples": 0}, "--samples"),
        ({"stream_frames": -2}, "--stream-frames"),
        ({"threads": -1}, "--threads"),
        ({"runs": 1.5}, "--runs"),
    ):
        with pytest.raises(BenchError, match=match):
            BenchOptions(deploy, **kw)


def test_table_rows_in_process(deploy):
    report = run_bench(_opts(deploy))
    labels = [r.label for r in report.rows]
    assert labels == ["PyTorch eager", "ORT fp32", "ORT fp16"]
    for row in report.rows:
        assert not row.skipped and len(row.latencies_ms) == 2 and row.median_ms > 0 and row.p90_ms >= row.median_ms
        assert row.fps == pytest.approx(1000 / row.median_ms) and row.file_mb > 0 and row.peak_mb > 0
        assert row.psnr_gt is not None and row.stream_fps > 0 and row.gflops_per_s > 0 and row.ceiling_fraction > 0
    torch_row, fp32, fp16 = report.rows
    assert torch_row.psnr_torch is None and fp32.psnr_torch >= 60 and 40 <= fp16.psnr_torch < fp32.psnr_torch
    assert abs(fp32.psnr_gt - torch_row.psnr_gt) < 0.01 and torch_row.provider == "eager"
    assert set(report.gflops) == {"64x64"} and 0 < report.gflops["64x64"] < 1 and report.gemm_gflops > 0
    names = [r.name for r in report.ratios]
    assert names[0] == "ORT fp32 speed-up over PyTorch eager" and report.ratios[0].value > 0
    assert report.ratios[1].value is None and report.ratios[1].met is None  # no int8 artifact here
    assert any("one process" in n for n in report.notes)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["schema_version"] == 1 and data["rows"][1]["median_ms"] == fp32.median_ms
    assert "| 64x64 | ORT fp16 |" in render_bench_markdown(report)


def test_other_size_skips_static_artifacts(deploy):
    report = run_bench(_opts(deploy, sizes=((96, 96),), stream_frames=0, samples=1))
    torch_row, fp32, fp16 = report.rows
    assert torch_row.size == (96, 96) and torch_row.median_ms > 0 and torch_row.stream_fps is None
    assert fp32.skipped == "artifact is static 64x64" and fp16.skipped and fp32.median_ms is None


def test_isolated_row_reports_its_own_peak_memory(deploy):
    inputs = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    from b2v_edge.verify.bench_measure import run_job

    res = run_job(Job("onnx", str(deploy / "model.onnx"), (64, 64), inputs, 1, 0, 1, None, 0), isolate=True)
    assert res["outputs"][0].shape == (3, 3, 64, 64) and len(res["latencies_ms"]) == 1
    assert res["provider"] == "CPUExecutionProvider" and 0 < res["peak_mb"] and res["stream_fps"] is None


def test_torch_engine_and_measurements(deploy):
    ckpt = str(deploy.parent / f"{deploy.name}-tiny.pt")
    with TorchEngine(ckpt, (64, 64), threads=1) as engine:
        out = engine.infer(np.zeros((1, 3, 64, 64), np.float32))
        assert out.shape == (1, 3, 3, 64, 64) and engine.spec.label == "pytorch/eager fp32"
        with pytest.raises(EngineError, match="does not match"):
            engine.infer(np.zeros((1, 3, 32, 32), np.float32))
    res = measure_row(Job("torch", ckpt, (64, 64), np.zeros((2, 3, 64, 64), np.float32), 1, 0, 1, None, 0))
    assert len(res["outputs"]) == 2 and res["provider"] == "eager"
    assert measure_gemm(64, repeats=1, threads=1) > 0
    assert model_gflops(engine.model, (64, 64)) > 0


def test_failed_row_is_recorded_not_raised(deploy, tmp_path):
    broken = Path(shutil.copytree(deploy, tmp_path / "d"))
    (broken / "model.fp16.onnx").write_bytes(b"garbage")
    report = run_bench(_opts(broken, stream_frames=0, samples=1))
    fp16 = next(r for r in report.rows if r.precision == "fp16")
    assert fp16.skipped.startswith("failed: ") and "does not match the manifest" in fp16.skipped
    assert next(r for r in report.rows if r.label == "ORT fp32").median_ms > 0


def _row(label: str, kind: str, precision: str, warp: str, ms: float) -> BenchRow:
    return BenchRow(label, kind, precision, warp, (64, 64), latencies_ms=[ms])


def test_goal_ratios():
    rows = [
        _row("PyTorch eager", "torch", "fp32", "-", 300.0),
        _row("ORT fp32", "onnx", "fp32", "gather", 100.0),
        _row("ORT int8", "onnx", "int8", "gather", 80.0),
        _row("ORT fp32 (native warp)", "onnx", "fp32", "native", 125.0),
    ]
    speed, int8, warp = _ratios(rows, (64, 64))
    assert (speed.value, speed.met) == (3.0, True) and (int8.value, int8.met) == (1.25, False)
    assert (warp.value, warp.met) == (0.8, True) and warp.goal == "≤ 1.2"
