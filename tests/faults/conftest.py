"""Fixtures of the fault-injection tests; helpers live in fault_helpers.py."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from fault_helpers import TINY


@pytest.fixture
def outside(tmp_path) -> Path:
    """Files outside every deploy dir of a test: they must never change."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.txt").write_text("keep me")
    (folder / "evil.onnx").write_bytes(b"not yours")
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> List[Path]:
    """Two tiny checkpoints (different weights) for export runs."""
    import torch

    from b2v_edge.checkpoint import save_checkpoint
    from b2v_edge.model import build_model

    root = tmp_path_factory.mktemp("ckpt")
    out = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        out.append(save_checkpoint(root / f"tiny{seed}.pt", build_model("lite", 3, **TINY), {}))
    return out
