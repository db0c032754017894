"""ExportOptions: one validation, capability table, auto target / warp / opset."""

from __future__ import annotations

import importlib.metadata

import pytest

from b2v_edge.common.vocab import PRECISIONS
from b2v_edge.export import options as options_mod
from b2v_edge.export.options import ExportOptions, OptionsError, auto_warp, capability, detect_target
from b2v_edge.export.targets import TARGETS, opset_range, supported_ops, table_version, target_for_trt


def test_documented_defaults():
    opts = ExportOptions()
    assert (opts.precision, opts.height, opts.width, opts.target, opts.warp, opts.opset) == (
        "fp16",
        256,
        256,
        "trt10",
        "native",
        18,
    )
    assert str(opts.out_dir) == "deploy" and opts.checkpoint is None


@pytest.mark.parametrize(
    "target,warp,opset",
    [
        ("trt8.0", "gather", 13),
        ("trt8.2", "gather", 13),
        ("trt8.5", "native", 17),
        ("trt8.6", "native", 17),
        ("trt10", "native", 18),
        ("trt11", "native", 18),
        ("onnxruntime", "gather", 18),
    ],
)
def test_auto_warp_and_opset_per_target(target, warp, opset):
    opts = ExportOptions(target=target)
    assert (opts.warp, opts.opset) == (warp, opset)
    assert auto_warp(target) == warp


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(target="trt8.2", warp="native"), "use --warp gather"),
        (dict(target="trt8.0", precision="int8"), "not available for trt8.0"),
        (dict(target="trt9"), "unknown target"),
        (dict(precision="int4"), "unknown precision"),
        (dict(warp="bicubic"), "unknown warp"),
        (dict(height=0), "--size height"),
        (dict(width=100000), "--size width"),
        (dict(height=16), "in 32..4096"),
        (dict(batch=0), "--batch"),
        (dict(height=True), "--size height"),
        (dict(dynamic=True, height=250), "multiples of 32"),
        (dict(opset=20), "opset"),
        (dict(target="trt8.5", opset=18), "reads opsets up to 17"),
        (dict(warp="native", opset=13), "needs opset >= 16"),
        (dict(engine=True, target="onnxruntime"), "TensorRT --target"),
        (dict(fp16_tool="tensorflow"), "unknown fp16_tool"),
        (dict(reference_samples=-1), "--reference-samples"),
        (dict(reference_samples=65), "--reference-samples"),
    ],
)
def test_invalid_combinations_fail_once_with_a_hint(kwargs, match):
    with pytest.raises(OptionsError, match=match):
        ExportOptions(**kwargs)


def test_capability_over_every_combination():
    reasons = {(t, w, p): capability(p, t, w) for t in TARGETS for w in ("native", "gather") for p in PRECISIONS}
    bad = {key for key, reason in reasons.items() if reason is not None}
    assert ("trt8.2", "native", "fp16") in bad and ("trt8.0", "gather", "int8") in bad
    assert ("trt10", "native", "int8") not in bad and ("onnxruntime", "native", "fp16") not in bad
    assert all(reasons[key].startswith("--") for key in bad)
    assert capability("fp16", "trt8.5", "native") is None


def test_detect_target_from_package_metadata(monkeypatch):
    def fake_version(dist):
        if dist == "tensorrt":
            return "10.3.0"
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(options_mod.importlib.metadata, "version", fake_version)
    assert detect_target() == "trt10"
    assert ExportOptions(target="auto").target == "trt10"


def test_detect_target_without_tensorrt(monkeypatch):
    def missing(dist):
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(options_mod.importlib.metadata, "version", missing)
    opts = ExportOptions(target="auto")
    assert (opts.target, opts.warp) == ("onnxruntime", "gather")


def test_with_revalidates():
    opts = ExportOptions(target="trt10")
    lowered = opts.with_(target="trt8.2")
    assert (lowered.warp, lowered.opset) == ("gather", 13)  # auto values re-resolved for the new target
    with pytest.raises(OptionsError):
        ExportOptions(target="trt10", warp="native").with_(target="trt8.2")  # explicit native stays: invalid


@pytest.mark.parametrize(
    "version,target",
    [
        ("8.0.1.6", "trt8.0"),
        ("8.2.1", "trt8.2"),
        ("8.4.3", "trt8.2"),
        ("8.5.2.2", "trt8.5"),
        ("8.6.1", "trt8.6"),
        ("10.3.0", "trt10"),
        ("11.1", "trt11"),
    ],
)
def test_target_for_trt(version, target):
    assert target_for_trt(version) == target


def test_table_queries():
    assert table_version("8.6.1") == "8.6" and table_version("10.7") == "10.1" and table_version("10.0.1") == "10.0"
    assert "GridSample" not in supported_ops("8.2") and "GridSample" in supported_ops("8.5.2")
    assert "AffineGrid" not in supported_ops("11.0")
    assert opset_range("8.2") == (7, 13) and opset_range("10.3") == (9, 20)
    with pytest.raises(ValueError, match="older than 8.0"):
        target_for_trt("7.2.3")
