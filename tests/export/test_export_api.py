"""The whole export on a tiny Blur2Video: deploy dir, manifest, parity, atomicity, defaults."""

from __future__ import annotations

import shutil
import stat
import subprocess

import numpy as np
import pytest
from export_helpers import TinyWarpNet, perturb

from b2v_edge.common.manifest import Artifact, Manifest, sha256_file
from b2v_edge.export import api, deploy, pipeline
from b2v_edge.export.onnx_export import ExportError, export_onnx
from b2v_edge.export.options import ExportOptions


def test_deploy_dir_contents(tiny_deploy):
    root = tiny_deploy.deploy_dir
    names = sorted(p.name for p in root.iterdir())
    assert names == [".b2v-edge", "manifest.json", "model.fp16.onnx", "model.onnx", "reference.npz"]  # no leftovers
    state = sorted(p.name for p in (root / ".b2v-edge").iterdir())
    assert len(state) == 3 and state[:2] == ["current", "gen-" + state[1][4:]] and state[2] == "lock"
    assert stat.S_IMODE((root / ".b2v-edge" / state[1]).stat().st_mode) & 0o055 == 0o055  # others may read it
    for name in ("model.onnx", "model.fp16.onnx", "reference.npz"):
        assert stat.S_IMODE((root / name).stat().st_mode) & 0o044 == 0o044  # readable like a normal file


def test_manifest_records_everything(tiny_deploy):
    manifest = Manifest.load(tiny_deploy.deploy_dir)
    fp32, fp16 = manifest.get("onnx", "fp32"), manifest.get("onnx", "fp16")
    for art in (fp32, fp16):
        manifest.verify(art)
        assert (art.warp, art.opset, art.target) == ("native", 18, "trt10")
        assert art.extra["lint"]["passed"] and art.extra["verification"]["inputs"] == 4
        assert {"torch", "onnx", "onnxruntime"} <= set(art.extra["tools"])
    assert fp32.extra["verification"]["psnr_db"] >= 60 and fp16.extra["verification"]["psnr_db"] >= 40
    kept = fp16.extra["fp16"]
    assert (
        kept["kept_fp32_count"] == len(kept["kept_fp32_nodes"]) > 0 and kept["kept_fp32_by_op"]["GridSample"] == 5 + 6
    )  # one per FTN level, one per ITN scale
    assert manifest.input["name"] == "blurred" and manifest.input["shape"] == [1, 3, 64, 64]
    assert manifest.input["color"] == "RGB" and manifest.input["range"] == [0, 1]
    assert manifest.output["name"] == "frames" and manifest.output["shape"] == [1, 3, 3, 64, 64]
    assert manifest.model["frames"] == 3 and len(manifest.model["checkpoint_sha256"]) == 64
    assert set(manifest.parity["export"]) == {"model.onnx", "model.fp16.onnx"}


def test_a_simplification_is_recorded_and_only_a_kept_unsimplified_graph_is_noted(
    tmp_path, tiny_deploy, tiny_checkpoint, monkeypatch
):
    fp32 = Manifest.load(tiny_deploy.deploy_dir).get("onnx", "fp32")
    assert fp32.extra["simplified"] and fp32.extra["simplify"].startswith("onnxsim: ")
    assert not any("onnxsim" in m for m in tiny_deploy.messages)  # a success is logged, not noted
    from b2v_edge.export.graph import SimplifyResult

    kept = "onnxsim changed the outputs by up to 0.01 (> 0.0001): kept the unsimplified graph"

    def refused(model, test_shape):
        return SimplifyResult(model, False, kept, len(model.graph.node), len(model.graph.node))

    monkeypatch.setattr(pipeline, "simplify", refused)
    options = ExportOptions(
        out_dir=tmp_path / "d", checkpoint=str(tiny_checkpoint), precision="fp32", height=64, width=64
    )
    result = pipeline.run_export(options)
    assert kept in result.messages
    assert result.manifest.get("onnx", "fp32").extra["simplified"] is False


