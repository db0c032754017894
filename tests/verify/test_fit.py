"""b2v_edge/verify/fit.py: the memory estimate of a deploy dir's artifacts from the manifest's shapes."""

from __future__ import annotations

from pathlib import Path

from b2v_edge.common.manifest import Artifact, Manifest
from b2v_edge.verify.fit import ACTIVATION_PER_OUTPUT, MIB, RUNTIME_OVERHEAD_MIB, estimate_memory, estimates


def _manifest(root: Path, shape, frames: int = 7) -> Manifest:
    (root / "model.fp16.onnx").write_bytes(b"x" * 1000)
    return Manifest(
        root=root,
        model={"frames": frames},
        input={"shape": shape, "opt_shape": [1, 3, 256, 256]},
        output={"shape": [shape[0], frames, 3, shape[2], shape[3]]},
        artifacts=[Artifact("model.fp16.onnx", "onnx", "fp16", "0" * 64)],
    )


def test_static_onnx_estimate_is_the_documented_sum(tmp_path):
    manifest = _manifest(tmp_path, [1, 3, 256, 256])
    est = estimate_memory(manifest, manifest.artifacts[0])
    out_values = 7 * 3 * 256 * 256
    assert est.input_shape == (1, 3, 256, 256) and est.shape_source == "static shape" and est.weights == 1000
    assert est.io == 2 * 4 * (3 * 256 * 256 + out_values)
    assert est.activations == ACTIVATION_PER_OUTPUT * out_values * 2  # fp16 activations
    assert est.overhead == RUNTIME_OVERHEAD_MIB * MIB and est.workspace == 256 * MIB  # build-engine's default
    assert est.run == est.overhead + est.weights + est.io + est.activations and est.build == est.run + est.workspace
    assert est.to_dict()["input_shape"] == [1, 3, 256, 256]


def test_dynamic_shapes_use_the_plan_profile_or_the_jetson_default(tmp_path):
    manifest = _manifest(tmp_path, [None, 3, None, None])
    est = estimate_memory(manifest, manifest.artifacts[0])
    assert est.input_shape == (1, 3, 480, 640) and est.shape_source == "default build profile max"
    (tmp_path / "model.fp16.plan").write_bytes(b"p" * 10)
    plan = Artifact(
        "model.fp16.plan",
        "tensorrt_plan",
        "fp16",
        "0" * 64,
        extra={"profile": {"min": [1, 3, 64, 64], "opt": [1, 3, 256, 256], "max": [2, 3, 736, 1280]}},
    )
    manifest.artifacts.append(plan)
    onnx, built = estimates(manifest)
    assert built.input_shape == (2, 3, 736, 1280) and built.shape_source == "plan profile max"
    assert built.workspace == 0 and built.build == built.run and built.weights == 10
    assert built.activations > onnx.activations
