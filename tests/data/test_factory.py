"""b2v_edge/data/factory.py: --data spec -> source, weighted mixes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from b2v_edge.common.dataspec import DataSpecError
from b2v_edge.data.factory import BUILDERS, MixedSource, SourceRequest, make_source
from b2v_edge.data.synthetic import SyntheticBlur


def test_every_ground_truth_kind_has_a_builder():
    from b2v_edge.common.dataspec import KINDS

    assert {k for k, v in KINDS.items() if v.ground_truth} == set(BUILDERS)


def test_mix_follows_the_weights_and_is_seeded(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((80, 80, 3), 60 * i, np.uint8))
    req = SourceRequest(frames=3, split="train", size=(32, 32), seed=4)
    mix = make_source(f"3*deadleaves+photos:{tmp_path}", req)
    assert isinstance(mix, MixedSource) and mix.frames == 3 and mix.unbounded
    parts = [mix.part_of(i) for i in range(400)]
    assert 0.65 < parts.count(0) / 400 < 0.85
    a, b = mix[17], make_source(f"3*deadleaves+photos:{tmp_path}", req)[17]
    np.testing.assert_array_equal(a.blurred, b.blurred)
    assert a.meta["part"] == mix.part_of(17)


def test_mix_is_for_training_only():
    with pytest.raises(DataSpecError, match="takes one source"):
        make_source("deadleaves+synthetic", SourceRequest(), command="eval")


def test_single_kinds_build_their_source(tmp_path):
    req = SourceRequest(frames=3, split="test", size=(32, 32), length=2)
    assert isinstance(make_source("synthetic", req, "eval"), SyntheticBlur)
    dl = make_source("deadleaves", req, "eval")
    assert dl.name == "deadleaves-test" and dl[0].frames.shape == (3, 32, 32, 3)


def test_a_new_kind_is_one_registry_entry(monkeypatch):
    from b2v_edge.common import dataspec

    monkeypatch.setitem(dataspec.KINDS, "toy", dataspec.DataKind("toy", None, True, ("train",), "toy"))
    monkeypatch.setitem(BUILDERS, "toy", lambda term, req: SyntheticBlur(req.frames, req.size, req.split, length=3))
    src = make_source("toy", SourceRequest(frames=3, size=(16, 16)))
    assert src.frames == 3 and src[0].blurred.shape == (16, 16, 3)