def test_reference_set_holds_the_pytorch_outputs(tiny_deploy, tiny_checkpoint):
    """reference.npz: uint8 inputs, the PyTorch outputs on exactly those inputs (12-bit), ground truth, sha256."""
    import torch

    from b2v_edge.checkpoint import load_checkpoint
    from b2v_edge.common.manifest import sha256_file
    from b2v_edge.verify.reference import OUTPUT_SCALE, load_reference_set

    manifest = Manifest.load(tiny_deploy.deploy_dir)
    entry = manifest.parity["reference_set"]
    assert entry["path"] == "reference.npz" and entry["sha256"] == sha256_file(tiny_deploy.deploy_dir / "reference.npz")
    assert (entry["samples"], entry["size"], entry["frames"], entry["ground_truth"]) == (2, [64, 64], 3, True)
    assert entry["checkpoint_sha256"] == manifest.model["checkpoint_sha256"] and entry["data"] == "synthetic"
    ref = load_reference_set(manifest)
    assert (
        ref.inputs.dtype == np.uint8
        and ref.inputs.shape == (2, 64, 64, 3)
        and ref.ground_truth.shape == (2, 3, 64, 64, 3)
    )
    model = load_checkpoint(str(tiny_checkpoint)).model.eval()
    model.set_warp_mode("native")
    x = torch.from_numpy(np.ascontiguousarray(ref.inputs.transpose(0, 3, 1, 2), np.float32) / 255.0)
    with torch.inference_mode():
        expected = model(x).permute(0, 1, 3, 4, 2).numpy()
    assert np.abs(expected - ref.outputs).max() <= 0.5 / OUTPUT_SCALE + 1e-6
    assert 0 < np.abs(expected - ref.outputs).max()  # stored at 12 bits, not float32


def test_no_reference_samples_removes_the_reference_set(tmp_path, tiny_deploy, tiny_checkpoint):
    out = tmp_path / "noref"
    shutil.copytree(tiny_deploy.deploy_dir, out)
    options = ExportOptions(
        out_dir=out, checkpoint=str(tiny_checkpoint), precision="fp32", height=64, width=64, reference_samples=0
    )
    pipeline.run_export(options)
    assert not (out / "reference.npz").exists() and "reference_set" not in Manifest.load(out).parity


def test_runtime_opens_the_deploy_dir(tiny_deploy):
    from b2v_edge.runtime import open_engine

    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    with open_engine(tiny_deploy.deploy_dir, backend="onnxruntime", precision="fp16") as engine:
        out = engine.infer(x)
    assert out.shape == (1, 3, 3, 64, 64) and out.dtype == np.float32


