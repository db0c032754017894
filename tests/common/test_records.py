"""Typed manifest records: defaults, values, wrong types as one-line errors at load and on access."""

from __future__ import annotations

import doctest
import json

import pytest

from b2v_edge.common import records
from b2v_edge.common.manifest import Artifact, Manifest, ManifestError
from b2v_edge.common.records import Fp16Record, PlanRecord, RecordError, VerificationRecord

SHA = "0" * 64


def _plan_extra(**over):
    extra = {
        "tensorrt_version": "8.6.2",
        "cuda_version": "12.2",
        "gpu": "Orin",
        "compute_capability": "8.7",
        "build_seconds": 41.5,
        "build_options": {"version_compatible": True, "hardware_compatibility": "none", "workspace_mib": 256},
        "profile": {"min": [1, 3, 64, 64], "opt": [1, 3, 256, 256], "max": [1, 3, 480, 640]},
    }
    extra.update(over)
    return extra


def test_plan_record_reads_every_field():
    plan = PlanRecord.from_extra(_plan_extra())
    assert (plan.tensorrt_version, plan.cuda_version, plan.gpu, plan.compute_capability) == (
        "8.6.2",
        "12.2",
        "Orin",
        "8.7",
    )
    assert plan.build_seconds == 41.5 and plan.version_compatible and not plan.hardware_compatible
    assert plan.profile["max"] == [1, 3, 480, 640] and plan.build_options["workspace_mib"] == 256


def test_missing_fields_take_not_recorded_defaults():
    plan = PlanRecord.from_extra({})
    assert plan == PlanRecord() and plan.tensorrt_version == "" and plan.build_seconds is None
    assert not plan.version_compatible and plan.profile == {}
    assert Fp16Record.from_extra({}) == Fp16Record((), ())
    assert VerificationRecord.from_extra({}).psnr_db is None


def test_fp16_and_verification_records():
    fp16 = Fp16Record.from_extra({"fp16": {"kept_fp32_nodes": ["a", "b"], "kept_fp32_tensors": ["a:0"]}})
    assert fp16 == Fp16Record(("a", "b"), ("a:0",))
    assert VerificationRecord.from_extra({"verification": {"psnr_db": 99.5, "max_abs": 1e-5}}).psnr_db == 99.5


@pytest.mark.parametrize(
    "extra, field",
    [
        (_plan_extra(tensorrt_version=10), "tensorrt_version"),
        (_plan_extra(build_seconds="slow"), "build_seconds"),
        (_plan_extra(build_options={"version_compatible": "yes"}), "version_compatible"),
        (_plan_extra(build_options={"hardware_compatibility": 1}), "hardware_compatibility"),
    ],
)
def test_wrong_types_name_the_field(extra, field):
    with pytest.raises(RecordError, match=field):
        PlanRecord.from_extra(extra)


def test_a_wrong_type_is_a_one_line_manifest_error_at_load(tmp_path):
    manifest = Manifest(tmp_path)
    manifest.artifacts.append(Artifact("model.plan", "tensorrt_plan", "fp16", SHA, extra=_plan_extra()))
    data = manifest.to_dict()
    data["artifacts"][0]["extra"]["build_options"]["version_compatible"] = "yes"
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError) as err:
        Manifest.load(tmp_path)
    assert "version_compatible" in str(err.value) and "\n" not in str(err.value)


def test_artifact_properties_are_the_typed_views():
    art = Artifact("model.plan", "tensorrt_plan", "fp16", SHA, extra=_plan_extra(fp16={"kept_fp32_nodes": ["n"]}))
    assert art.plan.gpu == "Orin" and art.fp16.kept_fp32_nodes == ("n",) and art.verification.psnr_db is None
    broken = Artifact("model.plan", "tensorrt_plan", "fp16", SHA, extra={"gpu": 7})
    with pytest.raises(ManifestError, match="artifact model.plan: extra.gpu"):
        _ = broken.plan


def test_docstring_example_holds():
    result = doctest.testmod(records)
    assert result.attempted >= 2 and result.failed == 0
