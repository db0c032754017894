"""export/trt_command.py: trtexec lines each release's trtexec accepts, that fit in one argument, and that
do the same build as ``build_engine`` (same graph, flags, pins, TF32, workspace, profile, caches)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Dict, List

import pytest
from export_helpers import make_deploy
from trt_standin import StandIn, StandInCuda

from b2v_edge.common.manifest import Manifest
from b2v_edge.common.trt_version import LINE_RELEASES, TrtVersion
from b2v_edge.export import trt_command
from b2v_edge.export.trt_build import BuildOptions, TensorRTUnavailable, build_engine
from b2v_edge.export.trt_command import MAX_ARG_BYTES, trtexec_command
from b2v_edge.export.trt_recipe import plan_recipe


def _args(command: str) -> Dict[str, str]:
    parts = shlex.split(command)
    assert parts[0] == "trtexec", command
    return dict((p.split("=", 1) + [""])[:2] for p in parts[1:])


_FLAG_OPTIONS = {
    "FP16": "--fp16",
    "INT8": "--int8",
    "OBEY_PRECISION_CONSTRAINTS": "--precisionConstraints",
    "VERSION_COMPATIBLE": "--versionCompatible",
}
CASES = [
    (line, precision, extra)
    for line in LINE_RELEASES
    for precision in ("fp32", "fp16", "int8")
    for extra in ([{}, {"version_compatible": True}] if TrtVersion.for_line(line).compatibility_modes else [{}])
    if not (precision == "int8" and line in ("trt8.0", "trt8.2"))  # Maxwell Nano generation: no INT8
]


@pytest.mark.parametrize("line, precision, extra", CASES)
def test_trtexec_line_and_build_engine_do_the_same_build(trt_deploys, line, precision, extra, tmp_path):
    deploy = trt_deploys[line]
    version = TrtVersion.for_line(line)
    options = BuildOptions(precision=precision, timing_cache=tmp_path / "t.cache", **extra)
    trt = StandIn(str(version))
    art = build_engine(deploy, options, trt=trt, cuda=StandInCuda(cc="8.6"))
    command = trtexec_command(Manifest.load(deploy), options, version)
    set_flags = [c[1] for c in trt.calls if c[0] == "IBuilderConfig.set_flag"]
    if "STRICT_TYPES" in set_flags or (
        art.extra["fp32_pins"]["pinned"] and "--layerPrecisions" not in version.trtexec_options
    ):
        # trtexec 8.0 / 8.2 cannot pin layer precisions: the equivalent command is build-engine itself
        assert shlex.split(command)[:5] == ["b2v-edge", "build-engine", str(deploy), "--precision", precision]
        assert ("--version-compatible" in command) == bool(extra)
        return
    args = _args(command)
    unknown = {k for k in args if k not in version.trtexec_options}
    assert not unknown, f"trtexec {version} has no {unknown}"
    assert args["--onnx"] == str(deploy / art.extra["source"])  # same graph
    assert ("--stronglyTyped" in args) == (art.extra["network"] == "strongly_typed" and version.major == 10)
    assert {_FLAG_OPTIONS[f] for f in set_flags} == {k for k in args if k in _FLAG_OPTIONS.values()}
    assert "--noTF32" in args and art.extra["cleared_flags"] == ["TF32"]
    assert ("--layerPrecisions" in args) == bool(art.extra["fp32_pins"]["pinned"])
    if "--layerPrecisions" in args:
        _same_pins(args["--layerPrecisions"], deploy)
    pool = args.get("--memPoolSize") or args.get("--workspace")
    assert pool.split(":")[-1] == str(options.workspace_mib)
    assert args["--timingCacheFile"] == str(tmp_path / "t.cache")
    assert ("--calib" in args) == (art.extra["precision_mode"] == "calibration")
    assert args["--saveEngine"] == str(deploy / art.path)
    assert all(len(a.encode()) < MAX_ARG_BYTES for a in shlex.split(command))


def _same_pins(spec: str, deploy: Path) -> None:
    """Under the trtexec spec exactly the nodes ``build_engine`` pins run in fp32; the others in fp16."""
    import onnx

    kept = set(Manifest.load(deploy).get("onnx", "fp16").extra["fp16"]["kept_fp32_nodes"])
    entries = dict(item.rsplit(":", 1) for item in spec.split(","))
    default = entries.pop("*", None)
    for node in onnx.load(str(deploy / "model.onnx")).graph.node:
        assert entries.get(node.name, default) == ("fp32" if node.name in kept else "fp16"), node.name


def test_trt80_fp16_line_is_build_engine(trt_deploys):
    """trtexec 8.0 has neither --precisionConstraints nor --layerPrecisions (8.2 lacks the latter)."""
    for line in ("trt8.0", "trt8.2"):
        command = trtexec_command(Manifest.load(trt_deploys[line]), BuildOptions(precision="fp16", workspace_mib=512))
        assert command.startswith("b2v-edge build-engine") and "--workspace 512" in command
        assert "--precisionConstraints" not in command and "--layerPrecisions" not in command


def test_trt85_fp16_line_pins_with_a_default(trt_deploys):
    args = _args(trtexec_command(Manifest.load(trt_deploys["trt8.5"]), BuildOptions(precision="fp16")))
    assert args["--layerPrecisions"].startswith("*:fp32,") and args["--precisionConstraints"] == "obey"
    assert "--memPoolSize" in args and "--workspace" not in args and "--noTF32" in args


def test_v10_fp32_line_is_strongly_typed_like_the_build(trt_deploys):
    args = _args(trtexec_command(Manifest.load(trt_deploys["trt10"]), BuildOptions(precision="fp32")))
    assert "--stronglyTyped" in args and "--fp16" not in args


def test_v11_line_has_no_precision_flags(trt_deploys):
    for precision in ("fp16", "int8"):
        args = _args(trtexec_command(Manifest.load(trt_deploys["trt11"]), BuildOptions(precision=precision)))
        assert not {"--fp16", "--int8", "--stronglyTyped", "--calib"} & set(args)
        assert args["--onnx"].endswith(f"model.{precision}.onnx")


def test_compatibility_options_are_printed(trt_deploys):
    opts = BuildOptions(version_compatible=True, hardware_compatibility="ampere+")
    args = _args(trtexec_command(Manifest.load(trt_deploys["trt10"]), opts))
    assert "--versionCompatible" in args and args["--hardwareCompatibilityLevel"] == "ampere+"


def _fake_recipe(trt_deploys, kept: List[str]):
    recipe = plan_recipe(Manifest.load(trt_deploys["trt8.6"]), BuildOptions(), TrtVersion.parse("8.6.1"))
    return replace(recipe, keep_fp32=tuple(kept))


def test_layer_precisions_fit_in_one_argument(trt_deploys, monkeypatch):
    """The demo keeps 5,247 of 5,758 nodes: listing them is ~197 KB, over execve's 128 KiB per argument."""
    kept = [f"/others.{i % 6}/ftn.0/stn/warp/node_Mul_{i}" for i in range(5247)]
    free = [f"/middle/dense.{i}/conv/Conv" for i in range(511)]
    recipe = _fake_recipe(trt_deploys, kept)
    monkeypatch.setattr(trt_command, "_graph_nodes", lambda path: kept + free)
    arg = trt_command.layer_precisions(recipe, Path("model.onnx"))
    assert arg.startswith("--layerPrecisions=*:fp32,") and len(arg.encode()) < MAX_ARG_BYTES
    assert arg.count(":fp16") == len(free)
    monkeypatch.setattr(trt_command, "_graph_nodes", lambda path: None)  # no onnx: the kept list is too long
    assert len(",".join(f"{n}:fp32" for n in kept)) > MAX_ARG_BYTES
    assert trt_command.layer_precisions(recipe, Path("model.onnx")) is None


def test_without_tensorrt_build_engine_raises_with_the_command(trt_deploys, monkeypatch):
    import b2v_edge.export.trt_build as tb

    monkeypatch.setattr(tb, "find_tensorrt", lambda: None)
    deploy = trt_deploys["trt10"]
    with pytest.raises(TensorRTUnavailable) as info:
        build_engine(deploy, BuildOptions())
    cmd = info.value.command
    assert cmd.startswith("trtexec ") and f"--onnx={deploy}/model.fp16.onnx" in cmd and "--stronglyTyped" in cmd
    assert f"--saveEngine={deploy}/model.fp16.plan" in cmd and "--timingCacheFile=" in cmd and "--noTF32" in cmd


def test_trtexec_command_dynamic_shapes(tmp_path, onnx_files):
    deploy = make_deploy(tmp_path / "dyn", onnx_files["dynamic"], dynamic=True)
    cmd = trtexec_command(Manifest.load(deploy), BuildOptions(precision="fp32"))
    assert "--minShapes=blurred:1x3x64x64" in cmd and "--optShapes=blurred:2x3x64x64" in cmd
    assert "--maxShapes=blurred:2x3x480x640" in cmd
