"""Fixtures shared by every test folder.

Test helper modules live next to the tests that own them (tests/runtime/onnx_models.py,
tests/verify/parity_helpers.py); other folders get them through these fixtures, loaded once by
path under a fixed module name (tests/ is not a package).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).resolve().parent


def load_test_module(name: str, relpath: str) -> ModuleType:
    """The helper module at ``tests/<relpath>`` as ``sys.modules[name]`` (loaded on first use)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / relpath)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


@pytest.fixture(scope="session")
def runtime_models() -> ModuleType:
    """tests/runtime/onnx_models.py: make_onnx, make_deploy, add_plan, write_video, expected_output."""
    return load_test_module("b2v_runtime_test_helpers", "runtime/onnx_models.py")


@pytest.fixture(scope="session")
def parity_helpers() -> ModuleType:
    """tests/verify/parity_helpers.py: shared_deploy, make_deploy, break_artifact."""
    return load_test_module("parity_helpers", "verify/parity_helpers.py")


@pytest.fixture(scope="session")
def calib_graphs() -> ModuleType:
    """tests/calib/calib_graphs.py: build_graph, make_deploy (small warp graphs for calibration)."""
    return load_test_module("b2v_calib_test_graphs", "calib/calib_graphs.py")


@pytest.fixture(scope="session")
def trt_standin() -> ModuleType:
    """tests/export/trt_standin.py: StandIn (a ``tensorrt`` gated by the real API surface), StandInCuda,
    FakePyCuda, Surface."""
    return load_test_module("trt_standin", "export/trt_standin.py")