@pytest.mark.skipif(shutil.which("polygraphy") is None, reason="polygraphy is not installed")
def test_polygraphy_loads_the_graph(tiny_deploy):
    result = subprocess.run(
        ["polygraphy", "run", str(tiny_deploy.deploy_dir / "model.onnx"), "--onnxrt"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "PASSED" in result.stdout + result.stderr


def test_failed_verification_leaves_nothing(tmp_path, tiny_checkpoint, monkeypatch):
    """A graph that does not reproduce PyTorch is refused; no file, no manifest, no created dir."""

    def wrong_graph(model, path, *args, **kwargs):  # exports another network: numerics disagree
        return export_onnx(perturb(TinyWarpNet()), path, 64, 64)

    monkeypatch.setattr(pipeline, "export_onnx", wrong_graph)
    out = tmp_path / "new"
    with pytest.raises(ExportError, match="disagrees with PyTorch|does not run"):
        pipeline.run_export(
            ExportOptions(out_dir=out, checkpoint=str(tiny_checkpoint), precision="fp32", height=64, width=64)
        )
    assert not out.exists()


def test_failure_keeps_an_existing_deploy_dir_intact(tmp_path, tiny_deploy, tiny_checkpoint, monkeypatch):
    existing = tmp_path / "existing"
    shutil.copytree(tiny_deploy.deploy_dir, existing)
    before = {p.name: p.read_bytes() for p in existing.iterdir() if p.is_file()}
    monkeypatch.setattr(pipeline, "export_onnx", lambda *a, **k: (_ for _ in ()).throw(ExportError("boom")))
    with pytest.raises(ExportError, match="boom"):
        pipeline.run_export(ExportOptions(out_dir=existing, checkpoint=str(tiny_checkpoint), height=64, width=64))
    assert {p.name: p.read_bytes() for p in existing.iterdir() if p.is_file()} == before


def test_out_dir_that_is_a_file(tmp_path, tiny_checkpoint):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(ExportError, match="not a directory|not writable"):
            pipeline.run_export(ExportOptions(out_dir=out, checkpoint=str(tiny_checkpoint), height=64, width=64))


def _art(path: str, kind: str = "onnx", precision: str = "fp32", **extra) -> Artifact:
    return Artifact(
        path=path, kind=kind, precision=precision, sha256="0" * 64, warp="native", opset=18, target="trt10", extra=extra
    )


def test_stale_artifacts_are_removed_only_when_the_model_changes(tmp_path):
    manifest = Manifest(root=tmp_path, model={"checkpoint_sha256": "a"}, input={"shape": [1, 3, 64, 64]})
    manifest.artifacts = [
        _art("model.onnx"),
        _art("model.int8.onnx", precision="int8"),
        _art("model.fp16.plan", "tensorrt_plan", "fp16"),
    ]
    for a in manifest.artifacts:
        (tmp_path / a.path).write_text("x")
    same = {"checkpoint_sha256": "a", "shape": [1, 3, 64, 64], "warp": "native", "opset": 18, "target": "trt10"}
    messages = deploy.drop_stale(manifest, same, ["model.onnx"])
    assert [a.path for a in manifest.artifacts] == [
        "model.onnx",
        "model.int8.onnx",
    ]  # int8 kept, plan's source re-exported
    assert messages == ["removed stale model.fp16.plan (its source graph was re-exported)"]
    messages = deploy.drop_stale(manifest, {**same, "shape": [1, 3, 128, 128]}, ["model.onnx"])
    assert messages == ["removed stale model.int8.onnx (shape changed)"] and not (tmp_path / "model.int8.onnx").exists()


def test_export_default_uses_the_portable_choice(tmp_path, monkeypatch):
    seen = {}

    def fake_run(options, log=None):
        seen["options"] = options
        return pipeline.ExportResult(options.out_dir, Manifest(root=options.out_dir), [], {}, [], 0.0)

    monkeypatch.setattr(api, "run_export", fake_run)
    assert api.export_default(tmp_path / "demo") == tmp_path / "demo"
    opts = seen["options"]
    assert (opts.precision, opts.target, opts.warp, opts.opset, opts.checkpoint) == (
        "fp16",
        "trt8.0",
        "gather",
        13,
        None,
    )


@pytest.mark.slow
@pytest.mark.parametrize("warp,dynamic", [("native", False), ("gather", False), ("native", True), ("gather", True)])
def test_demo_checkpoint_exports(tmp_path, warp, dynamic):
    """Done-means check on the real demo checkpoint (minutes each on 2 cores): fp16, both warps, both shapes."""
    from b2v_edge.checkpoint import demo_checkpoint_path

    if not demo_checkpoint_path().exists():
        pytest.skip("the demo checkpoint is not in this install")
    result = api.export(ExportOptions(out_dir=tmp_path / "d", warp=warp, dynamic=dynamic, target="trt10"))
    assert result.verifications["fp32"].psnr_db >= 60 and result.verifications["fp16"].psnr_db >= 40


def test_int8_step_calls_calibration_then_lints_and_verifies(tmp_path, tiny_deploy, tiny_checkpoint):
    """export --precision int8 after the fp32 graph: the calibration module's Q/DQ graph, linted + verified."""
    pytest.importorskip("b2v_edge.calib.api")
    from b2v_edge.calib.options import CalibOptions
    from b2v_edge.checkpoint import load_checkpoint
    from b2v_edge.export.int8 import export_int8
    from b2v_edge.export.numerics import make_inputs, torch_outputs, verification_shapes

    deploy_dir = tmp_path / "i8"
    shutil.copytree(tiny_deploy.deploy_dir, deploy_dir)
    calib = CalibOptions(samples=8, eval_samples=2, progress=False, use_cache=False, cache_dir=tmp_path / "cache")
    options = ExportOptions(
        out_dir=deploy_dir, checkpoint=str(tiny_checkpoint), precision="int8", height=64, width=64, calib=calib
    )
    inputs = make_inputs(verification_shapes(2, 1, 64, 64, False), frames=3)
    reference = torch_outputs(load_checkpoint(str(tiny_checkpoint)).model, inputs)
    art, verification = export_int8(Manifest.load(deploy_dir), options, reference, inputs, lambda _m: None)
    manifest = Manifest.load(deploy_dir)
    assert art.precision == "int8" and manifest.get("onnx", "int8").path == art.path
    manifest.verify(manifest.get("onnx", "int8"))
    assert verification.psnr_db >= 25 and art.extra["lint"]["passed"]
    assert manifest.parity["export"][art.path]["precision"] == "int8"


def test_int8_export_result_lists_the_int8_graph(tmp_path, tiny_checkpoint, monkeypatch):
    """The summary of `export --precision int8` comes from result.manifest: it must hold the INT8 entry
    that calibration added to the deploy dir after the fp32 graph was published."""
    from b2v_edge.export import int8

    def calibrated(manifest, options, reference, inputs, log):
        on_disk = Manifest.load(manifest.root)  # what calibration does: its own manifest round trip
        shutil.copy(manifest.root / "model.onnx", manifest.root / "model.int8.onnx")
        art = _art("model.int8.onnx", precision="int8")
        art.sha256 = sha256_file(manifest.root / "model.int8.onnx")
        on_disk.upsert(art)
        on_disk.save()
        return art, None

    monkeypatch.setattr(int8, "export_int8", calibrated)
    options = ExportOptions(
        out_dir=tmp_path / "i8", checkpoint=str(tiny_checkpoint), precision="int8", height=64, width=64
    )
    result = pipeline.run_export(options)
    assert [a.path for a in result.manifest.artifacts] == ["model.onnx", "model.int8.onnx"]


def test_naf_model_exports_for_the_oldest_target(tmp_path):
    """NAF blocks (LayerNorm, SimpleGate, channel attention) export at opset 13 with the gather warp (TensorRT 8.0)."""
    import onnx
    import torch
    from tiny_model import TINY

    from b2v_edge.checkpoint import save_checkpoint
    from b2v_edge.model import build_model

    torch.manual_seed(0)
    naf = dict(TINY, block="naf", enc_blocks=(1, 1, 1, 1, 2), mid_blocks=(1, 1, 1, 1, 0))
    model = perturb(build_model("lite", 3, **naf))
    ckpt = save_checkpoint(tmp_path / "naf.pt", model, {"note": "naf export"})
    opts = ExportOptions(
        out_dir=tmp_path / "d", checkpoint=str(ckpt), precision="fp32", target="trt8.0", height=64, width=64
    )
    result = api.export(opts)
    graph = onnx.load(str(result.deploy_dir / "model.onnx"))
    assert graph.opset_import[0].version == 13 and "GridSample" not in {n.op_type for n in graph.graph.node}
    assert "Split" not in {n.op_type for n in graph.graph.node}
    assert result.verifications["fp32"].psnr_db >= 60
