"""The project's vocabulary in one table: precisions, the files that hold them, and their pass bars.

Every stage reads these rows instead of keeping its own copy: export names and verifies its graphs,
``calibrate`` judges the INT8 graph, ``parity`` judges every artifact, the runtime validates
``--precision`` and the manifest validates its records. Adding a precision is one row here plus the
code that produces its graph.

Thresholds (one set, used everywhere):

* ``min_psnr_db``: the artifact's output vs the PyTorch reference, mean PSNR over the checked samples.
* ``max_gt_drop_db``: how much worse than the reference the artifact may score against ground truth.

Engine precisions (:data:`ENGINE_PRECISIONS`) are precisions a runtime applies to an existing
graph instead of a graph of their own (OpenVINO's ``bf16`` runs the fp32 graph with bfloat16
arithmetic); they have pass bars of their own in the same two columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .errors import B2VError


class VocabularyError(B2VError, ValueError):
    """A name that is not in the vocabulary (the message lists the valid ones)."""


@dataclass(frozen=True)
class Precision:
    """One numeric precision of the deployed model.

    Attributes:
        name: ``fp32``, ``fp16`` or ``int8``.
        onnx_name: the deploy dir's ONNX graph of this precision (the TensorRT-facing one).
        min_psnr_db: pass bar vs the PyTorch reference (dB).
        max_gt_drop_db: largest allowed drop vs ground truth compared with the reference (dB).
        cpu_onnx_name: a second graph tuned for ONNX Runtime on CPU, if the precision has one.
        summary: one line for help texts.
    """

    name: str
    onnx_name: str
    min_psnr_db: float
    max_gt_drop_db: float
    cpu_onnx_name: Optional[str] = None
    summary: str = ""

    @property
    def plan_name(self) -> str:
        """File name of the TensorRT plan built from this precision."""
        return f"model.{self.name}.plan"


PRECISIONS: Dict[str, Precision] = {
    p.name: p
    for p in (
        Precision("fp32", "model.onnx", 60.0, 0.1, summary="float32 reference graph"),
        Precision("fp16", "model.fp16.onnx", 40.0, 0.1, summary="float16 graph, warp geometry kept in float32"),
        Precision(
            "int8",
            "model.int8.onnx",
            30.0,
            0.5,
            cpu_onnx_name="model.int8.cpu.onnx",
            summary="INT8 Q/DQ graph calibrated on blur data",
        ),
    )
}
PRECISION_NAMES: Tuple[str, ...] = tuple(PRECISIONS)


@dataclass(frozen=True)
class EnginePrecision:
    """A precision a runtime applies to an existing graph (no artifact of its own).

    Attributes:
        name: ``bf16``.
        graph: the artifact precision whose graph it runs (``fp32``).
        backends: the runtimes that offer it.
        min_psnr_db: pass bar vs the PyTorch reference (dB).
        max_gt_drop_db: largest allowed drop vs ground truth compared with the reference (dB).
        summary: one line for help texts.
    """

    name: str
    graph: str
    backends: Tuple[str, ...]
    min_psnr_db: float
    max_gt_drop_db: float
    summary: str = ""


ENGINE_PRECISIONS: Dict[str, EnginePrecision] = {
    p.name: p
    for p in (
        EnginePrecision(
            "bf16", "fp32", ("openvino",), 35.0, 0.2, summary="the fp32 graph with OpenVINO's bfloat16 arithmetic"
        ),
    )
}
#: Every precision an engine can be asked for (``--precision`` of run): artifact ones, then engine ones.
RUN_PRECISION_NAMES: Tuple[str, ...] = PRECISION_NAMES + tuple(ENGINE_PRECISIONS)


def precision(name: str) -> Precision:
    """The row of ``name``; :class:`VocabularyError` naming the valid precisions otherwise."""
    try:
        return PRECISIONS[name]
    except (KeyError, TypeError):
        raise VocabularyError(f"unknown precision {name!r}; choose one of {', '.join(PRECISION_NAMES)}") from None


def min_psnr_db() -> Dict[str, float]:
    """``{precision: pass bar vs the reference}`` (a fresh dict: callers may override entries)."""
    return {p.name: p.min_psnr_db for p in (*PRECISIONS.values(), *ENGINE_PRECISIONS.values())}


def max_gt_drop_db() -> Dict[str, float]:
    """``{precision: largest allowed drop vs ground truth}`` (a fresh dict)."""
    return {p.name: p.max_gt_drop_db for p in (*PRECISIONS.values(), *ENGINE_PRECISIONS.values())}
