"""PyTorch model -> single-file ONNX with the ``blurred`` -> ``frames`` contract.

``torch.onnx.export(dynamo=True, opset_version=18)``: the TorchScript exporter emits ``AffineGrid``
(which TensorRT's ONNX parser does not read), and opset 20 spells GridSample modes ``linear`` /
``cubic``, which TensorRT's parser misreads as nearest. The dynamo exporter may put weights in a side
file; :func:`export_onnx` always writes one self-contained ``.onnx`` (``save_as_external_data=False``)
through an atomic rename.

Why the export is shaped the way it is: torch's own post-export optimizer runs onnxscript's pattern
rewriter over every node of the dynamic-shape graph for no change that onnxsim does not make anyway, so
we export with ``optimize=False`` and run the cheap passes ourselves (:func:`_light_optimize`: inline,
constant folding, dead-node removal, CSE). In-place activations (``LeakyReLU(inplace=True)``) are
switched off while tracing: under symbolic shapes the exporter decomposes every in-place op into a
functional op + copy. And the native warps trace as one opaque op (:mod:`.trace_ops`) that exports to
the same ``GridSample`` node instead of being decomposed in the trace.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Union

import onnx
import torch

from b2v_edge.common.atomic import atomic_open

from .constants import ALIGN, DEFAULT_OPSET, INPUT_NAME, MAX_BATCH, MAX_SIDE, OUTPUT_NAME, ExportError
from .gather_rewrite import RewriteError, rewrite_gridsample
from .opset import MIN_OPSET, OpsetError, lower_opset
from .trace_ops import tracing_warps

_TWO_GB = 2**31

log = logging.getLogger(__name__)
__all__ = [
    "ALIGN",
    "DEFAULT_OPSET",
    "INPUT_NAME",
    "MAX_BATCH",
    "MAX_SIDE",
    "OUTPUT_NAME",
    "ExportError",
    "dynamic_shapes_spec",
    "export_onnx",
    "load_onnx",
    "save_onnx",
]


def _check_size(height: int, width: int, batch: int, dynamic: bool) -> None:
    for name, value, top in (("height", height, MAX_SIDE), ("width", width, MAX_SIDE), ("batch", batch, MAX_BATCH)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value > top:
            raise ValueError(f"{name} must be an integer in 1..{top}, got {value!r}")
    if dynamic and (height % ALIGN or width % ALIGN):
        raise ValueError(
            f"a dynamic-shape export traces with a multiple of {ALIGN}; got {height}x{width} "
            f"(use e.g. {max(ALIGN, height // ALIGN * ALIGN)}x{max(ALIGN, width // ALIGN * ALIGN)})"
        )


def dynamic_shapes_spec(max_side: int = MAX_SIDE) -> Dict[str, Dict[int, Any]]:
    """``dynamic_shapes`` for torch.export: batch free, H and W free multiples of 32.

    H/W are declared as ``32 * k`` so that the model's pad-to-32 step is a no-op the exporter can
    prove; callers (the runtime) pad frames to a multiple of 32 for a dynamic graph.
    """
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    hk = torch.export.Dim("h32", min=1, max=max_side // ALIGN)
    wk = torch.export.Dim("w32", min=1, max=max_side // ALIGN)
    return {"x": {0: batch, 2: ALIGN * hk, 3: ALIGN * wk}}


@contextlib.contextmanager
def _out_of_place(model: torch.nn.Module) -> Iterator[None]:
    """Trace with every ``inplace=True`` activation switched to out-of-place (same numerics), then restore."""
    switched = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    for m in switched:
        m.inplace = False  # type: ignore[assignment]
    try:
        yield
    finally:
        for m in switched:
            m.inplace = True  # type: ignore[assignment]


def _light_optimize(program: Any) -> None:
    """Inline, fold constants, drop dead nodes, lift constants, deduplicate, CSE (in place).

    torch's ``optimize=True`` runs these plus onnxscript's rewrite rules; the rewriter is what costs
    minutes on a dynamic graph, and onnxsim (run next by the pipeline) covers what it would change.
    """
    import onnx_ir.passes.common as common
    from onnx_ir.passes import PassManager
    from onnxscript.optimizer import fold_constants, remove_unused_nodes

    model = program.model
    common.InlinePass()(model)
    for _ in range(2):
        if not fold_constants(model, onnx_shape_inference=True).modified:
            break
    remove_unused_nodes(model)
    PassManager(
        [
            common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
            common.DeduplicateInitializersPass(),
            common.CommonSubexpressionEliminationPass(),
        ]
    )(model)


def _to_proto(model: torch.nn.Module, example: torch.Tensor, dynamic: bool) -> onnx.ModelProto:
    kwargs: Dict[str, Any] = {}
    if dynamic:
        kwargs["dynamic_shapes"] = dynamic_shapes_spec()
    with (
        warnings.catch_warnings(),
        torch.inference_mode(False),
        torch.no_grad(),
        _out_of_place(model),
        tracing_warps() as translations,
    ):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamo=True,
            opset_version=DEFAULT_OPSET,
            verbose=False,
            optimize=False,  # the rewriter costs minutes on dynamic graphs: see the module docstring
            custom_translation_table=translations,
            **kwargs,
        )
    if program is None:  # pragma: no cover - dynamo=True always returns a program
        raise ExportError("torch.onnx.export returned no program")
    _light_optimize(program)
    proto = program.model_proto
    if dynamic:
        _name_dynamic_axes(proto)
    return proto


def _name_dynamic_axes(proto: onnx.ModelProto) -> None:
    """Give the symbolic I/O axes stable names (``batch``, ``height``, ``width``)."""
    names = {0: "batch", 2: "height", 3: "width"}
    for value in proto.graph.input:
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if i in names and not dim.HasField("dim_value"):
                dim.dim_param = names[i]
    for value in proto.graph.output:
        out = {0: "batch", 3: "height", 4: "width"}
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if i in out and not dim.HasField("dim_value"):
                dim.dim_param = out[i]


def save_onnx(proto: onnx.ModelProto, path: Union[str, Path]) -> Path:
    """Atomically write ``proto`` as one self-contained ``.onnx`` file (no external data).

    Raises:
        ExportError: the model is over protobuf's 2 GB limit.
    """
    data = proto.SerializeToString() if proto.ByteSize() < _TWO_GB else None
    if data is None:
        raise ExportError("model is over 2 GB: single-file ONNX is impossible; reduce the model size")
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def load_onnx(path: Union[str, Path]) -> onnx.ModelProto:
    """Load an ONNX file with its weights (``load_external_data`` for foreign files)."""
    return onnx.load(os.fspath(path), load_external_data=True)


def export_onnx(
    model: torch.nn.Module,
    path: Union[str, Path],
    height: int = 256,
    width: int = 256,
    batch: int = 1,
    dynamic: bool = False,
    opset: int = DEFAULT_OPSET,
    warp: Optional[str] = None,
) -> Path:
    """Export a :class:`~b2v_edge.model.Blur2Video` (eval mode) to a single-file ONNX model.

    Args:
        model: the network; its current warp mode is exported unless ``warp`` is given.
        path: output ``.onnx`` file (written atomically; no ``.onnx.data`` side file).
        height: example input height (the static input size unless ``dynamic``).
        width: example input width.
        batch: example batch size.
        dynamic: export batch, height and width as dynamic axes (H/W multiples of 32).
        opset: ONNX opset 13..18. The graph is always exported at 18 (opset 20 renames GridSample's
            modes, which TensorRT misreads) and lowered
            by :func:`~b2v_edge.export.opset.lower_opset` for older TensorRT parsers (8.0/8.2: 13,
            8.5/8.6: 17).
        warp: ``"native"`` (GridSample) or ``"gather"`` (no GridSample: the model is traced with
            GridSample and every GridSample is rewritten into the floor + GatherElements warp by
            :func:`~b2v_edge.export.gather_rewrite.rewrite_gridsample`, same numerics as the model's
            gather mode, and much faster to export than tracing the gather warps); the model is left in
            that mode. None = trace the
            model as it is.

    Returns:
        ``path``. The graph has input ``blurred`` float32 ``[B,3,H,W]`` and output ``frames``
        float32 ``[B,N,3,H,W]``.

    Raises:
        ValueError: bad sizes or warp mode.
        ExportError: the exporter failed (message names the failing step).
    """
    _check_size(height, width, batch, dynamic)
    if not MIN_OPSET <= opset <= DEFAULT_OPSET:
        raise ValueError(f"opset must be in {MIN_OPSET}..{DEFAULT_OPSET}, got {opset}")
    if warp is not None:
        model.set_warp_mode("native" if warp == "gather" else warp)  # gather: trace GridSample, rewrite below
    model.eval()
    example = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(0))
    try:
        proto = _to_proto(model, example, dynamic)
        if warp == "gather":
            rewrite_gridsample(proto)
        if opset < DEFAULT_OPSET:  # torch's fallback converter fails silently on these graphs: lower ourselves
            proto = lower_opset(proto, opset)
    except (OpsetError, RewriteError) as exc:
        raise ExportError(str(exc)) from exc
    except (RuntimeError, TypeError, ValueError) as exc:  # torch export errors are RuntimeError subclasses
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ExportError(f"torch.onnx.export failed: {first}") from exc
    finally:
        if warp is not None:
            model.set_warp_mode(warp)
    return save_onnx(proto, path)
