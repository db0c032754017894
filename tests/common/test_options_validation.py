"""Every options / config dataclass is frozen and refuses a bad value on construction.

The refusal is a :class:`B2VError` (the CLI prints it as one ``error:`` line) whose message names the
field, on one line.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Dict

import pytest

from b2v_edge.common.errors import B2VError

#: class name -> (module, required arguments)
CLASSES: Dict[str, tuple] = {
    "ModelConfig": ("b2v_edge.model.network", {}),
    "LossConfig": ("b2v_edge.losses", {}),
    "TrainOptions": ("b2v_edge.train", {}),
    "DeadLeavesOptions": ("b2v_edge.data.deadleaves", {}),
    "ExportOptions": ("b2v_edge.export.options", {"out_dir": "deploy"}),
    "BuildOptions": ("b2v_edge.export.trt_recipe", {}),
    "CalibOptions": ("b2v_edge.calib.options", {}),
    "RunOptions": ("b2v_edge.runtime.options", {"model": "deploy"}),
    "ParityOptions": ("b2v_edge.verify.parity", {"deploy_dir": "deploy"}),
    "BenchOptions": ("b2v_edge.verify.bench", {"deploy_dir": "deploy", "threads": 1}),
}


def _make(name: str, **kw: Any) -> Any:
    module, required = CLASSES[name]
    return getattr(importlib.import_module(module), name)(**{**required, **kw})


# class, one bad field, its value, a word the message must contain
CASES: Dict[str, tuple] = {
    "ModelConfig": ("ModelConfig", "frames", 4, "frames"),
    "ModelConfig.enc_channels": ("ModelConfig", "enc_channels", (8, 8), "enc_channels"),
    "ModelConfig.block": ("ModelConfig", "block", "resnet", "block"),
    "LossConfig": ("LossConfig", "pixel", "l2", "pixel"),
    "LossConfig.middle_weight": ("LossConfig", "middle_weight", 0.0, "--middle-weight"),
    "LossConfig.scale_weights": ("LossConfig", "scale_weights", (1.0,), "scale_weights"),
    "TrainOptions": ("TrainOptions", "crop", 40, "--crop"),
    "TrainOptions.threads": ("TrainOptions", "threads", -1, "--threads"),
    "DeadLeavesOptions": ("DeadLeavesOptions", "textured", 1.5, "textured"),
    "ExportOptions": ("ExportOptions", "precision", "fp8", "precision"),
    "BuildOptions": ("BuildOptions", "workspace_mib", 1, "workspace"),
    "CalibOptions": ("CalibOptions", "bins", 0, "bins"),
    "RunOptions": ("RunOptions", "show", "all", "show"),
    "ParityOptions": ("ParityOptions", "worst", -1, "worst"),
    "BenchOptions": ("BenchOptions", "runs", 0, "--runs"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_value_raises_a_one_line_project_error(case: str) -> None:
    cls, name, value, word = CASES[case]
    with pytest.raises(B2VError) as info:
        _make(cls, **{name: value})
    message = str(info.value)
    assert isinstance(info.value, ValueError)  # bad input: `except ValueError` in user code still catches it
    assert word in message and "\n" not in message


@pytest.mark.parametrize("cls", sorted(CLASSES))
def test_options_are_frozen(cls: str) -> None:
    options = _make(cls)
    first = dataclasses.fields(options)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, first, getattr(options, first))


def test_replace_validates_again() -> None:
    from b2v_edge.runtime.options import RunError

    with pytest.raises(RunError, match="fit"):
        dataclasses.replace(_make("RunOptions"), fit="stretch")
