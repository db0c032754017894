"""common/trt_version.py: parsing, target lines, NV_TENSORRT_VERSION and the per-version predicates."""

from __future__ import annotations

import types

import pytest

from b2v_edge.common.trt_version import LINE_RELEASES, LINES, TrtVersion, TrtVersionError


@pytest.mark.parametrize(
    "text, parts",
    [
        ("10.3.0.26", (10, 3, 0, 26)),
        ("8.6", (8, 6, 0, 0)),
        ("8.5.2-1+cuda11.4", (8, 5, 2, 0)),
        (" 11.4.0.106", (11, 4, 0, 106)),
    ],
)
def test_parse(text, parts):
    v = TrtVersion.parse(text)
    assert (v.major, v.minor, v.patch, v.build) == parts


@pytest.mark.parametrize("text", ["", "garbage", "10", None, "ten.3"])
def test_parse_rejects_garbage(text):
    with pytest.raises(TrtVersionError, match="must look like 10.3.0"):
        TrtVersion.parse(text)


def test_of_module_and_str():
    v = TrtVersion.of(types.SimpleNamespace(__version__="10.3.0.26"))
    assert str(v) == "10.3.0.26" and str(TrtVersion.parse("8.6.1")) == "8.6.1"
    assert v.same_release(TrtVersion.parse("10.3.0")) and not v.same_release(TrtVersion.parse("10.3.1"))
    assert TrtVersion.parse("8.6.1") < TrtVersion.parse("8.6.2") < TrtVersion.parse("10.0.1")


@pytest.mark.parametrize(
    "version, line",
    [
        ("8.0.1", "trt8.0"),
        ("8.4.3", "trt8.2"),
        ("8.5.2", "trt8.5"),
        ("8.6.1", "trt8.6"),
        ("10.9", "trt10"),
        ("11.4", "trt11"),
    ],
)
def test_line(version, line):
    assert TrtVersion.parse(version).line == line


def test_line_releases_round_trip_and_old_versions():
    for line in LINES:
        assert TrtVersion.for_line(line).line == line
        assert str(TrtVersion.for_line(line)) == LINE_RELEASES[line]
    with pytest.raises(TrtVersionError, match="older than 8.0"):
        _ = TrtVersion.parse("7.2.3").line
    with pytest.raises(TrtVersionError, match="unknown TensorRT target"):
        TrtVersion.for_line("trt9")


@pytest.mark.parametrize("version, number", [("8.5.2", 8502), ("8.6.1", 8601), ("10.3.0", 100300), ("11.0.0", 110000)])
def test_number_is_nv_tensorrt_version(version, number):
    assert TrtVersion.parse(version).number == number


def test_builder_predicates_per_generation():
    v80, v82, v84, v86 = (TrtVersion.parse(x) for x in ("8.0.1", "8.2.1", "8.4.3", "8.6.1"))
    v10, v11 = TrtVersion.parse("10.3.0"), TrtVersion.parse("11.0.0")
    assert [v.network_flag for v in (v80, v86, v10, v11)] == [
        "EXPLICIT_BATCH",
        "EXPLICIT_BATCH",
        "STRONGLY_TYPED",
        None,
    ]
    assert (v80.obey_flag, v82.obey_flag) == ("STRICT_TYPES", "OBEY_PRECISION_CONSTRAINTS")
    assert (v82.memory_pools, v84.memory_pools) == (False, True)
    assert (v84.compatibility_modes, v86.compatibility_modes, v86.host_code_opt_in) == (False, True, True)
    assert v86.precision_flags and not v10.precision_flags and v10.strongly_typed and v11.strongly_typed
    assert v10.platform_queries and not v11.platform_queries
    assert not v86.int8_deconvolution and v10.int8_deconvolution
    assert not v86.named_io and v10.named_io


def test_plan_loading_rules():
    v861, v862, v10 = TrtVersion.parse("8.6.1"), TrtVersion.parse("8.6.2"), TrtVersion.parse("10.3.0")
    assert v862.can_load_plan_from(TrtVersion.parse("8.6.2.3"), version_compatible=False)
    assert not v862.can_load_plan_from(v861, version_compatible=False)
    assert v862.can_load_plan_from(v861, version_compatible=True) and v10.can_load_plan_from(v861, True)
    assert not v861.can_load_plan_from(v862, version_compatible=True)  # forward only
    assert not v10.can_load_plan_from(TrtVersion.parse("8.5.2"), version_compatible=True)  # needs 8.6+


def test_trtexec_options_per_release():
    opts = {line: TrtVersion.for_line(line).trtexec_options for line in LINES}
    assert "--precisionConstraints" not in opts["trt8.0"] and "--layerPrecisions" not in opts["trt8.2"]
    assert {"--precisionConstraints", "--layerPrecisions", "--memPoolSize"} <= opts["trt8.5"]
    assert "--versionCompatible" not in opts["trt8.5"] and "--versionCompatible" in opts["trt8.6"]
    assert "--workspace" in opts["trt8.6"] and "--workspace" not in opts["trt10"]
    assert "--stronglyTyped" in opts["trt10"] and not {"--fp16", "--calib", "--layerPrecisions"} & opts["trt11"]
    assert all("--noTF32" in o for o in opts.values())
