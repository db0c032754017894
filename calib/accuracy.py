"""Accuracy and speed of a Q/DQ graph against its FP32 graph, on ONNX Runtime (CPU).

PSNR is measured per output frame over the part of the input the frame came from (letterbox bars
cropped); ground-truth PSNR is order-aware (a blur and its time-reversed sequence are the same
image). ONNX Runtime's FP32 output matches PyTorch to ~1e-6, so "INT8 vs FP32" here is INT8 vs the
trained model. :func:`sensitivity` and :func:`greedy_exclusion` implement ``--sensitivity`` and
``--target-psnr`` with one quantized graph and cheap per-group edits (:func:`~b2v_edge.calib.qdq.float_inputs`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx

from b2v_edge.common.metrics import psnr, sequence_scores

from .plan import PrecisionPlan
from .progress import Advance
from .qdq import float_inputs, prune

__all__ = [
    "EvalSet",
    "Accuracy",
    "GroupScore",
    "accuracy",
    "greedy_exclusion",
    "latency_ms",
    "predict",
    "sensitivity",
    "session",
]

Box = Tuple[int, int, int, int]


@dataclass
class EvalSet:
    """Held-out inputs: ``x`` ``[1,3,H,W]``, content box ``(top,left,h,w)``, optional GT ``[N,3,H,W]``."""

    ids: List[str] = field(default_factory=list)
    inputs: List[np.ndarray] = field(default_factory=list)
    boxes: List[Box] = field(default_factory=list)
    gts: List[Optional[np.ndarray]] = field(default_factory=list)

    @property
    def has_gt(self) -> bool:
        return bool(self.gts) and all(g is not None for g in self.gts)


@dataclass
class Accuracy:
    """Per-sample, per-frame PSNR tables (dB) and their means."""

    vs_fp32: List[List[float]]
    gt_fp32: Optional[List[List[float]]] = None
    gt_int8: Optional[List[List[float]]] = None

    @property
    def mean_vs_fp32(self) -> float:
        return float(np.mean(self.vs_fp32))

    @property
    def min_vs_fp32(self) -> float:
        return float(np.min(self.vs_fp32))

    @property
    def gt_drop(self) -> Optional[float]:
        """Mean GT PSNR of FP32 minus INT8 (positive = INT8 worse), None without ground truth."""
        if self.gt_fp32 is None or self.gt_int8 is None:
            return None
        return float(np.mean(self.gt_fp32) - np.mean(self.gt_int8))

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "psnr_int8_vs_fp32_db": {"mean": round(self.mean_vs_fp32, 3), "min": round(self.min_vs_fp32, 3)},
            "per_frame_int8_vs_fp32": _round(self.vs_fp32),
        }
        if self.gt_fp32 is not None and self.gt_int8 is not None:
            out["psnr_vs_gt_db"] = {
                "fp32": round(float(np.mean(self.gt_fp32)), 3),
                "int8": round(float(np.mean(self.gt_int8)), 3),
                "drop": round(float(self.gt_drop or 0.0), 3),
            }
            out["per_frame_gt_fp32"] = _round(self.gt_fp32)
            out["per_frame_gt_int8"] = _round(self.gt_int8)
        return out


def _round(table: Sequence[Sequence[float]]) -> List[List[float]]:
    return [[round(float(v), 3) for v in row] for row in table]


def session(model: Union[onnx.ModelProto, str], threads: Optional[int] = None) -> Any:
    """A CPU ONNX Runtime session for a ModelProto or a file path."""
    import onnxruntime as ort

    from b2v_edge.runtime.engines.ort import session_options

    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, session_options(threads), providers=["CPUExecutionProvider"])


def predict(sess: Any, inputs: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Outputs ``[N, 3, H, W]`` (batch 1 dropped) for each input."""
    name = sess.get_inputs()[0].name
    return [np.asarray(sess.run(None, {name: x})[0])[0] for x in inputs]


def _crop(frames: np.ndarray, box: Box) -> np.ndarray:
    """``[N,3,H,W]`` → ``[N,h,w,3]`` inside ``box``."""
    top, left, h, w = box
    return np.ascontiguousarray(frames[:, :, top : top + h, left : left + w].transpose(0, 2, 3, 1))


