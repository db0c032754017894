"""``ExportOptions``: every ``b2v-edge export`` setting, validated once against a capability table.

Capability table (precision x target x warp), from ``trt_ops.json``:

============  =======================  =========================================================
target        warp                     precisions
============  =======================  =========================================================
trt8.0/8.2    gather only (no          fp32, fp16 (no int8: the JetPack 4.6 / Jetson Nano target
              GridSample before 8.5)   has no INT8 GPU support)
trt8.5/8.6    native or gather         fp32, fp16, int8
trt10/trt11   native or gather         fp32, fp16, int8
onnxruntime   native or gather         fp32, fp16, int8 (fp16/int8 are graphs ORT can run; on x86
                                       CPUs fp32 is fastest: bench/ has the numbers)
============  =======================  =========================================================

``warp="auto"`` picks ``gather`` for trt8.0/trt8.2 (the only option) and for ``onnxruntime``
(ORT's CPU GridSample with border padding is slow; on the demo model the gather graph runs at
0.65-0.69x the native graph's latency, bench/results.md), ``native`` (one GridSample node) for TensorRT >= 8.5.
``target="auto"`` is the TensorRT installed on this machine, else ``onnxruntime``.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from b2v_edge.common.errors import B2VError
from b2v_edge.common.vocab import PRECISION_NAMES, min_psnr_db
from b2v_edge.verify.reference import DEFAULT_SAMPLES as REFERENCE_SAMPLES
from b2v_edge.verify.reference import MAX_SAMPLES as MAX_REFERENCE_SAMPLES

from .constants import ALIGN, DEFAULT_OPSET, MAX_BATCH, MAX_SIDE
from .targets import TARGETS, load_table, target_for_trt, target_info, version_key

PRECISIONS: Tuple[str, ...] = PRECISION_NAMES
WARPS: Tuple[str, ...] = ("auto", "native", "gather")
FP16_TOOLS: Tuple[str, ...] = ("auto", "onnxconverter", "modelopt")
MIN_PSNR_DB: Dict[str, float] = min_psnr_db()


class OptionsError(B2VError, ValueError):
    """An invalid combination of export options (one-line message saying what to use instead)."""


def capability(precision: str, target: str, warp: str) -> Optional[str]:
    """Why ``precision`` x ``target`` x ``warp`` is invalid, or None when it is valid.

    ``warp`` must be concrete (``native`` or ``gather``).
    """
    info = target_info(target)
    if warp == "native" and info["tensorrt"] is not None:
        rule = load_table()["op_rules"]["GridSample"]
        if version_key(info["tensorrt"]) < version_key(rule["since"]):
            return (
                f"--warp native exports GridSample, which TensorRT {info['tensorrt']} ({target}) cannot parse "
                f"(supported from {rule['since']}): use --warp gather (or auto)"
            )
    if precision == "int8" and not info["int8"]:
        return f"--precision int8 is not available for {target}: {info.get('int8_reason', 'no INT8 support')}"
    return None


def detect_target() -> str:
    """``trtX`` for the TensorRT installed here (package metadata, no import), else ``onnxruntime``."""
    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-cu11"):
        try:
            return target_for_trt(importlib.metadata.version(dist))
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
    return "onnxruntime"


def auto_warp(target: str) -> str:
    """``gather`` for TensorRT < 8.5 and ONNX Runtime, ``native`` otherwise."""
    if capability("fp32", target, "native") is not None or target == "onnxruntime":
        return "gather"
    return "native"


@dataclass(frozen=True)
class ExportOptions:
    """Settings of one export, validated (and ``auto`` values resolved) in ``__post_init__``.

    Args:
        out_dir: deploy directory (created; an existing one is added to).
        checkpoint: checkpoint path, or None / ``"demo"`` for the shipped demo model.
        precision: ``fp32``, ``fp16`` or ``int8``; ``model.onnx`` (fp32) is always written too.
        height: input height (static graph) or the traced/optimal height (``dynamic``).
        width: input width.
        batch: batch size (static) or the traced/optimal batch (``dynamic``, >= 2 is traced).
        dynamic: dynamic batch/H/W axes (H/W multiples of 32).
        target: one of :data:`~b2v_edge.export.targets.TARGETS` or ``auto``.
        warp: ``auto``, ``native`` (GridSample) or ``gather`` (Floor + GatherElements).
        opset: ONNX opset; None = the target's (13 for trt8.0/8.2, 17 for trt8.5/8.6, else 18).
        engine: also build a TensorRT plan here (needs TensorRT and a GPU).
        triton: also write a Triton model repository into this folder.
        simplify: run onnx-simplifier (falls back to the unsimplified graph when it fails).
        fp16_tool: ``auto`` (ModelOpt AutoCast when installed, else onnxconverter-common),
            ``onnxconverter`` or ``modelopt``.
        verify_inputs: inputs of the ORT-vs-PyTorch check (at least 1; 4 by default).
        reference_samples: samples of the reference set written into the deploy dir (inputs,
            PyTorch outputs, ground truth: what ``b2v-edge parity`` compares plans with, without
            PyTorch); 0 = none. About 2 MB per sample at 256x256, N=7.
        min_psnr_db: per-precision PSNR floor of that check (None = :data:`MIN_PSNR_DB`).
        calib: options passed to ``b2v_edge.calib.api.quantize_deploy`` for int8 (None = defaults).
    """

    out_dir: Path = Path("deploy")
    checkpoint: Optional[str] = None
    precision: str = "fp16"
    height: int = 256
    width: int = 256
    batch: int = 1
    dynamic: bool = False
    target: str = "trt10"
    warp: str = "auto"
    opset: Optional[int] = None
    engine: bool = False
    triton: Optional[Path] = None
    simplify: bool = True
    fp16_tool: str = "auto"
    verify_inputs: int = 4
    reference_samples: int = REFERENCE_SAMPLES
    min_psnr_db: Optional[Dict[str, float]] = None
    calib: Any = None
    requested: Dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "requested", {"target": self.target, "warp": self.warp, "opset": self.opset})
        self._check_choices()
        self._check_sizes()
        target = detect_target() if self.target == "auto" else self.target
        warp = auto_warp(target) if self.warp == "auto" else self.warp
        reason = capability(self.precision, target, warp)
        if reason:
            raise OptionsError(reason)
        opset = self.opset if self.opset is not None else int(target_info(target)["opset"])
        self._check_opset(opset, target, warp)
        if self.engine and target == "onnxruntime":
            raise OptionsError(
                "--engine builds a TensorRT plan: choose a TensorRT --target (e.g. trt10), not onnxruntime"
            )
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "warp", warp)
        object.__setattr__(self, "opset", opset)
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.triton is not None:
            object.__setattr__(self, "triton", Path(self.triton))

    def _check_choices(self) -> None:
        for name, value, choices in (
            ("precision", self.precision, PRECISIONS),
            ("target", self.target, TARGETS + ("auto",)),
            ("warp", self.warp, WARPS),
            ("fp16_tool", self.fp16_tool, FP16_TOOLS),
        ):
            if value not in choices:
                raise OptionsError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")

    def _check_sizes(self) -> None:
        for name, value, top in (
            ("--size height", self.height, MAX_SIDE),
            ("--size width", self.width, MAX_SIDE),
            ("--batch", self.batch, MAX_BATCH),
        ):
            low = ALIGN if name.startswith("--size") else 1  # the model downsamples 32x
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
                raise OptionsError(f"{name} must be an integer in {low}..{top}, got {value!r}")
        if self.dynamic and (self.height % ALIGN or self.width % ALIGN):
            raise OptionsError(
                f"--dynamic needs a --size in multiples of {ALIGN} (it is the optimal shape), got {self.height}x{self.width}"
            )
        if self.verify_inputs < 1:
            raise OptionsError(f"verify_inputs must be >= 1, got {self.verify_inputs}")
        if isinstance(self.reference_samples, bool) or not 0 <= self.reference_samples <= MAX_REFERENCE_SAMPLES:
            raise OptionsError(
                f"--reference-samples must be in 0..{MAX_REFERENCE_SAMPLES}, got {self.reference_samples!r}"
            )

    @staticmethod
    def _check_opset(opset: int, target: str, warp: str) -> None:
        info = target_info(target)
        if not 13 <= opset <= DEFAULT_OPSET:
            raise OptionsError(
                f"--opset must be in 13..{DEFAULT_OPSET} (opset 20 renames GridSample modes, which TensorRT parsers misread), got {opset}"
            )
        if info["tensorrt"] is not None and opset > int(info["opset"]):
            raise OptionsError(f"{target}'s ONNX parser reads opsets up to {info['opset']}, got --opset {opset}")
        if warp == "native" and opset < 16:
            raise OptionsError(f"GridSample (--warp native) needs opset >= 16, got {opset}: use --warp gather")

    @property
    def min_psnr(self) -> Dict[str, float]:
        """PSNR floor (dB) per precision for the ORT-vs-PyTorch verification."""
        merged = dict(MIN_PSNR_DB)
        merged.update(self.min_psnr_db or {})
        return merged

    def with_(self, **changes: Any) -> "ExportOptions":
        """A copy with ``changes`` applied and validated again (``auto`` values re-resolved)."""
        return replace(self, **{**self.requested, **changes})
