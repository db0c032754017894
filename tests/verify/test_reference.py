"""b2v_edge/verify/reference.py: the reference set file, its manifest entry and its checks."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from b2v_edge.common.manifest import Manifest
from b2v_edge.verify.reference import (
    MANIFEST_KEY,
    OUTPUT_SCALE,
    REFERENCE_NAME,
    ReferenceSet,
    build_reference_set,
    load_reference_set,
    record_reference_set,
)
from b2v_edge.verify.results import ParityError

SHA = "ab" * 32


def _set(k: int = 2, n: int = 3, h: int = 8, w: int = 12, gt: bool = True, seed: int = 0) -> ReferenceSet:
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 256, (k, h, w, 3), dtype=np.uint8)
    outputs = rng.random((k, n, h, w, 3), dtype=np.float32)
    truth = rng.random((k, n, h, w, 3), dtype=np.float32) if gt else None
    return ReferenceSet(inputs, outputs, truth, {"data": "synthetic", "seed": 0, "checkpoint_sha256": SHA})


def test_save_load_round_trip(tmp_path):
    ref = _set()
    path = ref.save(tmp_path / "r.npz")
    back = ReferenceSet.load(path)
    assert np.array_equal(back.inputs, ref.inputs) and (back.count, back.frames, back.size) == (2, 3, (8, 12))
    assert np.abs(back.outputs - ref.outputs).max() <= 0.5 / OUTPUT_SCALE + 1e-7
    assert np.abs(back.ground_truth - ref.ground_truth).max() <= 0.5 / 255 + 1e-7
    assert back.meta["data"] == "synthetic" and back.meta["schema_version"] == 1 and back.resolution == 1 / OUTPUT_SCALE
    with np.load(path, allow_pickle=False) as data:  # plain numpy, no pickle
        assert set(data.files) == {"inputs", "outputs", "ground_truth", "meta"} and data["outputs"].dtype == np.uint16
    assert {i.compress_type for i in zipfile.ZipFile(path).infolist()} == {zipfile.ZIP_LZMA}
    samples = back.samples(1)
    assert len(samples) == 1 and samples[0].blurred.dtype == np.float32
    assert np.array_equal(samples[0].blurred, ref.inputs[0] / np.float32(255.0))
    assert samples[0].frames.shape == (3, 8, 12, 3) and len(back.reference_outputs()) == 2


def test_without_ground_truth(tmp_path):
    back = ReferenceSet.load(_set(gt=False).save(tmp_path / "r.npz"))
    assert back.ground_truth is None and all(s.frames is None for s in back.samples())


def test_bad_arrays_and_files(tmp_path):
    ref = _set()
    with pytest.raises(ParityError, match="uint8"):
        ReferenceSet(ref.inputs.astype(np.float32), ref.outputs)
    with pytest.raises(ParityError, match="outputs must be"):
        ReferenceSet(ref.inputs, ref.outputs[:, :, :4])
    with pytest.raises(ParityError, match="ground truth"):
        ReferenceSet(ref.inputs, ref.outputs, ref.ground_truth[:, :2])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ParityError, match="not a readable reference set"):
        ReferenceSet.load(junk)


def _deploy(tmp_path: Path, ref: ReferenceSet) -> Manifest:
    manifest = Manifest(root=tmp_path, model={"checkpoint_sha256": SHA, "frames": 3})
    record_reference_set(manifest, ref.save(tmp_path / REFERENCE_NAME), ref)
    manifest.save()
    return Manifest.load(tmp_path)


def test_manifest_entry_and_load(tmp_path):
    manifest = _deploy(tmp_path, _set())
    entry = manifest.parity[MANIFEST_KEY]
    assert entry["path"] == REFERENCE_NAME and len(entry["sha256"]) == 64 and entry["bytes"] > 0
    assert (entry["samples"], entry["size"], entry["frames"], entry["ground_truth"]) == (2, [8, 12], 3, True)
    assert load_reference_set(manifest).count == 2
    assert load_reference_set(Manifest(root=tmp_path)) is None  # nothing listed: no set


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda root, m: open(root / REFERENCE_NAME, "ab").write(b"\0"), "does not match the manifest"),
        (lambda root, m: (root / REFERENCE_NAME).unlink(), "listed in the manifest but missing"),
        (lambda root, m: m.parity[MANIFEST_KEY].update(path="../elsewhere.npz"), "inside the deploy dir"),
        (lambda root, m: m.model.update(checkpoint_sha256="cd" * 32), "another checkpoint"),
    ],
)
def test_load_refuses_a_damaged_or_foreign_set(tmp_path, damage, match):
    manifest = _deploy(tmp_path, _set())
    damage(tmp_path, manifest)
    with pytest.raises(ParityError, match=match):
        load_reference_set(manifest)


def test_build_runs_the_model_on_uint8_inputs(tmp_path, parity_helpers):
    import torch

    from b2v_edge.checkpoint import load_checkpoint

    model = load_checkpoint(parity_helpers.make_checkpoint(tmp_path / "tiny.pt")).model.eval()
    ref = build_reference_set(model, (32, 48), count=2, checkpoint_sha256=SHA)
    assert ref.inputs.shape == (2, 32, 48, 3) and ref.outputs.shape == (2, 3, 32, 48, 3)
    assert ref.ground_truth.shape == ref.outputs.shape and ref.meta["data"] == "synthetic"
    x = torch.from_numpy(ref.inputs.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    with torch.inference_mode():
        expected = model(x).permute(0, 1, 3, 4, 2).numpy()
    assert np.abs(expected - ref.outputs).max() < 1e-6  # exactly the model on the stored inputs
    with pytest.raises(ParityError, match="reference samples"):
        build_reference_set(model, (32, 48), count=0)
