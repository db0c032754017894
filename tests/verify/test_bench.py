"""b2v_edge/verify/bench.py + bench_measure.py on a tiny real deploy dir (no timing assertions: CI machines vary)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import parity_helpers as H  # tests/verify is on sys.path (pytest rootdir-relative import)
import pytest

from b2v_edge.runtime import EngineError
from b2v_edge.runtime.engines import openvino as ov_engine
from b2v_edge.verify import bench
from b2v_edge.verify.bench import (
    MAX_UNCERTAINTY,
    BenchError,
    BenchOptions,
    BenchRow,
    TorchEngine,
    parse_sizes,
    run_bench,
)
from b2v_edge.verify.bench_measure import Job, RowSession, available_cores, measure_gemm, measure_row, model_gflops
from b2v_edge.verify.bench_report import median_ci, ratios
from b2v_edge.verify.render import render_bench_markdown


@pytest.fixture(scope="session")
def deploy(tmp_path_factory) -> Path:
    return H.shared_deploy(tmp_path_factory)  # read-only here


def _opts(deploy: Path, **kw) -> BenchOptions:
    base = dict(
        runs=2,
        rounds=2,
        warmup=1,
        samples=2,
        stream_frames=3,
        warp_compare=False,
        isolate=False,
        threads=1,
        gemm_size=128,
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
        ({"threads": 0}, "--threads"),
        ({"rounds": 0}, "--rounds"),
        ({"runs": 1.5}, "--runs"),
    ):
        with pytest.raises(BenchError, match=match):
            BenchOptions(deploy, **kw)
    fixed = BenchOptions(deploy, runs=3)
    assert fixed.threads == available_cores() >= 1 and fixed.rounds == 3  # never more rounds than runs


def test_table_rows_in_process(deploy):
    report = run_bench(_opts(deploy))
    labels = [r.label for r in report.rows]
    assert labels == ["PyTorch eager", "ORT fp32", "OpenVINO fp32", "ORT fp16"]
    openvino = report.rows.pop(2)
    if not ov_engine.available():
        assert "pip install 'b2v-edge[openvino]'" in openvino.skipped and openvino.median_ms is None
    else:
        assert not openvino.skipped and openvino.psnr_torch >= 60 and "OpenVINO" in openvino.provider
        assert openvino.warp == report.rows[1].warp and openvino.path.endswith("model.onnx") and openvino.median_ms > 0
        assert report.ratios[3].name == "OpenVINO fp32 speed-up over ORT fp32"
        assert report.ratios[3].value or "not trusted" in report.ratios[3].note
    for row in report.rows:
        assert not row.skipped and len(row.latencies_ms) == 2 and row.median_ms > 0 and row.p90_ms >= row.median_ms
        assert len(row.round_medians_ms) == 2 and row.round_spread is not None  # 2 rounds of 1 run
        assert row.fps == pytest.approx(1000 / row.median_ms) and row.file_mb > 0 and row.peak_mb > 0
        assert row.psnr_gt is not None and row.stream_fps > 0 and row.gflops_per_s > 0 and row.ceiling_fraction > 0
    torch_row, fp32, fp16 = report.rows
    assert torch_row.psnr_torch is None and fp32.psnr_torch >= 60 and 40 <= fp16.psnr_torch < fp32.psnr_torch
    assert abs(fp32.psnr_gt - torch_row.psnr_gt) < 0.01 and torch_row.provider == "eager"
    assert set(report.gflops) == {"64x64"} and 0 < report.gflops["64x64"] < 1 and report.gemm_gflops > 0
    names = [r.name for r in report.ratios]
    assert names[0] == "ORT fp32 speed-up over PyTorch eager"
    assert report.ratios[0].value or "not trusted" in report.ratios[0].note  # a busy CI box may flag a row
    assert report.ratios[1].value is None and "not measured" in report.ratios[1].note  # no int8 artifact here
    assert any("one process" in n for n in report.notes)
    assert report.notes[0].startswith(
        "2 interleaved rounds x 1 timed runs per row after 1 warm-up runs and 1 untimed round(s), each row's first 1 run(s)"
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["schema_version"] == 3 and data["rows"][1]["median_ms"] == fp32.median_ms
    assert {"unstable", "uncertainty", "median_ci_ms", "round_spread"} <= set(data["rows"][1])
    assert data["rows"][1]["uncertainty"] is None and "goal" not in json.dumps(data)  # 2 runs cannot bound a median
    assert "| 64x64 | ORT fp16 |" in render_bench_markdown(report)


def test_other_size_skips_static_artifacts(deploy):
    report = run_bench(_opts(deploy, sizes=((96, 96),), stream_frames=0, samples=1))
    torch_row, fp32, openvino, fp16 = report.rows
    assert openvino.skipped == "artifact is static 64x64"
    assert torch_row.size == (96, 96) and torch_row.median_ms > 0 and torch_row.stream_fps is None
    assert fp32.skipped == "artifact is static 64x64" and fp16.skipped and fp32.median_ms is None


def test_isolated_row_session_stays_open_across_rounds(deploy):
    inputs = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    session = RowSession(Job("onnx", str(deploy / "model.onnx"), (64, 64), inputs, 1, 0, 1, None, 0), isolate=True)
    started = session.start()
    assert started["outputs"][0].shape == (3, 3, 64, 64) and started["provider"] == "CPUExecutionProvider"
    assert [len(session.time(n)) for n in (2, 1, 3)] == [2, 1, 3]  # the same open engine, round after round
    finished = session.finish()
    assert 0 < finished["peak_mb"] and finished["stream_fps"] is None
    broken = RowSession(Job("onnx", str(deploy / "nope.onnx"), (64, 64), inputs, 1, 0, 1, None, 0), isolate=True)
    with pytest.raises(RuntimeError, match="does not exist"):
        broken.start()  # the row's own one-line error, raised in the parent
    broken.close()
    left = RowSession(Job("onnx", str(deploy / "model.onnx"), (64, 64), inputs, 1, 0, 1, None, 0), isolate=True)
    left.start()
    proc = left._proc
    left.close()  # closed without finish: the row process ends cleanly, not with an EOFError traceback
    assert proc.exitcode == 0


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


def _row(label: str, kind: str, precision: str, warp: str, ms: float, factors=(1.0,) * 20) -> BenchRow:
    return BenchRow(label, kind, precision, warp, (64, 64), latencies_ms=[ms * f for f in factors])


def test_ratios_are_measurements_and_never_come_from_an_unstable_row():
    rows = [
        _row("PyTorch eager", "torch", "fp32", "-", 300.0),
        _row("ORT fp32", "onnx", "fp32", "gather", 100.0),
        _row("ORT int8", "onnx", "int8", "gather", 80.0),
        _row("ORT fp32 (native warp)", "onnx", "fp32", "native", 125.0),
    ]
    speed, int8, warp, openvino = ratios(rows, (64, 64))
    assert openvino.value is None and "not measured" in openvino.note
    assert (speed.value, speed.note) == (3.0, "medians 300.0 / 100.0 ms")
    assert int8.value == 1.25 and warp.value == 0.8 and not hasattr(speed, "goal")
    wild = (0.42,) * 10 + (36.0,) * 10  # 126 ms .. 10.8 s: half the runs in a slow phase
    rows[0] = _row("PyTorch eager", "torch", "fp32", "-", 300.0, factors=wild)
    assert rows[0].unstable and rows[0].uncertainty > MAX_UNCERTAINTY
    speed = ratios(rows, (64, 64))[0]
    assert speed.value is None and "not trusted: PyTorch eager's median is only known to +-" in speed.note
    # a few outliers leave the median well known: 18 runs at 100 ms +- 5 %, two at 10 s
    factors = (0.95,) * 9 + (1.0,) * 2 + (1.05,) * 7 + (100.0,) * 2
    steady = _row("ORT fp32", "onnx", "fp32", "gather", 100.0, factors=factors)
    assert not steady.unstable and steady.uncertainty == pytest.approx(0.05)


def test_median_ci_is_the_order_statistic_interval_and_needs_six_values():
    assert median_ci(list(range(1, 21))) == (6.0, 15.0)  # n=20: 6th smallest .. 6th largest
    assert median_ci(list(range(1, 7))) == (1.0, 6.0)  # n=6 is the least that bounds the median at 95 %
    assert median_ci(list(range(1, 6))) is None
    # a slow climb over the run (which the interleaved rounds share among all rows) leaves the median known
    drift = [100.0 + i for i in range(30)]
    assert median_ci(drift) == (109.0, 120.0)
    assert not BenchRow("x", "onnx", "fp32", "-", (8, 8), latencies_ms=drift).unstable
    assert BenchRow("x", "onnx", "fp32", "-", (8, 8), latencies_ms=[1.0] * 3).uncertainty is None


class _Recorder:
    """A stand-in session that records the order rows are timed in; ``fail_at`` = round it breaks in."""

    def __init__(self, name, log, fail_at=None, first_ms=10.0):
        self.name, self.log, self.fail_at, self.calls, self.first_ms = name, log, fail_at, 0, first_ms

    def time(self, runs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("device lost")
        self.log.append(self.name)
        return [self.first_ms if self.calls == 1 else 10.0] * runs


def test_rounds_interleave_rows_in_rotating_order_and_drop_a_failed_row():
    log = []
    names = ("A", "B", "C")
    opened = [(BenchRow(n, "onnx", "fp32", "-", (8, 8)), _Recorder(n, log, 2 if n == "C" else None), []) for n in names]
    options = BenchOptions("deploy", runs=7, rounds=3, settle_rounds=0, slot_warmup=0, threads=1)
    bench._time_rounds(opened, options, lambda *_: None, 0, 12)
    assert log == ["A", "B", "C", "B", "A", "A", "B"]  # round 2 starts one later; C failed there and is out
    a, b, c = (row for row, _, _ in opened)
    assert len(a.latencies_ms) == 9 and a.round_medians_ms == [10.0] * 3  # ceil(7 / 3) runs per round
    assert c.skipped == "failed: device lost" and len(c.latencies_ms) == 3


def test_settling_round_runs_every_row_untimed_before_the_timed_rounds():
    log, said = [], []
    opened = [(BenchRow(n, "onnx", "fp32", "-", (8, 8)), _Recorder(n, log, first_ms=500.0), []) for n in "AB"]
    options = BenchOptions("deploy", runs=4, rounds=2, slot_warmup=0, threads=1)
    assert options.settle_rounds == 1
    bench._time_rounds(opened, options, lambda msg, *_: said.append(msg), 0, 8)
    assert log == ["A", "B", "B", "A", "A", "B"]  # the settling round, then two timed rounds, rotating on
    assert said[0].startswith("settling round: A") and said[2].startswith("round 1/2: B")
    for row, _, _ in opened:  # the slow first call (the settling round) is not in the latencies
        assert row.latencies_ms == [10.0] * 4 and row.round_medians_ms == [10.0, 10.0]
    with pytest.raises(BenchError, match="--settle-rounds must be an integer >= 0"):
        BenchOptions("deploy", settle_rounds=-1, threads=1)


class _Cold:
    """A stand-in session whose first run of every call is slow (caches refilled), the rest 10 ms."""

    def __init__(self):
        self.asked = []

    def time(self, runs):
        self.asked.append(runs)
        return [50.0] + [10.0] * (runs - 1)


def test_each_rounds_first_run_of_a_row_is_untimed():
    opened = [(BenchRow(n, "onnx", "fp32", "-", (8, 8)), _Cold(), []) for n in "AB"]
    bench._time_rounds(opened, BenchOptions("deploy", runs=6, rounds=2, threads=1), lambda *_: None, 0, 6)
    for row, session, _ in opened:
        assert session.asked == [4, 4, 4]  # settling round + 2 timed rounds, each 1 untimed + 3 timed runs
        assert row.latencies_ms == [10.0] * 6
    with pytest.raises(BenchError, match="--slot-warmup must be an integer >= 0"):
        BenchOptions("deploy", slot_warmup=-1, threads=1)


def test_median_ci_docstring_examples_hold():
    import doctest

    from b2v_edge.verify import bench_report

    result = doctest.testmod(bench_report)
    assert result.attempted >= 2 and result.failed == 0
