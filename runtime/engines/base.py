"""The ``Engine`` interface every backend implements, its spec, and its errors.

An engine maps ``blurred`` (``float32 [B, 3, H, W]``, RGB in ``[0, 1]``) to ``frames``
(``float32 [B, N, 3, H, W]``, the N sharp frames hidden in the exposure, time order). Input checks
(dtype, rank, shape against the spec, value range) and output checks (shape, finite values) live
once, here, in :meth:`Engine.infer`; backends (:mod:`.ort`, :mod:`.trt`) implement only
``_infer_impl``. This module imports no backend: :mod:`b2v_edge.runtime.open` picks and opens them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.common.errors import B2VError

__all__ = ["Engine", "EngineError", "EngineSpec", "NonFiniteOutputError", "dims", "merge_spec"]

#: Tolerance of the input range check: values must lie in [-RANGE_TOL, 1 + RANGE_TOL].
RANGE_TOL = 1e-3

Dim = Optional[int]


class EngineError(B2VError, RuntimeError):
    """An engine that cannot be opened or run (one-line, actionable message)."""


class NonFiniteOutputError(EngineError):
    """The engine produced NaN or Inf (typically an fp16/int8 overflow); the frame is unusable."""


def dims(shape: Optional[Sequence[Any]]) -> Tuple[Dim, ...]:
    """Manifest/ONNX shape entries → ints, with None for dynamic axes (null, names, -1, 0)."""
    out = []
    for d in shape or ():
        out.append(int(d) if isinstance(d, (int, np.integer)) and int(d) > 0 else None)
    return tuple(out)


@dataclass(frozen=True)
class EngineSpec:
    """What an engine expects and returns.

    Attributes:
        input_name: graph input name (``"blurred"``).
        input_shape: ``(B, 3, H, W)``; ``None`` marks a dynamic axis.
        output_name: graph output name (``"frames"``).
        output_shape: ``(B, N, 3, H, W)``; ``None`` marks a dynamic axis.
        precision: ``"fp32"``, ``"fp16"``, ``"int8"`` or ``"unknown"`` (a bare file without manifest).
        frames: N, the number of frames recovered per input.
        backend: ``"onnxruntime"`` or ``"tensorrt"``.
        provider: what actually runs it, e.g. ``"CPUExecutionProvider"`` or ``"TensorRT 10.3.0"``.
        path: the artifact file.
        pad_multiple: dynamic H/W must be multiples of this (0 = unknown; the model's 32 is assumed).
        min_input_shape: smallest input of a dynamic plan's optimization profile (None = unbounded).
        max_input_shape: largest input of a dynamic plan's optimization profile (None = unbounded).
    """

    input_name: str
    input_shape: Tuple[Dim, ...]
    output_name: str
    output_shape: Tuple[Dim, ...]
    precision: str
    frames: int
    backend: str
    provider: str
    path: Path
    pad_multiple: int = 0
    min_input_shape: Optional[Tuple[int, ...]] = None
    max_input_shape: Optional[Tuple[int, ...]] = None

    @property
    def size(self) -> Tuple[Optional[int], Optional[int]]:
        """``(H, W)`` of the input (None when dynamic)."""
        return self.input_shape[2], self.input_shape[3]

    @property
    def label(self) -> str:
        """Short human label, e.g. ``"onnxruntime/CPU fp32"``."""
        provider = self.provider.replace("ExecutionProvider", "")
        return f"{self.backend}/{provider} {self.precision}"


class Engine(abc.ABC):
    """Base class of every backend: checks inputs/outputs once, delegates to ``_infer_impl``.

    Use as a context manager (or call :meth:`close`) to release sessions and device memory.
    """

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec

    # ---- public API ---------------------------------------------------------------------
    def infer(self, blurred: np.ndarray, check_finite: bool = True) -> np.ndarray:
        """Run the model on one batch.

        Args:
            blurred: ``float32 [B, 3, H, W]``, RGB in ``[0, 1]``, H/W as in ``spec.input_shape``.
            check_finite: raise :class:`NonFiniteOutputError` when the output holds NaN/Inf.

        Returns:
            ``float32 [B, N, 3, H, W]``.

        Raises:
            EngineError: wrong dtype/rank/shape/range (message shows expected and actual).
        """
        x = self._check_input(blurred)
        out = np.asarray(self._infer_impl(x))
        return self._check_output(out, x.shape, check_finite)

    def close(self) -> None:
        """Release resources (idempotent). Backends override and call ``super().close()``."""
        return None  # nothing to release in the base class

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.label}, {self.spec.path.name})"

    # ---- backend hook -------------------------------------------------------------------
    @abc.abstractmethod
    def _infer_impl(self, blurred: np.ndarray) -> np.ndarray:
        """Run the checked, C-contiguous float32 input; return ``[B, N, 3, H, W]`` (any float dtype)."""

    # ---- checks (once, for every backend) -----------------------------------------------
    def _check_input(self, x: Any) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise EngineError(f"engine input must be a numpy array, got {type(x).__name__}")
        if x.dtype != np.float32:
            hint = " (divide uint8 images by 255, or use runtime.preprocess)" if x.dtype == np.uint8 else ""
            raise EngineError(f"engine input must be float32, got {x.dtype}{hint}")
        expected = self.spec.input_shape
        if x.ndim != 4:
            raise EngineError(f"engine input must be [B,3,H,W] (rank 4), got shape {tuple(x.shape)}")
        for got, want in zip(x.shape, expected):
            if want is not None and got != want:
                raise EngineError(
                    f"engine input shape {tuple(x.shape)} does not match the model's {fmt_shape(expected)}"
                )
        if x.shape[1] != 3:
            raise EngineError(f"engine input must have 3 channels (RGB), got shape {tuple(x.shape)}")
        lo, hi = float(x.min()), float(x.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise EngineError("engine input contains NaN or Inf")
        if lo < -RANGE_TOL or hi > 1.0 + RANGE_TOL:
            hint = "; it looks like 0..255 data, divide by 255" if hi > 2.0 else ""
            raise EngineError(f"engine input must be in [0, 1], got range [{lo:.3g}, {hi:.3g}]{hint}")
        return np.ascontiguousarray(x)

    def _check_output(self, out: np.ndarray, in_shape: Tuple[int, ...], check_finite: bool) -> np.ndarray:
        b, _, h, w = in_shape
        n = self.spec.frames or (out.shape[1] if out.ndim == 5 else -1)
        if out.shape != (b, n, 3, h, w):
            raise EngineError(f"{self.spec.backend} returned shape {tuple(out.shape)}, expected {(b, n, 3, h, w)}")
        out = out.astype(np.float32, copy=False)
        if check_finite and not np.isfinite(out).all():
            hint = (
                "the model itself is broken: re-export it from a good checkpoint"
                if self.spec.precision == "fp32"
                else "precision overflow? try --precision fp32"
            )
            raise NonFiniteOutputError(f"{self.spec.label} produced NaN/Inf; {hint}")
        return out


def fmt_shape(shape: Sequence[Dim]) -> str:
    """``[1,3,?,?]``: a shape for messages, ``?`` for a dynamic dimension (None)."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def merge_spec(expected: Optional[EngineSpec], actual: EngineSpec) -> EngineSpec:
    """Cross-check the manifest's spec with the loaded graph's; a static dim on either side is kept.

    Raises:
        EngineError: names or static dims disagree (the artifact does not belong to this manifest).
    """
    if expected is None:
        return actual
    if (expected.input_name, expected.output_name) != (actual.input_name, actual.output_name):
        raise EngineError(
            f"{actual.path.name} has I/O {actual.input_name}->{actual.output_name}, the manifest says "
            f"{expected.input_name}->{expected.output_name}; re-export the deploy dir"
        )
    for what, e, a in (
        ("input", expected.input_shape, actual.input_shape),
        ("output", expected.output_shape, actual.output_shape),
    ):
        clash = len(e) != len(a) or any(x is not None and y is not None and x != y for x, y in zip(e, a))
        if clash:
            raise EngineError(
                f"{actual.path.name} {what} shape {fmt_shape(a)} differs from the manifest's {fmt_shape(e)}; re-export"
            )
    shape_in = tuple(x if x is not None else y for x, y in zip(actual.input_shape, expected.input_shape))
    shape_out = tuple(x if x is not None else y for x, y in zip(actual.output_shape, expected.output_shape))
    return replace(
        actual,
        input_shape=shape_in,
        output_shape=shape_out,
        frames=actual.frames or expected.frames,
        pad_multiple=actual.pad_multiple or expected.pad_multiple,
        min_input_shape=actual.min_input_shape or expected.min_input_shape,
        max_input_shape=actual.max_input_shape or expected.max_input_shape,
    )
