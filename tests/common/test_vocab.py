"""b2v_edge/common/vocab.py: one table of precisions, file names and pass bars, used by every stage."""

from __future__ import annotations

import pytest

from b2v_edge.common import vocab
from b2v_edge.common.manifest import PRECISIONS as MANIFEST_PRECISIONS


def test_rows_are_ordered_and_named_consistently():
    assert vocab.PRECISION_NAMES == ("fp32", "fp16", "int8")
    for name, row in vocab.PRECISIONS.items():
        assert row.name == name and row.plan_name == f"model.{name}.plan"
        assert row.onnx_name.endswith(".onnx") and row.min_psnr_db > 0 and row.max_gt_drop_db > 0
    assert len({r.onnx_name for r in vocab.PRECISIONS.values()}) == len(vocab.PRECISIONS)


def test_lower_precisions_have_lower_bars():
    bars = [vocab.PRECISIONS[n].min_psnr_db for n in vocab.PRECISION_NAMES]
    assert bars == sorted(bars, reverse=True)


def test_unknown_precision_names_the_valid_ones():
    with pytest.raises(vocab.VocabularyError, match="fp32, fp16, int8"):
        vocab.precision("bf8")


def test_threshold_dicts_are_fresh_copies():
    a = vocab.min_psnr_db()
    a["int8"] = 0.0
    assert vocab.min_psnr_db()["int8"] == vocab.PRECISIONS["int8"].min_psnr_db


def test_every_stage_reads_the_same_bars():
    from b2v_edge.export.options import MIN_PSNR_DB
    from b2v_edge.verify.results import DEFAULT_MAX_GT_DROP, DEFAULT_MIN_PSNR

    assert MIN_PSNR_DB == DEFAULT_MIN_PSNR == vocab.min_psnr_db()
    assert DEFAULT_MAX_GT_DROP == vocab.max_gt_drop_db()
    assert MANIFEST_PRECISIONS == vocab.PRECISION_NAMES


def test_export_and_calibration_file_names_come_from_the_table():
    from b2v_edge.calib.api import OUTPUT_NAMES
    from b2v_edge.export.deploy import ONNX_NAMES, plan_name

    assert ONNX_NAMES == {n: r.onnx_name for n, r in vocab.PRECISIONS.items()}
    assert OUTPUT_NAMES["tensorrt"][0] == vocab.PRECISIONS["int8"].onnx_name
    assert OUTPUT_NAMES["onnxruntime"][0] == vocab.PRECISIONS["int8"].cpu_onnx_name
    assert plan_name("fp16") == "model.fp16.plan"
