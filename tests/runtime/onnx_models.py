"""Tiny ONNX models and deploy dirs for the runtime tests (generated, never committed).

The model maps ``blurred [B,3,H,W]`` to ``frames [B,N,3,H,W]`` with ``frames[:, k] = blurred * s_k``
(Unsqueeze → Tile → Mul by per-frame scales), so every backend's output is exactly predictable.
Other test folders get it through the ``runtime_models`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from b2v_edge.common.manifest import Artifact, Manifest, sha256_file


def scales_for(n: int) -> np.ndarray:
    """The per-frame scales of the test model: ``linspace(0.5, 1.0, n)``."""
    return np.linspace(0.5, 1.0, n, dtype=np.float32)


def expected_output(x: np.ndarray, n: int) -> np.ndarray:
    """What the test model returns for ``x`` ``[B,3,H,W]``."""
    return x[:, None] * scales_for(n).reshape(1, n, 1, 1, 1)


def make_onnx(
    path: Path,
    n: int = 3,
    h: int = 16,
    w: int = 24,
    fp16: bool = False,
    io_fp16: bool = False,
    scales: Optional[Sequence[float]] = None,
    batch: object = "B",
) -> Path:
    """Write the test model; ``fp16`` computes in half precision (fp32 I/O unless ``io_fp16``)."""
    s = np.asarray(scales if scales is not None else scales_for(n), np.float32).reshape(1, n, 1, 1, 1)
    compute = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    io = TensorProto.FLOAT16 if io_fp16 else TensorProto.FLOAT
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axes"),
        numpy_helper.from_array(np.array([1, n, 1, 1, 1], np.int64), "repeats"),
        numpy_helper.from_array(s.astype(np.float16 if fp16 else np.float32), "scales"),
    ]
    nodes = []
    x_name = "blurred"
    if io != compute:
        nodes.append(helper.make_node("Cast", ["blurred"], ["x_c"], to=compute))
        x_name = "x_c"
    nodes += [
        helper.make_node("Unsqueeze", [x_name, "axes"], ["u"]),
        helper.make_node("Tile", ["u", "repeats"], ["t"]),
        helper.make_node("Mul", ["t", "scales"], ["y" if io != compute else "frames"]),
    ]
    if io != compute:
        nodes.append(helper.make_node("Cast", ["y"], ["frames"], to=io))
    graph = helper.make_graph(
        nodes,
        "b2v_test",
        [helper.make_tensor_value_info("blurred", io, [batch, 3, h, w])],
        [helper.make_tensor_value_info("frames", io, [batch, n, 3, h, w])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_deploy(
    root: Path,
    n: int = 3,
    h: int = 16,
    w: int = 24,
    precisions: Sequence[str] = ("fp32", "fp16"),
    nan: bool = False,
) -> Path:
    """A deploy dir with ``model.onnx`` (fp32) / ``model.fp16.onnx`` and a manifest."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(
        root=root,
        model={"name": "b2v-test", "preset": "test", "frames": n, "checkpoint": "test"},
        input={
            "name": "blurred",
            "shape": [1, 3, h, w],
            "dtype": "float32",
            "layout": "NCHW",
            "color": "RGB",
            "range": [0, 1],
            "dynamic": False,
        },
        output={"name": "frames", "shape": [1, n, 3, h, w], "dtype": "float32"},
    )
    scales = [float("nan")] * n if nan else None
    for p in precisions:
        name = "model.onnx" if p == "fp32" else f"model.{p}.onnx"
        make_onnx(root / name, n, h, w, fp16=(p == "fp16"), scales=scales)
        manifest.upsert(
            Artifact(
                path=name,
                kind="onnx",
                precision=p,
                sha256=sha256_file(root / name),
                warp="gather",
                opset=18,
                target="ort",
            )
        )
    manifest.save()
    return root


def add_plan(
    root: Path,
    precision: str = "fp16",
    trt_version: str = "10.3.0",
    cc: str = "8.7",
    gpu: str = "Orin",
    data: bytes = b"PLAN",
    build_options: Optional[dict] = None,
) -> Path:
    """Add a (stand-in) plan file and its manifest entry to a deploy dir."""
    manifest = Manifest.load(root)
    name = f"model.{precision}.plan"
    (root / name).write_bytes(data)
    manifest.upsert(
        Artifact(
            path=name,
            kind="tensorrt_plan",
            precision=precision,
            sha256=sha256_file(root / name),
            warp="gather",
            opset=18,
            target="trt10",
            extra={
                "source": "model.onnx",
                "tensorrt_version": trt_version,
                "cuda_version": "12.6",
                "gpu": gpu,
                "compute_capability": cc,
                "build_options": dict(build_options or {}),
            },
        )
    )
    manifest.save()
    return root / name


def write_video(path: Path, frames: int = 12, h: int = 48, w: int = 64, fps: float = 30.0) -> Path:
    """An MJPG .avi (or mp4v .mp4) with a moving bar, for source/pipeline tests."""
    import cv2

    fourcc = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write test video {path}")
    for i in range(frames):
        img = np.full((h, w, 3), 40, np.uint8)
        x = (i * 3) % (w - 8)
        img[:, x : x + 8] = (30, 200, 250)
        writer.write(img)
    writer.release()
    return path
