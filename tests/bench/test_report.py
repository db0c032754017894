"""bench/report.py: every bench table in bench/results.md and README.md is what the committed raw JSON gives."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report_script", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_block_and_results_come_from_the_committed_json(report):
    raw = report.load_raw(ROOT / "bench" / "raw")
    assert "nodes" in raw  # node counts are deterministic and committed
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(report.BEGIN + "\n", 1)[1].split("\n" + report.END, 1)[0]
    assert block == report.readme_block(raw)
    assert (ROOT / "bench" / "results.md").read_text(encoding="utf-8") == report.results(raw)


def test_node_table_is_computed_from_the_counts(report):
    graphs = [
        {"generation": g, "warp": "gather", "precision": "fp32", "nodes": n, "ops": {"Mul": n}, "bytes": 1}
        for g, n in (("before", 400), ("after", 100))
    ]
    text = report.node_counts({"nodes": {"graphs": graphs}})
    assert "| fp32 | gather | 400 | 100 | 0.25× |" in text
    hist = report.op_histogram({"nodes": {"graphs": graphs}})
    assert "| Mul | 400 | 100 |" in hist and "other op types" not in hist and "native" not in hist
    assert "not measured" in report.latency({}, 2) and "not measured" in report.train_step({})


def test_timed_sections_print_their_load(report):
    rec = {
        "threads": 2,
        "rounds": 3,
        "per_round": 1,
        "loadavg": {"before": [3.5, 3.0, 2.0], "after": [3.9, 3.1, 2.1]},
        "cores": 2,
        "nice": 10,
        "batch": 8,
        "crop": 96,
        "rows": [
            {"generation": "before", "median_ms": 300.0},
            {"generation": "after", "median_ms": 150.0},
        ],
    }
    text = report.train_step({"train_step": json.loads(json.dumps(rec))})
    assert "| 300.0 | 150.0 | 2.00× |" in text and "before 3.50 / 3.00 / 2.00" in text and "niceness 10" in text
    assert "goal" not in text.lower()


def test_demo_section_is_the_bench_json_of_the_shipped_demo(report):
    row = dict(label="ORT fp32", precision="fp32", warp="gather", median_ms=98.8, p10_ms=97.0, p90_ms=101.2)
    rec = {
        "rows": [
            dict(row, fps=10.12, stream_fps=8.5, psnr_torch=100.0, skipped=""),
            dict(row, label="ORT int8", precision="int8", skipped="no int8 graph"),
        ],
        "gflops": {"256x256": 2.93},
        "environment": {"load_average": [0.25, 0.5, 1.0], "cpu_cores": 2},
        "notes": ["5 interleaved rounds"],
        "command": "b2v-edge bench b2v_edge/weights/demo --threads 2 --json",
        "options": {"deploy_dir": "b2v_edge/weights/demo"},
        "checkpoint_sha256": "efc11aa294d7" + "0" * 52,
    }
    assert "stale" in report.demo({"demo": rec})  # not the shipped checkpoint
    shipped = json.loads((ROOT / "b2v_edge" / "weights" / "demo" / "manifest.json").read_text())["model"]
    rec["checkpoint_sha256"] = shipped["checkpoint_sha256"]
    text = report.demo({"demo": rec})
    assert "| ORT fp32 | fp32 | gather | 98.8 | 97.0–101.2 | 10.1 | 8.5 | 100.0 |" in text
    assert "| ORT int8 | int8 | gather | skipped: no int8 graph |" in text
    assert "before 0.25 / 0.50 / 1.00 on 2 cores" in text and shipped["checkpoint_sha256"][:12] in text
    assert "256x256: 2.93" in text and f"{shipped['config']['block']} blocks, N=7" in report.demo_title({"demo": rec})
    assert "not measured" in report.demo({})


def test_with_block_replaces_only_the_marked_text(report):
    doc = f"a\n{report.BEGIN}\nold\n{report.END}\nb\n"
    assert report.with_block(doc, "new") == f"a\n{report.BEGIN}\nnew\n{report.END}\nb\n"
    with pytest.raises(SystemExit, match="markers"):
        report.with_block("no markers", "x")


def test_auto_backend_rule_is_the_recorded_measurement(report):
    """``auto``'s OpenVINO-vs-ONNX Runtime ratios are the committed latency run's, not a guess."""
    from b2v_edge.runtime.engines.selection import OPENVINO_OVER_ORT

    rec = report.load_raw(ROOT / "bench" / "raw")["latency-2t"]
    median = {row["label"]: row["median_ms"] for row in rec["rows"]}
    for warp, ratio in OPENVINO_OVER_ORT.items():
        assert round(median[f"after OpenVINO {warp}"] / median[f"after ORT {warp}"], 2) == ratio, warp


def test_bench_vs_direct_divides_by_the_bracketing_direct_timings_and_marks_misses(report):
    directs = [{"T": 100.0}, {"T": 80.0}, {"T": 100.0}, {"T": 100.0}]
    runs = [
        {"T": {"median_ms": 90.0, "unstable": False}},  # / mean(100, 80) = 1.00
        {"T": {"median_ms": 150.0, "unstable": False}},  # / 90 = 1.67: outside
        {"T": {"median_ms": 500.0, "unstable": True}},  # flagged: no ratio
    ]
    rec = {"direct_ms": directs, "bench_runs": runs, "threads": 2, "deploy": "d", "loadavg": {}}
    text = report.bench_vs_direct({"bench_vs_direct": rec})
    assert "| 1 | 90.0 / 90.0 = 1.00 |" in text
    assert "| 2 | 150.0 / 90.0 = 1.67 (outside ±20 %) |" in text
    assert "| 3 | 500.0 / 100.0 = unstable (flagged) |" in text and "T 80.0-100.0 ms" in text
    assert "without an untimed settling round" in text  # a record from before the bench kept its method
    assert "| `bench_vs_direct.json` | bench without an untimed settling round | 1 | 1 | 1 |" in text  # summary
    method = {"runs": 20, "rounds": 5, "warmup": 10, "settle_rounds": 1, "slot_warmup": 1}
    rec = {**rec, "commit": "abc1234", "bench_runs": [{**run, "method": method} for run in runs]}
    text = report.bench_vs_direct({"bench_vs_direct": rec})
    assert (
        "bench at abc1234: 5 timed rounds (20 runs) after 10 warm-up runs and 1 untimed settling round(s), 1 untimed run(s) per row and round"
        in text
    )
    assert "not measured" in report.bench_vs_direct({})
