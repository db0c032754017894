"""CalibOptions validation and data-spec parsing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from b2v_edge.calib.options import CalibError, CalibOptions, parse_data_spec


def test_defaults_validate():
    opts = CalibOptions()
    assert opts.target == "tensorrt" and opts.symmetric_activations
    assert opts.pool_size == 528  # (256 + 8) * 2


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("synthetic", ("synthetic", "")),
        ("images:/x/y", ("images", "/x/y")),
        ("video:a.mp4", ("video", "a.mp4")),
        ("camera:0", ("camera", "0")),
        ("camera:csi://0", ("camera", "csi://0")),
        (" GoPro:/d ", ("gopro", "/d")),
    ],
)
def test_parse_data_spec(spec, expected):
    assert parse_data_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "accepted forms: .*images:DIR"),
        ("images", "images needs a DIR: write images:DIR"),
        ("images:", "images needs a DIR"),
        ("webcam:0", "unknown kind 'webcam'; accepted forms: .*camera:INDEX"),
        ("synthetic:foo", "synthetic takes no argument"),
        ("video", "video needs a PATH"),
        ("deadleaves+synthetic", "takes one source"),
    ],
)
def test_bad_data_spec_says_what_to_write(spec, message):
    with pytest.raises(CalibError, match=message):
        parse_data_spec(spec)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("samples", 0, "samples"),
        ("method", "kl", "method"),
        ("backend", "tensorrt", "backend"),
        ("target", "gpu", "target"),
        ("oversample", 0.5, "oversample"),
        ("bins", 0, "bins"),
        ("fit", "crop", "fit"),
        ("target_psnr", -1.0, "target_psnr"),
        ("trt_version", "eight", "trt_version"),
        ("percentile", 10.0, "percentile"),
        ("eval_samples", 0, "eval_samples"),
    ],
)
def test_invalid_values(field, value, match):
    with pytest.raises(CalibError, match=match):
        replace(CalibOptions(), **{field: value})


def test_modelopt_combinations_rejected():
    with pytest.raises(CalibError, match="percentile"):
        CalibOptions(backend="modelopt", method="percentile")
    with pytest.raises(CalibError, match="uses --quantizer onnxruntime"):
        CalibOptions(backend="modelopt", method="entropy", target="onnxruntime")
    with pytest.raises(CalibError, match="sensitivity"):
        CalibOptions(backend="modelopt", method="minmax", sensitivity=True)


def test_a_tensorrt_line_is_a_target():
    opts = CalibOptions(target="trt8.2")
    assert (opts.target, opts.trt_version, opts.symmetric_activations) == ("tensorrt", "8.2.1", True)
    assert CalibOptions(target="trt10", trt_version="10.1.0").trt_version == "10.1.0"
    with pytest.raises(CalibError, match="target must be one of trt8.0"):
        CalibOptions(target="trt9")


def test_target_psnr_implies_sensitivity_and_normalises():
    opts = CalibOptions(target_psnr=40.0, exclude=(" a ", ""), cache_dir="~/x")
    assert opts.sensitivity and opts.exclude == ("a",) and "~" not in str(opts.cache_dir)
