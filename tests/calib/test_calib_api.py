"""End to end: deploy dir in, Q/DQ graph + calibration.json + TensorRT cache + manifest out."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest

from b2v_edge.calib.api import quantize_deploy, run_calibration
from b2v_edge.calib.options import CalibError
from b2v_edge.calib.qdq import activation_scales
from b2v_edge.calib.trtcache import parse_trt_cache
from b2v_edge.common.manifest import Manifest, ManifestError, sha256_file

Q_OPS = ("QuantizeLinear", "DequantizeLinear")


def _const(model, name):
    for t in model.graph.initializer:
        if t.name == name:
            return onnx.numpy_helper.to_array(t)
    raise KeyError(name)


def test_tensorrt_int8_graph(deploy, fast):
    report = run_calibration(deploy, fast)
    qdq = onnx.load(str(deploy / "model.int8.onnx"))
    qnodes = [n for n in qdq.graph.node if n.op_type in Q_OPS]
    assert qnodes, "nothing was quantized"
    for node in qnodes:  # TensorRT: every Q/DQ has zero-point 0 (int8)
        zero = _const(qdq, node.input[2])
        assert zero.dtype == np.int8 and not np.any(zero), node.name
    producer = {o: n for n in qdq.graph.node for o in n.output}
    for node in qdq.graph.node:  # no Q/DQ feeds a sampler
        if node.op_type in ("GridSample", "GatherElements"):
            assert all(producer.get(i) is None or producer[i].op_type not in Q_OPS for i in node.input)
    conv_w = [n for n in qnodes if n.op_type == "DequantizeLinear" and _const(qdq, n.input[1]).size > 1]
    assert conv_w, "weights are not per-channel"
    assert report.accuracy.mean_vs_fp32 > 35.0  # INT8 vs FP32 on held-out synthetic blur
    assert report.accuracy.gt_drop is not None and abs(report.accuracy.gt_drop) < 0.5


def test_records_and_manifest(native_deploy, fast):
    art = quantize_deploy(native_deploy, fast)
    man = Manifest.load(native_deploy)
    assert art.path == "model.int8.onnx" and man.get("onnx", "int8").sha256 == sha256_file(native_deploy / art.path)
    assert art.target == "trt8.5" and art.warp == "native" and art.extra["quant_target"] == "tensorrt"
    calib = man.calibration["tensorrt"]
    for entry in calib["files"].values():
        assert sha256_file(native_deploy / entry["path"]) == entry["sha256"]
    assert {r["reason"] for r in calib["precision_plan"]} >= {"warp", "coordinates", "stn_regressor", "flow_head"}
    record = json.loads((native_deploy / "calibration.json").read_text())
    assert record["method"] == "minmax" and record["samples"]["count"] == 12
    assert record["samples"]["sample_list_hash"] == calib["sample_list_hash"] and len(calib["sample_list_hash"]) == 64
    assert record["ranges"] and record["evaluation"]["per_frame_int8_vs_fp32"]
    version, algorithm, scales = parse_trt_cache((native_deploy / "calibration.cache").read_text())
    assert (version, algorithm) == (8502, "EntropyCalibration2")  # trt8.5 target → TensorRT 8.5.2
    qdq_scales = activation_scales(onnx.load(str(native_deploy / "model.int8.onnx")))
    assert set(scales) == set(qdq_scales) and "blurred" not in scales  # first conv reads the float input
    name = next(iter(scales))
    assert scales[name] == pytest.approx(qdq_scales[name][0], rel=1e-6)
    fp32_names = {o for n in onnx.load(str(native_deploy / "model.onnx")).graph.node for o in n.output}
    assert set(scales) <= fp32_names  # the cache speaks the FP32 graph's tensor names


def test_ranges_are_cached(native_deploy, fast):
    first = run_calibration(native_deploy, fast)
    second = run_calibration(native_deploy, replace(fast, trt_version="10.3.0"))
    assert not first.cache_hit and second.cache_hit
    assert second.calib.sample_hash == first.calib.sample_hash and second.artifact.sha256 == first.artifact.sha256
    assert (native_deploy / "calibration.cache").read_text().startswith("TRT-100300-")
    third = run_calibration(native_deploy, replace(fast, method="percentile"))
    assert not third.cache_hit


def test_onnxruntime_target(native_deploy, fast):
    report = run_calibration(native_deploy, replace(fast, target="onnxruntime"))
    assert report.artifact.path == "model.int8.cpu.onnx" and report.artifact.target == "onnxruntime"
    assert report.speed is not None and report.speed["recommended"] in ("int8", "fp32") and report.speed["fp32_ms"] > 0
    man = Manifest.load(native_deploy)
    assert "onnxruntime" in man.calibration and not (native_deploy / "calibration.cache").exists()
    qdq = onnx.load(str(native_deploy / "model.int8.cpu.onnx"))
    acts = [n for n in qdq.graph.node if n.op_type == "QuantizeLinear" and _const(qdq, n.input[2]).dtype == np.uint8]
    assert acts  # U8 activations for CPUs
    plan = report.plan
    geometry = set(plan.excluded["coordinates"])
    producer = {o: n.name for n in onnx.load(str(native_deploy / "model.onnx")).graph.node for o in n.output}
    assert not [n.input[0] for n in acts if producer.get(n.input[0]) in geometry]  # no quantized coordinates


def test_sensitivity_and_target_psnr(native_deploy, fast):
    report = run_calibration(native_deploy, replace(fast, target_psnr=99.0))
    groups = [s.group for s in report.ranking]
    assert {"encoder.1", "others.dense.0", "stn_regressor"} <= set(groups)
    assert [s.psnr_db for s in report.ranking] == sorted(s.psnr_db for s in report.ranking)
    assert report.steps[0][0] is None and len(report.steps) > 1
    assert "target_psnr" in report.plan.excluded
    assert report.accuracy.mean_vs_fp32 >= report.steps[0][1]


def test_images_end_to_end(native_deploy, fast, tmp_path):
    import cv2

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        cv2.imwrite(
            str(folder / f"f{i}.jpg"),
            cv2.GaussianBlur((rng.random((24, 40, 3)) * 255).astype(np.uint8), (0, 0), 1 + i % 3),
        )
    report = run_calibration(native_deploy, replace(fast, data=f"images:{folder}", fit="resize"))
    assert report.eval_source == "held_out" and report.accuracy.gt_drop is None
    assert report.calib.coverage.metric == "laplacian" and report.calib.warnings


def test_bad_deploy_dirs(tmp_path, native_deploy, fast):
    with pytest.raises(ManifestError, match="no manifest.json"):
        run_calibration(tmp_path / "nothing", fast)
    man = Manifest.load(native_deploy)
    man.artifacts = []
    man.save()
    with pytest.raises(CalibError, match="no FP32 ONNX artifact"):
        run_calibration(native_deploy, fast)


def test_modified_model_is_refused(native_deploy, fast):
    (native_deploy / "model.onnx").write_bytes((native_deploy / "model.onnx").read_bytes() + b"x")
    with pytest.raises(ManifestError, match="does not match the manifest"):
        run_calibration(native_deploy, fast)


def test_modelopt_missing_is_a_clear_error(native_deploy, fast):
    pytest.importorskip("onnx")
    try:
        import modelopt  # noqa: F401
    except ImportError:
        with pytest.raises(CalibError, match=r"pip install 'b2v-edge\[modelopt\]'"):
            run_calibration(native_deploy, replace(fast, backend="modelopt", method="minmax"))
    else:  # pragma: no cover - only where ModelOpt is installed
        pytest.skip("nvidia-modelopt is installed")


@pytest.mark.parametrize("method, percentile", [("percentile", 99.999), ("entropy", None)])
def test_other_range_methods(native_deploy, fast, method, percentile):
    report = run_calibration(native_deploy, replace(fast, method=method))
    record = json.loads((native_deploy / "calibration.json").read_text())
    assert record["method"] == method and record["percentile"] == percentile
    assert report.accuracy.mean_vs_fp32 > 30.0


def test_a_model_with_nan_outputs_is_refused_and_nothing_is_written(tmp_path, runtime_models, fast):
    deploy = runtime_models.make_deploy(tmp_path / "nan", precisions=("fp32",), nan=True)
    before = Manifest.load(deploy).to_dict()
    with pytest.raises(CalibError, match="NaN/Inf") as exc:
        run_calibration(deploy, fast)
    assert "nothing was written" in str(exc.value)
    assert not (deploy / "model.int8.onnx").exists()
    assert Manifest.load(deploy).to_dict() == before


def test_a_damaged_cache_entry_is_recomputed_not_fatal(native_deploy, fast):
    run_calibration(native_deploy, fast)
    entries = list(fast.cache_dir.glob("*.ranges.json"))
    assert entries
    for entry in entries:
        entry.write_text('{"truncated": ')
    report = run_calibration(native_deploy, fast)
    assert not report.cache_hit
    assert run_calibration(native_deploy, fast).cache_hit  # the entry was rewritten


def _relist(deploy, data: bytes):
    (deploy / "model.onnx").unlink()
    (deploy / "model.onnx").write_bytes(data)
    manifest = Manifest.load(deploy)
    manifest.artifacts[0].sha256 = sha256_file(deploy / "model.onnx")
    manifest.save()


def test_a_corrupt_model_with_a_matching_hash_is_one_line(native_deploy, fast):
    _relist(native_deploy, b"\x08\x07garbage that is not protobuf" * 10)
    with pytest.raises(CalibError, match="not a readable ONNX model"):
        run_calibration(native_deploy, fast)


def test_a_model_with_the_wrong_io_is_one_line(native_deploy, fast, tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    _relist(native_deploy, helper.make_model(graph).SerializeToString())
    with pytest.raises(CalibError, match=r"not \[1,N,3,H,W\]"):
        run_calibration(native_deploy, fast)
