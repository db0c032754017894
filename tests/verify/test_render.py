"""b2v_edge/verify/render.py: report.json / report.md / self-contained report.html, and the bench markdown."""

from __future__ import annotations

import base64
import json
import re
import sys

import cv2
import numpy as np
import pytest

from b2v_edge.verify.bench import BenchReport, BenchRow, Ratio
from b2v_edge.verify.figures import diff_gain, image_strip, psnr_plot_png
from b2v_edge.verify.render import (
    SUMMARY_HEAD,
    TERMINAL_COLUMNS,
    render_bench_markdown,
    render_html,
    render_json,
    render_markdown,
    summary_table,
    write_reports,
)
from b2v_edge.verify.results import ArtifactParity, ParityReport, ReferenceScores, Thresholds, WorstCase

ENV = {
    "backends": {"onnxruntime": "CPUExecutionProvider"},
    "versions": {"onnxruntime": "1.32.0"},
    "cpu": "Test CPU",
    "cpu_cores": 2,
    "python": "3.11",
    "platform": "Linux",
    "gpu": "none used",
    "ort_providers_available": ["CPU"],
}


def _images(h: int = 32, w: int = 40, gt: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    img = {k: rng.random((h, w, 3), dtype=np.float32) for k in ("input", "pytorch", "gt")}
    img["engine"] = np.clip(img["pytorch"] + 1e-3, 0, 1)
    if not gt:
        del img["gt"]
    return img


def _artifact(path: str, precision: str, psnr: list, gt: bool = True, failing: tuple = ()) -> ArtifactParity:
    a = ArtifactParity(
        path,
        "onnx",
        precision,
        "gather",
        "onnxruntime",
        "CPUExecutionProvider",
        count=4,
        psnr_vs_torch=psnr,
        psnr_vs_torch_min=[p - 1 for p in psnr],
        ssim_vs_torch=[0.999] * 3,
        max_abs_err=[1e-3] * 3,
        min_psnr=40.0,
        max_gt_drop=0.1,
        seconds=1.5,
    )
    if gt:
        a.psnr_gt, a.gt_drop = [25.0, 27.0, 24.9], [0.0, 0.01, 0.02]
    if failing:
        a.failing_positions = list(failing)
        a.failures = [f"PSNR vs PyTorch below 40 dB at frame positions {', '.join(map(str, failing))}"]
    a.worst = [WorstCase(2, 1, psnr[1], _images(gt=gt))]
    return a


def _report(gt: bool = True, fail: bool = False) -> ParityReport:
    ref = ReferenceScores(
        "/x/ckpt.pt", "ab" * 32, [25.0, 27.01, 24.92] if gt else [], [], [False] * 4 if gt else [], 1.0
    )
    arts = [
        _artifact("model.onnx", "fp32", [80.0, 81.0, 79.0], gt),
        _artifact(
            "model.fp16.onnx", "fp16", [35.0, 50.0, 38.0] if fail else [45.0, 50.0, 46.0], gt, (1, 3) if fail else ()
        ),
        ArtifactParity("model.fp16.plan", "tensorrt_plan", "fp16", "gather", skipped="TensorRT is not installed"),
    ]
    notes = [] if gt else ["images:x has no ground truth: engine-vs-PyTorch only"]
    return ParityReport("deploy", "synthetic", 4, (32, 40), 3, gt, ref, arts, Thresholds(), ENV, notes)


def _imgs(html: str) -> list:
    return re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)


def test_json_is_schema_versioned_and_finite():
    rep = _report(fail=True)
    rep.artifacts[0].psnr_vs_torch[0] = float("nan")
    data = json.loads(render_json(rep))
    assert data["schema_version"] == 1 and data["passed"] is False and data["has_ground_truth"] is True
    assert data["environment"]["cpu"] == "Test CPU" and data["thresholds"]["min_psnr"]["int8"] == 30.0
    assert data["artifacts"][0]["psnr_vs_torch"][0] is None  # NaN -> null, never invalid JSON
    assert data["artifacts"][1]["failing_positions"] == [1, 3] and data["artifacts"][2]["status"] == "skipped"
    assert data["failures"] == ["model.fp16.onnx (fp16): PSNR vs PyTorch below 40 dB at frame positions 1, 3"]
    assert data["artifacts"][1]["worst"] == [{"sample": 2, "position": 2, "psnr_vs_torch": 50.0}]


def test_markdown_tables():
    md = render_markdown(_report(fail=True))
    assert md.startswith("# Parity report: deploy") and "**FAIL**" in md
    assert "| model.fp16.onnx | fp16 | onnxruntime/CPU | 41.00 / 34.00 (≥ 40) |" in md
    assert "FAIL (frames 1, 3)" in md and "skipped: TensorRT is not installed" in md
    assert "| row | frame 1 | frame 2 | frame 3 |" in md and "| PyTorch (reference) | 25.00 | 27.01 | 24.92 |" in md
    assert "## Failures" in md and "## Environment" in md and "Test CPU (2 cores, load average None)" in md
    ok = render_markdown(_report())
    assert "**PASS**" in ok and "## Failures" not in ok


