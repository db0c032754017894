"""Fixtures for the calibration tests: hand-built deploy dirs (no torch, milliseconds to build)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def graphs(calib_graphs) -> ModuleType:
    """The helper module ``calib_graphs`` (build_graph, make_deploy, SIZE, FRAMES)."""
    return calib_graphs


@pytest.fixture(params=["native", "gather"])
def deploy(request, tmp_path, graphs) -> Path:
    """Deploy dir with the test network's FP32 graph, once per warp mode."""
    return graphs.make_deploy(tmp_path / f"deploy-{request.param}", graphs.build_graph(request.param), request.param)


@pytest.fixture
def native_deploy(tmp_path, graphs) -> Path:
    return graphs.make_deploy(tmp_path / "deploy", graphs.build_graph("native"), "native", target="trt8.5")


@pytest.fixture
def fast(tmp_path):
    """CalibOptions for tests: few samples, private cache dir, no progress bars."""
    from b2v_edge.calib.options import CalibOptions

    return replace(
        CalibOptions(),
        samples=12,
        eval_samples=2,
        oversample=1.5,
        progress=False,
        cache_dir=tmp_path / "cache",
        speed_runs=2,
    )
