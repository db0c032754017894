"""b2v_edge/verify/parity.py (+ compare.py, data.py): engine vs PyTorch vs ground truth on a tiny real deploy dir.

These deploy dirs have no stored reference set: every run here recomputes the PyTorch reference.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import parity_helpers as H  # tests/verify is on sys.path (pytest rootdir-relative import)
import pytest

from b2v_edge.common.manifest import Manifest, ManifestError, sha256_file
from b2v_edge.common.vocab import ENGINE_PRECISIONS
from b2v_edge.runtime.engines import openvino as ov_engine
from b2v_edge.verify.data import load_samples
from b2v_edge.verify.parity import ParityOptions, record_in_manifest, run_parity
from b2v_edge.verify.results import ParityError, Thresholds, parse_levels


@pytest.fixture(scope="session")
def deploy_src(tmp_path_factory) -> Path:
    return H.shared_deploy(tmp_path_factory)


@pytest.fixture
def deploy(deploy_src, tmp_path) -> Path:
    return Path(shutil.copytree(deploy_src, tmp_path / "deploy"))


def _opts(deploy: Path, **kw) -> ParityOptions:
    kw.setdefault("samples", 3)
    return ParityOptions(deploy, threads=1, **kw)


def test_passes_with_per_position_scores(deploy):
    report = run_parity(_opts(deploy, worst=2))
    assert report.passed and bool(report) and report.failures() == []
    assert report.has_gt and report.count == 3 and report.frames == 3 and report.size == (64, 64)
    assert len(report.reference.psnr_gt) == 3 and len(report.reference.reversed) == 3
    by = {a.precision: a for a in report.artifacts if a.backend == "onnxruntime"}
    assert set(by) == {"fp32", "fp16"}
    assert [a.precision for a in report.artifacts if a.backend == "openvino"] == ["fp32"] * ov_engine.available()
    for a in by.values():
        assert a.passed and bool(a) and a.status == "pass" and a.provider == "CPUExecutionProvider"
        for key in (
            "psnr_vs_torch",
            "psnr_vs_torch_min",
            "ssim_vs_torch",
            "max_abs_err",
            "psnr_gt",
            "ssim_gt",
            "gt_drop",
        ):
            assert len(getattr(a, key)) == 3, key
        assert 1 <= len(a.worst) <= 2 and set(a.worst[0].images) == {"input", "pytorch", "engine", "gt"}
    assert min(by["fp32"].psnr_vs_torch) >= 60 and max(by["fp32"].max_abs_err) < 1e-4
    assert 40 <= min(by["fp16"].psnr_vs_torch) < min(by["fp32"].psnr_vs_torch)
    assert max(abs(d) for d in by["fp16"].gt_drop) < 0.1
    env = report.environment
    assert env["backends"]["onnxruntime"] == "CPUExecutionProvider" and "onnxruntime" in env["versions"] and env["cpu"]
    json.dumps(report.to_dict(), allow_nan=False)


def test_perturbed_weights_fail_naming_artifact_and_positions(deploy):
    H.break_artifact(deploy, "model.onnx")
    report = run_parity(_opts(deploy, backend="onnxruntime"))
    assert not report.passed and not report
    fp32 = next(a for a in report.artifacts if a.path == "model.onnx")
    fp16 = next(a for a in report.artifacts if a.path == "model.fp16.onnx")
    assert fp16.passed and not fp32.passed and fp32.failing_positions
    assert set(fp32.failing_positions) <= {1, 2, 3}
    (line,) = report.failures()
    assert line.startswith("model.onnx (fp32): ") and "frame positions" in line and "below 60 dB" in line
    assert report.to_dict()["failures"] == [line]


def test_modified_artifact_without_rehash_is_an_artifact_error(deploy):
    with open(deploy / "model.fp16.onnx", "ab") as fh:
        fh.write(b"\0")
    report = run_parity(_opts(deploy, samples=1))
    fp16 = next(a for a in report.artifacts if a.precision == "fp16")
    assert not fp16.passed and "does not match the manifest" in fp16.error
    assert any(line.startswith("model.fp16.onnx (fp16): ") for line in report.failures())


def test_nan_output_fails_with_positions(deploy, runtime_models):
    runtime_models.make_onnx(deploy / "model.fp16.onnx", n=3, h=64, w=64, scales=[1.0, float("nan"), 1.0])
    manifest = Manifest.load(deploy)
    manifest.get("onnx", "fp16").sha256 = sha256_file(deploy / "model.fp16.onnx")
    manifest.save()
    report = run_parity(_opts(deploy, samples=1, ssim=False))
    fp16 = next(a for a in report.artifacts if a.precision == "fp16")
    assert not fp16.passed and 2 in fp16.failing_positions
    assert any("NaN/Inf output at frame positions 2" in f for f in fp16.failures)
    json.dumps(report.to_dict(), allow_nan=False)


def test_threshold_override_and_parse_levels(deploy):
    assert parse_levels("fp16=38, int8=28.5", "--fail-under") == {"fp16": 38.0, "int8": 28.5}
    assert parse_levels(None, "x") == {} and parse_levels("", "x") == {}
    for bad in ("fp16", "fp64=3", "fp16=abc"):
        with pytest.raises(ParityError, match="fail-under"):
            parse_levels(bad, "--fail-under")
    th = Thresholds(min_psnr={"fp16": 200.0})
    assert th.for_precision("fp16") == (200.0, 0.1) and th.for_precision("int8") == (30.0, 0.5)
    report = run_parity(_opts(deploy, samples=1, thresholds=th, ssim=False))
    fp16 = next(a for a in report.artifacts if a.precision == "fp16")
    assert not fp16.passed and fp16.failing_positions == [1, 2, 3] and fp16.min_psnr == 200.0
    assert next(a for a in report.artifacts if a.precision == "fp32").passed


def test_any_data_kind_of_the_one_grammar(deploy):
    report = run_parity(_opts(deploy, data="deadleaves", samples=1, ssim=False))
    assert report.passed and report.has_gt and report.data == "deadleaves" and report.count == 1


def test_images_folder_has_no_ground_truth(deploy, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, shape in enumerate([(48, 80, 3), (100, 70, 3)]):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 255, shape, dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    report = run_parity(_opts(deploy, data=f"images:{folder}", samples=5))
    assert report.passed and not report.has_gt and report.count == 2
    assert report.reference.psnr_gt == [] and all(a.psnr_gt == [] and a.gt_drop == [] for a in report.artifacts)
    assert any("no ground truth" in n for n in report.notes) and any("only 2 images" in n for n in report.notes)
    assert "gt" not in report.artifacts[0].worst[0].images


def test_reference_must_be_the_exported_checkpoint(deploy, tmp_path):
    other = H.make_checkpoint(tmp_path / "other.pt", seed=1)
    with pytest.raises(ParityError, match="is not the checkpoint exported"):
        run_parity(_opts(deploy, checkpoint=str(other)))
    manifest = Manifest.load(deploy)
    manifest.model["checkpoint"] = str(tmp_path / "gone.pt")
    manifest.save()
    with pytest.raises(ParityError, match="does not exist here; pass --checkpoint"):
        run_parity(_opts(deploy))


def test_bad_options_and_inputs(deploy, tmp_path):
    for kw, match in (
        ({"samples": 0}, "samples"),
        ({"backend": "cuda"}, "backend"),
        ({"size": (16, 16)}, "size"),
        ({"threads": -1}, "threads"),
    ):
        with pytest.raises(ParityError, match=match):
            ParityOptions(deploy, **kw)
    with pytest.raises(ParityError, match="take 64x64 inputs"):
        run_parity(_opts(deploy, size=(128, 128)))
    with pytest.raises(ParityError, match="unknown kind"):
        run_parity(_opts(deploy, data="webcam"))
    with pytest.raises(ParityError, match="`parity` cannot use it"):
        run_parity(_opts(deploy, data="camera:0"))
    with pytest.raises(ParityError, match="not a folder"):
        load_samples(f"images:{tmp_path / 'none'}", 3, (64, 64), 2)
    with pytest.raises(ManifestError, match="no manifest.json"):
        run_parity(_opts(tmp_path))


def test_backend_selection_and_missing_tensorrt(deploy, runtime_models):
    runtime_models.add_plan(deploy, "fp16")
    report = run_parity(_opts(deploy, samples=1, ssim=False))
    plan = next(a for a in report.artifacts if a.kind == "tensorrt_plan")
    assert plan.status == "skipped" and "TensorRT is not installed" in plan.skipped
    assert report.passed and len(report.checked) == 2 + ov_engine.available()  # + the fp32 graph on OpenVINO
    only_plans = run_parity(_opts(deploy, samples=1, backend="tensorrt", ssim=False))
    assert not only_plans.passed and "no artifact was checked" in only_plans.failures()[0]


@pytest.mark.skipif(not ov_engine.available(), reason="openvino is not installed (extra [openvino])")
def test_openvino_rows_for_the_fp32_graph(deploy):
    report = run_parity(_opts(deploy, samples=2, backend="openvino", ssim=False))
    rows = {(a.path, a.backend, a.precision): a for a in report.artifacts}
    f32, bf16 = rows[("model.onnx", "openvino", "fp32")], rows[("model.onnx", "openvino", "bf16")]
    assert f32.status == "pass" and min(f32.psnr_vs_torch) >= 60 and f32.min_psnr == 60
    assert bf16.min_psnr == ENGINE_PRECISIONS["bf16"].min_psnr_db  # its own bar from the one table
    assert bf16.status == "pass" and min(bf16.psnr_vs_torch) < min(f32.psnr_vs_torch)
    assert "fp32 graph only" in rows[("model.fp16.onnx", "", "fp16")].skipped
    assert not any(a.backend == "onnxruntime" for a in report.artifacts)
    record_in_manifest(report)
    arts = Manifest.load(deploy).parity["artifacts"]
    assert {"model.onnx (openvino fp32)", "model.onnx (openvino bf16)"} <= set(arts)


def test_summary_written_back_to_manifest_keeps_export_check(deploy):
    report = run_parity(_opts(deploy, samples=1, ssim=False))
    record_in_manifest(report)
    parity = Manifest.load(deploy).parity
    assert parity["export"] == {"model.onnx": {"psnr_db": 99.0}}
    assert parity["passed"] is True and parity["samples"] == 1
    assert parity["artifacts"]["model.fp16.onnx"]["status"] == "pass"


# ---- the stored reference set (what a torch-free device uses) -----------------------------------
@pytest.fixture
def stored(tmp_path_factory, tmp_path) -> Path:
    return Path(shutil.copytree(H.shared_stored_deploy(tmp_path_factory), tmp_path / "stored"))


def test_stored_reference_set_is_the_default(stored):
    report = run_parity(ParityOptions(stored, threads=1, worst=1))
    assert report.passed and report.reference.origin == "stored" and report.reference.seconds == 0.0
    assert report.count == 2 and report.data == "reference.npz (synthetic)" and report.has_gt
    assert report.reference.resolution == pytest.approx(1 / 4095) and len(report.reference.psnr_gt) == 3
    by = {a.precision: a for a in report.artifacts}
    assert 60 <= min(by["fp32"].psnr_vs_torch) < 100  # 12-bit stored outputs cap the fp32 agreement
    assert 40 <= min(by["fp16"].psnr_vs_torch) and max(abs(d) for d in by["fp16"].gt_drop) < 0.1
    assert any("stored at export" in n for n in report.notes)
    assert set(by["fp16"].worst[0].images) == {"input", "pytorch", "engine", "gt"}
    assert report.manifest_summary()["reference_origin"] == "stored"


def test_stored_and_recomputed_references_agree(stored):
    kept = run_parity(ParityOptions(stored, threads=1, ssim=False))
    fresh = run_parity(ParityOptions(stored, data="synthetic", samples=2, threads=1, ssim=False))
    assert fresh.reference.origin == "pytorch" and kept.count == fresh.count == 2
    assert np.allclose(kept.reference.psnr_gt, fresh.reference.psnr_gt, atol=0.1)  # uint8 inputs vs float inputs
    for a, b in zip(kept.artifacts, fresh.artifacts):
        assert a.passed and b.passed and a.precision == b.precision
        assert np.allclose(a.psnr_gt, b.psnr_gt, atol=0.1) and np.allclose(a.gt_drop, b.gt_drop, atol=0.02)
    fp16 = [next(a for a in r.artifacts if a.precision == "fp16") for r in (kept, fresh)]
    assert abs(np.mean(fp16[0].psnr_vs_torch) - np.mean(fp16[1].psnr_vs_torch)) < 3.0


def test_stored_reference_catches_a_broken_artifact(stored):
    H.break_artifact(stored, "model.fp16.onnx")
    report = run_parity(ParityOptions(stored, threads=1, ssim=False))
    assert not report.passed and report.reference.origin == "stored"
    (line,) = report.failures()
    assert line.startswith("model.fp16.onnx (fp16): ") and "below 40 dB" in line


def test_stored_reference_samples_and_checks(stored, deploy):
    one = run_parity(ParityOptions(stored, samples=1, threads=1, ssim=False))
    assert one.count == 1 and one.reference.origin == "stored"
    more = run_parity(ParityOptions(stored, samples=5, threads=1, ssim=False))
    assert more.count == 2 and any("holds only 2 samples" in n for n in more.notes)
    with pytest.raises(ParityError, match="has no reference set"):
        run_parity(ParityOptions(deploy, data="reference"))
    with pytest.raises(ParityError, match="--data reference uses the stored outputs"):
        ParityOptions(stored, data="reference", checkpoint="x.pt")
    with open(stored / "reference.npz", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ParityError, match="does not match the manifest"):
        run_parity(ParityOptions(stored))
