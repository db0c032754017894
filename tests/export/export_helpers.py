"""Helpers for the export tests: a tiny warp network built from the real blocks, a tiny Blur2Video.

Exporting the full Blur2Video is the slow part (torch.export traces hundreds of ops), so most tests
use :class:`TinyWarpNet` - the real STN regressor, flow head and warp functions in a few ops - and
only the session-scoped ``tiny_deploy`` fixture runs the whole pipeline on a tiny Blur2Video.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Tuple

import torch
import torch.nn as nn
from tiny_model import TINY

from b2v_edge.model.blocks import AffineRegressor, FlowHead
from b2v_edge.model.warp import affine_warp, flow_warp


class TinyWarpNet(nn.Module):
    """conv -> (STN affine warp, flow warp) -> conv -> ``[B, 2, 3, H, W]`` in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.stn = AffineRegressor(4, 4)
        self.flow = FlowHead(4, 4, pool=2)
        self.head = nn.Conv2d(8, 6, 1)
        self.warp_mode = "native"

    def set_warp_mode(self, mode: str) -> "TinyWarpNet":
        self.warp_mode = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.stem(x)
        glob = affine_warp(feat, self.stn(feat), self.warp_mode, "border")
        local = flow_warp(feat, self.flow(feat), self.warp_mode, "zeros")
        out = self.head(torch.cat([glob, local], dim=1))
        return torch.sigmoid(out).reshape(x.shape[0], 2, 3, x.shape[2], x.shape[3])


def perturb(model: nn.Module, scale: float = 0.05, seed: int = 0) -> nn.Module:
    """Add small noise to every parameter so STNs and flows are not the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


def tiny_blur2video(frames: int = 3):
    from b2v_edge.model import build_model

    torch.manual_seed(0)
    return perturb(build_model("lite", frames, **TINY))


def make_deploy(
    root: Path, fp32_onnx: Path, target: str = "trt10", warp: str = "native", fp16: bool = True, dynamic: bool = False
) -> Path:
    """A deploy dir from an already exported graph, written through the real export helpers.

    ``model.onnx`` is ``fp32_onnx`` tagged and simplified; ``model.fp16.onnx`` its fp16 conversion.
    """
    import onnx

    from b2v_edge.common.manifest import Manifest
    from b2v_edge.export import deploy
    from b2v_edge.export.fp16 import convert_fp16
    from b2v_edge.export.graph import check_model, io_spec, onnx_opset, simplify
    from b2v_edge.export.onnx_export import save_onnx
    from b2v_edge.export.roles import copy_roles, tag_roles

    root.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(fp32_onnx))
    tag_roles(model)
    result = simplify(model, [2, 3, 64, 64] if dynamic else None)
    copy_roles(result.model, model)
    model = check_model(result.model)
    manifest = Manifest(root=root)
    inp, out = deploy.io_sections(io_spec(model), dynamic, 32, [2 if dynamic else 1, 3, 64, 64])
    manifest.model, manifest.input, manifest.output = {"name": "b2v-tiny-n2", "frames": 2}, inp, out
    opset = onnx_opset(model)
    save_onnx(model, root / "model.onnx")
    manifest.upsert(deploy.onnx_artifact(root / "model.onnx", "fp32", warp, opset, target, {}))
    if fp16:
        converted = convert_fp16(model, "onnxconverter")
        save_onnx(converted.model, root / "model.fp16.onnx")
        manifest.upsert(
            deploy.onnx_artifact(
                root / "model.fp16.onnx",
                "fp16",
                warp,
                opset,
                target,
                {"source": "model.onnx", "fp16": converted.summary()},
            )
        )
    manifest.save()
    return root


def parse_config(text: str) -> Tuple[str, str, int]:
    """(name, platform, max_batch_size) of a written config.pbtxt."""
    name = re.search(r'^name: "([^"]+)"', text, re.M)
    platform = re.search(r'^platform: "([^"]+)"', text, re.M)
    batch = re.search(r"^max_batch_size: (\d+)", text, re.M)
    assert name and platform and batch, text
    return name.group(1), platform.group(1), int(batch.group(1))
