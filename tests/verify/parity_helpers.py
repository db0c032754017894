"""Tiny real deploy dirs for the parity / report / bench tests (generated, never committed).

``shared_deploy`` has no reference set (parity recomputes the PyTorch reference); ``shared_stored_deploy``
adds the one export writes (parity reads it, torch-free).

A tiny ``lite`` Blur2Video (N=3) with its weights jittered away from the identity initialisation (so
every layer, STN and warp affects the output) is saved as a checkpoint and exported to ONNX at
64x64; an fp16 copy keeps GridSample and the geometry in fp32. The fixture uses the TorchScript
exporter (``dynamo=False``, opset 18): it takes seconds where the dynamo
export (what ``b2v-edge export`` uses) takes minutes; parity treats both graphs the same way.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from tiny_model import TINY

from b2v_edge.checkpoint import load_checkpoint, save_checkpoint
from b2v_edge.common.manifest import Artifact, Manifest, sha256_file
from b2v_edge.model import build_model

NAMES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx"}


def make_checkpoint(path: Path, frames: int = 3, seed: int = 0, jitter: float = 0.05) -> Path:
    """A tiny lite checkpoint whose weights are jittered (seeded) away from the identity init."""
    torch.manual_seed(seed)
    model = build_model("lite", frames, **TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(jitter * torch.randn_like(p))
    return save_checkpoint(path, model, {"note": "parity test"})


def export_fp32(model: torch.nn.Module, path: Path, h: int, w: int) -> Path:
    """TorchScript export, opset 18, I/O ``blurred`` -> ``frames`` (single file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (torch.rand(1, 3, h, w),),
            str(path),
            dynamo=False,
            opset_version=18,
            input_names=["blurred"],
            output_names=["frames"],
        )
    return path


def make_fp16(src: Path, dst: Path) -> Path:
    """fp16 graph with fp32 I/O; GridSample and the sampling geometry stay fp32."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # "float32 number ... will be truncated": expected for fp16
        warnings.simplefilter("ignore")
        model = float16.convert_float_to_float16(
            onnx.load(str(src)),
            keep_io_types=True,
            op_block_list=list(float16.DEFAULT_OP_BLOCK_LIST) + ["GridSample", "MatMul", "Floor", "GatherElements"],
        )
    onnx.save(model, str(dst))
    return dst


def make_deploy(
    root: Path, h: int = 64, w: int = 64, frames: int = 3, precisions: Sequence[str] = ("fp32", "fp16")
) -> Path:
    """A deploy dir with the tiny model's artifacts and a manifest naming its checkpoint."""
    root.mkdir(parents=True, exist_ok=True)
    ckpt_path = make_checkpoint(root.parent / f"{root.name}-tiny.pt", frames)
    model = load_checkpoint(ckpt_path).model
    manifest = Manifest(
        root=root,
        model={
            "name": "b2v-tiny",
            "preset": "lite",
            "frames": frames,
            "checkpoint": str(ckpt_path),
            "checkpoint_sha256": sha256_file(ckpt_path),
            "config": model.cfg.to_dict(),
        },
        input={
            "name": "blurred",
            "shape": [1, 3, h, w],
            "dtype": "float32",
            "layout": "NCHW",
            "color": "RGB",
            "range": [0, 1],
            "dynamic": False,
        },
        output={"name": "frames", "shape": [1, frames, 3, h, w], "dtype": "float32"},
    )
    export_fp32(model, root / NAMES["fp32"], h, w)
    for p in precisions:
        if p == "fp16":
            make_fp16(root / NAMES["fp32"], root / NAMES["fp16"])
        manifest.upsert(
            Artifact(
                path=NAMES[p],
                kind="onnx",
                precision=p,
                sha256=sha256_file(root / NAMES[p]),
                warp=model.cfg.warp_mode,
                opset=18,
                target="onnxruntime",
            )
        )
    manifest.parity = {"export": {"model.onnx": {"psnr_db": 99.0}}}
    manifest.save()
    return root


def break_artifact(root: Path, name: str = "model.onnx", scale: float = 0.3, seed: int = 0) -> Path:
    """Perturb every Conv weight of ``name`` (noise of ``scale`` x its std) and re-hash it in the manifest."""
    path = root / name
    model = onnx.load(str(path))
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")}
    rng = np.random.default_rng(seed)
    for init in model.graph.initializer:
        if init.name in conv_weights:
            w = numpy_helper.to_array(init)
            noisy = w + scale * (float(w.std()) + 1e-3) * rng.standard_normal(w.shape).astype(w.dtype)
            init.CopyFrom(numpy_helper.from_array(noisy.astype(w.dtype), init.name))
    onnx.save(model, str(path))
    manifest = Manifest.load(root)
    art = next(a for a in manifest.artifacts if a.path == name)
    art.sha256 = sha256_file(path)
    manifest.save()
    return path


def add_reference_set(root: Path, count: int = 2) -> Path:
    """Write the reference set export would write (the manifest's checkpoint on ``count`` synthetic samples)."""
    from b2v_edge.verify.reference import REFERENCE_NAME, build_reference_set, record_reference_set

    manifest = Manifest.load(root)
    model = load_checkpoint(manifest.model["checkpoint"]).model
    h, w = manifest.input["shape"][2:]
    ref = build_reference_set(model, (h, w), count, checkpoint_sha256=manifest.model["checkpoint_sha256"])
    record_reference_set(manifest, ref.save(root / REFERENCE_NAME), ref)
    manifest.save()
    return root / REFERENCE_NAME


_SHARED: dict = {}


def shared_deploy(tmp_path_factory: object) -> Path:
    """One tiny deploy dir per test session (built on first use), without a reference set; copy it before
    modifying it."""
    if "deploy" not in _SHARED:
        base = Path(str(tmp_path_factory.mktemp("parity-shared")))  # type: ignore[attr-defined]
        _SHARED["deploy"] = make_deploy(base / "deploy")
    return _SHARED["deploy"]


def shared_stored_deploy(tmp_path_factory: object) -> Path:
    """The shared tiny deploy dir plus a two-sample reference set (as export writes it); copy before modifying."""
    import shutil

    if "stored" not in _SHARED:
        src = shared_deploy(tmp_path_factory)
        _SHARED["stored"] = add_reference_set(Path(shutil.copytree(src, src.parent / "stored"))).parent
    return _SHARED["stored"]