def test_html_is_self_contained_with_plot_and_strips():
    page = render_html(_report(fail=True))
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    images = _imgs(page)
    assert len(images) == 1 + 2  # the plot + one worst-sample strip per checked artifact
    plot = cv2.imdecode(np.frombuffer(base64.b64decode(images[0]), np.uint8), cv2.IMREAD_COLOR)
    assert plot.shape[1] == 1100  # two panels (vs PyTorch, vs GT) at 100 dpi
    strip = cv2.imdecode(np.frombuffer(base64.b64decode(images[1]), np.uint8), cv2.IMREAD_COLOR)
    assert strip.shape[0] > 32 and strip.shape[1] >= 5 * 200  # 5 tiles zoomed to >= 200 px
    assert "class='verdict fail'" in page and "frame position 2: PSNR vs PyTorch 81.00 dB" in page


def test_html_without_ground_truth():
    page = render_html(_report(gt=False))
    plot = cv2.imdecode(np.frombuffer(base64.b64decode(_imgs(page)[0]), np.uint8), cv2.IMREAD_COLOR)
    assert plot.shape[1] == 600  # one panel: there is no ground truth to plot
    assert "no ground truth" in page and "PSNR vs ground truth per frame position" not in page
    strip = cv2.imdecode(np.frombuffer(base64.b64decode(_imgs(page)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert strip.shape[1] == 4 * 200 + 3 * 4  # no GT tile


def test_strip_and_gain():
    assert diff_gain(np.zeros((4, 4))) == 1.0
    assert diff_gain(np.full((4, 4), 0.004)) == 200.0 and diff_gain(np.full((4, 4), 0.06)) == 10.0
    sparse = np.zeros((100, 100))
    sparse[0, 0] = 0.5  # one outlier: the max would hide everything else, the 99th percentile does not
    assert diff_gain(sparse) == 1.0 and diff_gain(sparse + 0.001) == 500.0
    assert diff_gain(np.full((4, 4), 1e-9)) == 1e6 and diff_gain(np.full((4, 4), 0.9)) == 1.0
    png = image_strip(_images(h=300, w=300), "int8")
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (300 + 22, 5 * 300 + 4 * 4, 3)
    assert psnr_plot_png(_report())[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_reports_atomically(tmp_path):
    paths = write_reports(_report(), tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"report.json", "report.md", "report.html"}
    assert json.loads(paths["json"].read_text())["passed"] is True


def test_bench_markdown():
    rows = [
        BenchRow(
            "PyTorch eager",
            "torch",
            "fp32",
            "-",
            (64, 64),
            "m.pt",
            0.2,
            "eager",
            [50.0, 51.0, 52.0, 52.0, 56.0, 60.0],
            [51.0, 56.0],
            psnr_gt=20.0,
            peak_mb=260.0,
            stream_fps=15.0,
            gflops_per_s=1.0,
            ceiling_fraction=0.01,
        ),
        BenchRow(
            "ORT int8", "onnx", "int8", "gather", (64, 64), "m.int8.onnx", 0.1, skipped="artifact is static 32x32"
        ),
    ]
    report = BenchReport(
        rows,
        {"64x64": 0.05},
        60.0,
        2048,
        [
            Ratio("ORT fp32 speed-up over PyTorch eager", 2.5, "medians 52.0 / 20.8 ms"),
            Ratio("ORT int8 speed-up over ORT fp32", None, "not measured (a row is missing or skipped)"),
        ],
        ENV,
        ["a note"],
    )
    md = render_bench_markdown(report)
    row = "| 64x64 | PyTorch eager | 0.20 | 20.00 | — | 52.0 (50.5-58.0) | ±10 % | 19.23 | 260 | 1.0 (1 %) | 15.0 (0.78) |"
    assert row in md
    assert "skipped: artifact is static 32x32" in md
    assert "0.05 GFLOPs per 64x64" in md and "2048² matmul" in md and "60.0 GFLOP/s" in md
    assert "ORT fp32 speed-up over PyTorch eager: 2.50x (medians 52.0 / 20.8 ms)" in md
    assert "ORT int8 speed-up over ORT fp32: not measured" in md and "- a note" in md
    assert "goal" not in md and "met" not in md  # measurements only
    assert rows[0].median_ms == 52.0 and rows[0].fps == pytest.approx(1000 / 52)


def test_one_row_builder_for_every_format():
    rep = _report(fail=True)
    head, rows = summary_table(rep)
    assert head == SUMMARY_HEAD and [r[0] for r in rows] == ["model.onnx", "model.fp16.onnx", "model.fp16.plan"]
    short_head, short = summary_table(rep, TERMINAL_COLUMNS)
    assert short_head == list(TERMINAL_COLUMNS) and short[1] == [
        rows[1][SUMMARY_HEAD.index(c)] for c in TERMINAL_COLUMNS
    ]
    assert json.loads(render_json(rep))["summary_table"] == {"columns": head, "rows": rows}
    md, page = render_markdown(rep), render_html(rep)
    for row in rows:
        assert "| " + " | ".join(row) + " |" in md
        assert "".join(f"<td>{c}</td>" for c in row[1:3]) in page.replace("<td class='fail'>", "<td>")


def test_headline_names_where_the_reference_came_from():
    rep = _report()
    assert "recomputed" in render_markdown(rep)
    rep.reference.origin = "stored"
    assert "stored at export" in render_markdown(rep) and "stored at export" in render_html(rep)


def test_html_without_matplotlib_keeps_tables_and_strips(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in a base install
    page = render_html(_report(fail=True))
    assert "The plot needs matplotlib" in page and "b2v-edge[report]" in page
    assert len(_imgs(page)) == 2  # the two strips, no plot
