"""Fixtures for the runtime tests: tiny deploy dirs and videos built in tmp_path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _helpers():
    name = "b2v_runtime_test_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("onnx_models.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def models():
    """The helper module (make_onnx, make_deploy, add_plan, write_video, expected_output)."""
    return _helpers()


@pytest.fixture
def deploy(tmp_path, models) -> Path:
    """Deploy dir with fp32 + fp16 ONNX of the test model (N=3, 16x24)."""
    return models.make_deploy(tmp_path / "deploy")


@pytest.fixture
def video(tmp_path, models) -> Path:
    """A 12-frame 48x64 MJPG video."""
    return models.write_video(tmp_path / "clip.avi", frames=12)
