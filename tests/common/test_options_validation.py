"""Every options / config dataclass is frozen and refuses a bad value on construction.

The refusal is a :class:`B2VError` (the CLI prints it as one ``error:`` line) whose message names the
field, on one line.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict

import pytest

from b2v_edge.common.errors import B2VError


def _model(**kw: Any) -> Any:
    from b2v_edge.model.network import ModelConfig

    return ModelConfig(**kw)


def _loss(**kw: Any) -> Any:
    from b2v_edge.losses import LossConfig

    return LossConfig(**kw)


def _train(**kw: Any) -> Any:
    from b2v_edge.train import TrainOptions

    return TrainOptions(**kw)


def _dead_leaves(**kw: Any) -> Any:
    from b2v_edge.data.deadleaves import DeadLeavesOptions

    return DeadLeavesOptions(**kw)


def _export(**kw: Any) -> Any:
    from b2v_edge.export.options import ExportOptions

    return ExportOptions(**{"out_dir": "deploy", **kw})


def _build(**kw: Any) -> Any:
    from b2v_edge.export.trt_recipe import BuildOptions

    return BuildOptions(**kw)


def _calib(**kw: Any) -> Any:
    from b2v_edge.calib.options import CalibOptions

    return CalibOptions(**kw)


def _run(**kw: Any) -> Any:
    from b2v_edge.runtime.options import RunOptions

    return RunOptions(**{"model": "deploy", **kw})


def _parity(**kw: Any) -> Any:
    from b2v_edge.verify.parity import ParityOptions

    return ParityOptions(**{"deploy_dir": "deploy", **kw})


def _bench(**kw: Any) -> Any:
    from b2v_edge.verify.bench import BenchOptions

    return BenchOptions(**{"deploy_dir": "deploy", "threads": 1, **kw})


# factory, one bad field, its value, a word the message must contain
CASES: Dict[str, tuple] = {
    "ModelConfig": (_model, "frames", 4, "frames"),
    "ModelConfig.enc_channels": (_model, "enc_channels", (8, 8), "enc_channels"),
    "ModelConfig.block": (_model, "block", "resnet", "block"),
    "LossConfig": (_loss, "pixel", "l2", "pixel"),
    "LossConfig.middle_weight": (_loss, "middle_weight", 0.0, "--middle-weight"),
    "LossConfig.scale_weights": (_loss, "scale_weights", (1.0,), "scale_weights"),
    "TrainOptions": (_train, "crop", 40, "--crop"),
    "TrainOptions.threads": (_train, "threads", -1, "--threads"),
    "DeadLeavesOptions": (_dead_leaves, "textured", 1.5, "textured"),
    "ExportOptions": (_export, "precision", "fp8", "precision"),
    "BuildOptions": (_build, "workspace_mib", 1, "workspace"),
    "CalibOptions": (_calib, "bins", 0, "bins"),
    "RunOptions": (_run, "show", "all", "show"),
    "ParityOptions": (_parity, "worst", -1, "worst"),
    "BenchOptions": (_bench, "runs", 0, "--runs"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_value_raises_a_one_line_project_error(case: str) -> None:
    factory, name, value, word = CASES[case]
    with pytest.raises(B2VError) as info:
        factory(**{name: value})
    message = str(info.value)
    assert isinstance(info.value, ValueError)  # bad input: `except ValueError` in user code still catches it
    assert word in message and "\n" not in message


@pytest.mark.parametrize("factory", sorted({c[0] for c in CASES.values()}, key=lambda f: f.__name__))
def test_options_are_frozen(factory: Callable[..., Any]) -> None:
    options = factory()
    first = dataclasses.fields(options)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, first, getattr(options, first))


def test_replace_validates_again() -> None:
    from b2v_edge.runtime.options import RunError

    with pytest.raises(RunError, match="fit"):
        dataclasses.replace(_run(), fit="stretch")
