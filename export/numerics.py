"""ONNX Runtime (CPU) vs PyTorch on a few inputs: max abs error and PSNR, recorded in the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.metrics import passes, psnr, worst

Shape = Tuple[int, int, int, int]


@dataclass
class Verification:
    """Agreement of one ONNX graph with the PyTorch model (truthy when ``passed``)."""

    precision: str
    max_abs_err: float
    psnr_db: float
    min_psnr_db: float
    per_input_psnr_db: List[float] = field(default_factory=list)
    shapes: List[List[int]] = field(default_factory=list)
    reference: str = "pytorch"
    backend: str = "onnxruntime-cpu"

    @property
    def passed(self) -> bool:
        """PSNR vs PyTorch reaches the precision's floor (NaN/Inf outputs fail)."""
        return passes(self.psnr_db, self.min_psnr_db)

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> Dict[str, Any]:
        """JSON form recorded in the manifest (``parity.export``), with the number of inputs."""
        out = asdict(self)
        out["inputs"] = len(self.shapes)
        out["passed"] = self.passed
        return out


def verification_shapes(count: int, batch: int, height: int, width: int, dynamic: bool) -> List[Shape]:
    """Input shapes: the export shape; for a dynamic graph every other one differs in B, H and W."""
    shapes: List[Shape] = []
    for i in range(count):
        if dynamic and i % 2 == 1:
            shapes.append((batch + 1, 3, height + 32, max(32, width - 32)))
        else:
            shapes.append((batch, 3, height, width))
    return shapes


def make_inputs(shapes: Sequence[Shape], frames: int = 7, seed: int = 0) -> List[np.ndarray]:
    """Deterministic float32 inputs in [0, 1]: synthetic motion-blurred images, every 4th uniform noise.

    Synthetic blur (:class:`~b2v_edge.data.synthetic.SyntheticBlur`, test split) looks like what the
    model sees; noise exercises every pixel value.
    """
    from b2v_edge.data.synthetic import SyntheticBlur

    rng = np.random.default_rng(seed)
    out = []
    for i, (b, c, h, w) in enumerate(shapes):
        if i % 4 == 3:
            out.append(rng.random((b, c, h, w), dtype=np.float32))
            continue
        source = SyntheticBlur(frames=frames, size=(h, w), split="test", seed=seed)
        imgs = [source[(i * 8 + j) % len(source)].blurred for j in range(b)]
        out.append(np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2), dtype=np.float32))
    return out


def torch_outputs(model: Any, inputs: Sequence[np.ndarray]) -> List[np.ndarray]:
    """The PyTorch model's (eval, no grad) outputs for ``inputs``."""
    import torch

    model.eval()
    with torch.inference_mode():
        return [model(torch.from_numpy(x)).numpy() for x in inputs]


def ort_outputs(path: Union[str, Path], inputs: Sequence[np.ndarray], threads: int = 0) -> List[np.ndarray]:
    """ONNX Runtime CPU outputs of the graph at ``path`` (input ``blurred`` or the only input)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [np.asarray(session.run(None, {name: x})[0], dtype=np.float32) for x in inputs]


def compare(
    reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray], precision: str, min_psnr_db: float
) -> Verification:
    """Max abs error and PSNR (worst input) of ``outputs`` against ``reference``.

    Raises:
        ValueError: a shape mismatch (the graph does not implement the model's contract).
    """
    errs, psnrs, shapes = [], [], []
    for ref, out in zip(reference, outputs):
        if ref.shape != out.shape:
            raise ValueError(f"ONNX output shape {out.shape} != PyTorch output shape {ref.shape}")
        errs.append(float(np.max(np.abs(ref.astype(np.float64) - out))))
        psnrs.append(round(psnr(ref, out), 2))
        shapes.append(list(ref.shape))
    return Verification(precision, float(np.max(errs)), worst(psnrs), min_psnr_db, psnrs, shapes)