def _gt_table(outputs: Sequence[np.ndarray], data: EvalSet) -> List[List[float]]:
    return [
        sequence_scores(_crop(o, b), _crop(g, b), with_ssim=False).psnr
        for o, b, g in zip(outputs, data.boxes, data.gts)
    ]


def accuracy(ref: Sequence[np.ndarray], test: Sequence[np.ndarray], data: EvalSet) -> Accuracy:
    """INT8 (``test``) vs FP32 (``ref``) per frame, and both vs ground truth when ``data`` has it."""
    vs = [[psnr(_crop(r, b)[k], _crop(t, b)[k]) for k in range(r.shape[0])] for r, t, b in zip(ref, test, data.boxes)]
    if not data.has_gt:
        return Accuracy(vs)
    return Accuracy(vs, _gt_table(ref, data), _gt_table(test, data))


def latency_ms(model: Union[onnx.ModelProto, str], x: np.ndarray, runs: int, threads: Optional[int] = None) -> float:
    """Median wall time (ms) of one inference after two warm-up runs."""
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    for _ in range(2):
        sess.run(None, {name: x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


@dataclass
class GroupScore:
    """INT8-vs-FP32 PSNR with only ``group`` quantized (lower = more sensitive)."""

    group: str
    nodes: int
    psnr_db: float
    default: str  # "int8" or the reason it is float by default


def _only(full: onnx.ModelProto, fp32: onnx.ModelProto, keep_quantized: Sequence[str]) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.CopyFrom(full)
    keep = set(keep_quantized)
    float_inputs(model, fp32, [n.name for n in fp32.graph.node if n.name not in keep])
    prune(model)
    return model


def _mean_psnr(model: onnx.ModelProto, ref: Sequence[np.ndarray], data: EvalSet) -> float:
    return accuracy(ref, predict(session(model), data.inputs), data).mean_vs_fp32


def sensitivity(
    full: onnx.ModelProto,
    fp32: onnx.ModelProto,
    plan: PrecisionPlan,
    candidates: Dict[str, str],
    ref: Sequence[np.ndarray],
    data: EvalSet,
    advance: Advance,
) -> List[GroupScore]:
    """Score each group quantized alone, most sensitive first.

    Args:
        full: Q/DQ graph with everything quantizable quantized.
        fp32: the float graph.
        plan: the precision plan (its groups and default-excluded sets).
        candidates: ``{group: default}`` to score; group names are plan groups or excluded reasons.
        ref: FP32 outputs on ``data``.
        data: evaluation inputs.
        advance: progress callback (one step per group).
    """
    sets = {**plan.groups, **plan.excluded}
    scores = []
    for group, default in candidates.items():
        nodes = sets[group]
        scores.append(GroupScore(group, len(nodes), _mean_psnr(_only(full, fp32, nodes), ref, data), default))
        advance(1)
    return sorted(scores, key=lambda s: s.psnr_db)


def greedy_exclusion(
    full: onnx.ModelProto,
    fp32: onnx.ModelProto,
    plan: PrecisionPlan,
    ranking: Sequence[GroupScore],
    target: float,
    ref: Sequence[np.ndarray],
    data: EvalSet,
    advance: Advance,
) -> Tuple[PrecisionPlan, List[Tuple[Optional[str], float]]]:
    """Keep the most sensitive quantized groups in float until INT8-vs-FP32 PSNR >= ``target``.

    Returns:
        ``(plan, steps)``; ``steps`` lists ``(group moved to float or None for the start, PSNR)``.
    """
    quantized = [n for nodes in plan.groups.values() for n in nodes]
    current = _mean_psnr(_only(full, fp32, quantized), ref, data)
    steps: List[Tuple[Optional[str], float]] = [(None, current)]
    for score in ranking:
        if current >= target:
            break
        if score.group not in plan.groups:
            continue
        plan = plan.exclude_groups([score.group], "target_psnr")
        quantized = [n for nodes in plan.groups.values() for n in nodes]
        current = _mean_psnr(_only(full, fp32, quantized), ref, data) if quantized else 100.0
        steps.append((score.group, current))
        advance(1)
    return plan, steps
