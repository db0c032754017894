"""b2v_edge/common/dataspec.py: the one --data grammar and its table of kinds."""

from __future__ import annotations

import pytest

from b2v_edge.common.dataspec import KINDS, DataSpecError, DataTerm, describe, kinds_for, parse_data_spec


def test_single_terms():
    assert parse_data_spec("synthetic", "eval").single == DataTerm("synthetic")
    assert parse_data_spec("photos:/a/b c", "train").single == DataTerm("photos", "/a/b c")
    assert parse_data_spec("  Video:clip.mp4 ", "train").single == DataTerm("video", "clip.mp4")


def test_weighted_mix_for_training():
    spec = parse_data_spec("3*deadleaves+photos:data/photos+0.5*video:x.mp4", "train", allow_mix=True)
    assert [(t.kind, t.arg, t.weight) for t in spec.terms] == [
        ("deadleaves", None, 3.0),
        ("photos", "data/photos", 1.0),
        ("video", "x.mp4", 0.5),
    ]
    assert str(spec) == "3*deadleaves+photos:data/photos+0.5*video:x.mp4" and spec.single is None


def test_plus_inside_a_path_is_not_a_separator():
    spec = parse_data_spec("photos:/data/a+b/c+frames:/x", "train", allow_mix=True)
    assert [t.arg for t in spec.terms] == ["/data/a+b/c", "/x"]


@pytest.mark.parametrize(
    ("text", "command", "message"),
    [
        ("", "train", "--data is empty; accepted forms: synthetic"),
        ("nope", "eval", "unknown kind 'nope'"),
        ("photos", "train", "photos needs a DIR: write photos:DIR"),
        ("deadleaves:3", "train", "deadleaves takes no argument"),
        ("images:dir", "train", "`train` cannot use it \\(it has no sharp ground-truth frames\\)"),
        ("camera:0", "parity", "`parity` cannot use it"),
        ("deadleaves+synthetic", "eval", "`eval` takes one source, got a mix"),
        ("0*deadleaves", "train", "weight must be > 0"),
    ],
)
def test_errors_are_one_line_and_say_what_to_do(text, command, message):
    with pytest.raises(DataSpecError, match=message) as info:
        parse_data_spec(text, command, allow_mix=command == "train")
    assert "\n" not in str(info.value)


def test_each_command_states_its_kinds():
    train = {k.name for k in kinds_for("train")}
    calibrate = {k.name for k in kinds_for("calibrate")}
    assert "images" not in train and {"images", "camera"} <= calibrate
    assert all(KINDS[k].ground_truth for k in train)
    assert describe("parity").startswith("synthetic | deadleaves | photos:DIR")
    with pytest.raises(ValueError):
        parse_data_spec("synthetic", "no-such-command")


def test_a_new_kind_is_one_table_row(monkeypatch):
    from b2v_edge.common import dataspec

    toy = dataspec.DataKind("toy", "N", True, ("train",), "a toy kind")
    monkeypatch.setitem(dataspec.KINDS, "toy", toy)
    spec = parse_data_spec("deadleaves+toy:3", "train", allow_mix=True)
    assert spec.terms[1] == DataTerm("toy", "3") and "toy:N" in describe("train")
