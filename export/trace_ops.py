"""Opaque ops used only while tracing the model for ONNX export.

``F.grid_sample`` has no cheap shape function under torch.export's symbolic shapes: the fake-tensor
pass runs its full Python decomposition (index arithmetic, clamps, four gathers) on every warp of the
model, once when tracing and again in ``run_decompositions``. :func:`tracing_warps` swaps the model's
``native`` sampler for the custom op ``b2v_edge::grid_sample``: same kernel in eager mode, a one-line
fake (output ``[B, C, Ho, Wo]``), and a translation to the very ``GridSample`` node the stock exporter
writes (``mode='bilinear'``, ``align_corners=0``, opset 18). The ONNX graph is unchanged; only the
trace is cheaper. It also shares one base grid per warp size across the warps
(``b2v_edge.model.warp.shared_base_grids``).
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator

import torch
from onnxscript import opset18

from b2v_edge.model.warp import native_sampler, shared_base_grids, torch_grid_sample

__all__ = ["TRANSLATIONS", "grid_sample_op", "tracing_warps"]


@torch.library.custom_op("b2v_edge::grid_sample", mutates_args=())
def grid_sample_op(x: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear ``F.grid_sample`` (align_corners=False) as one opaque op."""
    return torch_grid_sample(x, grid, padding)


@grid_sample_op.register_fake
def _grid_sample_fake(x: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    return x.new_empty((x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]))


def _grid_sample_onnx(x: Any, grid: Any, padding: str) -> Any:
    """ONNX translation: the GridSample node torch's own exporter writes for F.grid_sample."""
    return opset18.GridSample(x, grid, mode="bilinear", padding_mode=padding, align_corners=0)


TRANSLATIONS: Dict[Any, Any] = {torch.ops.b2v_edge.grid_sample.default: _grid_sample_onnx}


@contextlib.contextmanager
def tracing_warps() -> Iterator[Dict[Any, Any]]:
    """Inside the block the model's ``native`` warps call :func:`grid_sample_op` and share one base grid
    per size; yields the ``custom_translation_table`` to pass to ``torch.onnx.export``."""
    with native_sampler(grid_sample_op), shared_base_grids():
        yield TRANSLATIONS
