"""Fixtures for the runtime tests: tiny deploy dirs and videos built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def models(runtime_models):
    """The helper module (make_onnx, make_deploy, add_plan, write_video, expected_output)."""
    return runtime_models


@pytest.fixture
def deploy(tmp_path, models) -> Path:
    """Deploy dir with fp32 + fp16 ONNX of the test model (N=3, 16x24)."""
    return models.make_deploy(tmp_path / "deploy")


@pytest.fixture
def video(tmp_path, models) -> Path:
    """A 12-frame 48x64 MJPG video."""
    return models.write_video(tmp_path / "clip.avi", frames=12)
