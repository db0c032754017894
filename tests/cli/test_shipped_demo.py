"""The demo deploy dir shipped in the package matches the shipped demo checkpoint."""

import numpy as np
import torch

from b2v_edge.checkpoint import demo_checkpoint_path, load_checkpoint
from b2v_edge.cli.run import default_model, shipped_demo_dir
from b2v_edge.common.manifest import Manifest, sha256_file
from b2v_edge.common.metrics import psnr
from b2v_edge.runtime import open_engine


def test_shipped_demo_onnx_matches_the_shipped_checkpoint():
    demo = shipped_demo_dir()
    manifest = Manifest.load(demo)
    assert manifest.model["checkpoint_sha256"] == sha256_file(demo_checkpoint_path()), (
        "the shipped demo ONNX was exported from another checkpoint: re-export it (see README)"
    )
    art = manifest.get("onnx", "fp32")
    manifest.verify(art)
    ck = load_checkpoint(None)
    rng = np.random.default_rng(0)
    with open_engine(demo, backend="onnxruntime", precision="fp32") as engine:
        h, w = engine.spec.input_shape[2], engine.spec.input_shape[3]
        x = rng.random((1, 3, h, w), dtype=np.float32)
        got = engine.infer(x)
    with torch.inference_mode():
        ref = ck.model(torch.from_numpy(x)).numpy()
    assert got.shape == ref.shape
    assert psnr(got, ref) >= 60.0


def test_run_defaults_to_the_shipped_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./deploy here
    assert default_model() == shipped_demo_dir()


def test_shipped_demo_reference_set_is_small_and_holds_the_checkpoint_outputs():
    from b2v_edge.verify.reference import OUTPUT_SCALE, load_reference_set

    demo = shipped_demo_dir()
    manifest = Manifest.load(demo)
    entry = manifest.parity["reference_set"]
    assert (demo / entry["path"]).stat().st_size == entry["bytes"] <= 5_000_000
    ref = load_reference_set(manifest)  # sha256-checked
    assert ref.size == (256, 256) and ref.frames == 7 and ref.ground_truth is not None
    model = load_checkpoint(None).model.eval()
    model.set_warp_mode("gather")
    x = torch.from_numpy(np.ascontiguousarray(ref.inputs[:1].transpose(0, 3, 1, 2), np.float32) / 255.0)
    with torch.inference_mode():
        expected = model(x).permute(0, 1, 3, 4, 2).numpy()
    assert np.abs(expected - ref.outputs[:1]).max() <= 0.5 / OUTPUT_SCALE + 1e-5
