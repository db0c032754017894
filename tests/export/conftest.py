"""Fixtures for the export tests (helpers in export_helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
import torch
from export_helpers import TinyWarpNet, perturb, tiny_blur2video


@pytest.fixture
def warp_net() -> TinyWarpNet:
    torch.manual_seed(0)
    return perturb(TinyWarpNet())


@pytest.fixture(scope="session")
def onnx_files(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """TinyWarpNet exported as native / gather / gather-opset13 / native-dynamic (64x64)."""
    from b2v_edge.export.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    net = perturb(TinyWarpNet())
    return {
        "native": export_onnx(net, root / "native.onnx", 64, 64, warp="native"),
        "gather": export_onnx(net, root / "gather.onnx", 64, 64, warp="gather"),
        "gather13": export_onnx(net, root / "gather13.onnx", 64, 64, warp="gather", opset=13),
        "dynamic": export_onnx(net, root / "dynamic.onnx", 64, 64, batch=2, dynamic=True, warp="native"),
    }


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from b2v_edge.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return save_checkpoint(path, tiny_blur2video(), {"note": "export tests"})


@pytest.fixture(scope="session")
def tiny_deploy(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path):
    """The whole pipeline once: tiny Blur2Video, fp16 (+ fp32), native warp, trt10, 64x64."""
    from b2v_edge.export.api import ExportOptions, export

    out = tmp_path_factory.mktemp("deploy") / "d"
    options = ExportOptions(out_dir=out, checkpoint=str(tiny_checkpoint), precision="fp16", height=64, width=64)
    return export(options)
