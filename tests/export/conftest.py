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


ONNX_FOR = {"trt8.0": "gather13", "trt8.2": "gather13", "trt8.5": "native", "trt8.6": "native"}


@pytest.fixture(scope="session")
def trt_deploys(tmp_path_factory: pytest.TempPathFactory, onnx_files: Dict[str, Path]) -> Dict[str, Path]:
    """One deploy dir per target line (opset and warp the line's parser reads), with an int8 source."""
    from dataclasses import replace

    import onnx
    from export_helpers import make_deploy

    from b2v_edge.calib.trtcache import write_trt_cache
    from b2v_edge.common.manifest import Manifest, sha256_file
    from b2v_edge.common.trt_version import LINE_RELEASES, TrtVersion
    from b2v_edge.export.opset import lower_opset

    out = {}
    for line in LINE_RELEASES:
        root = tmp_path_factory.mktemp(line.replace(".", "_"))
        warp = "gather" if line in ("trt8.0", "trt8.2") else "native"
        deploy = make_deploy(root / "d", onnx_files[ONNX_FOR.get(line, "native")], target=line, warp=warp)
        if line in ("trt8.5", "trt8.6"):
            for name in ("model.onnx", "model.fp16.onnx"):
                onnx.save(lower_opset(onnx.load(str(deploy / name)), 17), str(deploy / name))
        manifest = Manifest.load(deploy)
        for art in manifest.artifacts:
            art.sha256 = sha256_file(deploy / art.path)
        if TrtVersion.for_line(line).precision_flags:
            write_trt_cache(deploy / "calibration.cache", {"blurred": 1 / 127}, LINE_RELEASES[line])
            manifest.calibration = {"tensorrt": {"files": {"tensorrt_cache": {"path": "calibration.cache"}}}}
        else:  # 10.x / 11.x build INT8 from the Q/DQ graph: a copy of the fp32 graph stands for it here
            (deploy / "model.int8.onnx").write_bytes((deploy / "model.onnx").read_bytes())
            fp32 = manifest.get("onnx", "fp32")
            manifest.upsert(replace(fp32, path="model.int8.onnx", precision="int8"))
        manifest.save()
        out[line] = deploy
    return out
