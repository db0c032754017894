"""FP16 graph with float32 I/O that keeps the warp geometry in float32.

fp16 has 10 mantissa bits: at 1280 px a sampling coordinate needs 11 bits for the integer part
alone, the gather warp's flat index ``y*W + x`` overflows fp16 (65,504) at 1280x720, and STN thetas /
flows feed those coordinates. :func:`convert_fp16` therefore keeps in float32 every node listed by
:func:`b2v_edge.export.roles.keep_fp32_nodes` (STN regressors, flow heads, warp math, sampling
coordinates, GridSample / GatherElements) and converts the rest.

Converters: onnxconverter-common (default, always available with the ``[export]`` extra) or NVIDIA
ModelOpt AutoCast when installed (``fp16_tool="auto"`` prefers it; it is an optional extra because it
pins older onnx / onnxruntime-gpu).

The manifest records the kept node names and their output tensors: TensorRT 8.x builds the fp16
plan from the fp32 graph and pins exactly these nodes to float32 (its ONNX parser names layers after
nodes and tensors after the ONNX outputs).
"""

from __future__ import annotations

import contextlib
import heapq
import importlib.util
import os
import re
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Set

import onnx

from .roles import keep_fp32_nodes

# ONNX Runtime's CPU provider has no fp16 kernel for these; converting them would make the graph
# unloadable where we measure parity (TensorRT runs them either way).
ORT_FP32_OPS = ("Resize", "Upsample", "Range", "CumSum", "TopK", "NonMaxSuppression", "RoiAlign", "RandomUniformLike")


@dataclass
class Fp16Result:
    """The converted graph and what stayed fp32 (written to the manifest)."""

    model: onnx.ModelProto
    tool: str
    kept_fp32: Dict[str, str]
    kept_by_role: Dict[str, int] = field(default_factory=dict)
    kept_by_op: Dict[str, int] = field(default_factory=dict)
    total_nodes: int = 0
    kept_tensors: List[str] = field(default_factory=list)

    def summary(self) -> Dict[str, object]:
        """JSON-ready description for ``Artifact.extra``."""
        return {
            "converter": self.tool,
            "kept_fp32_count": len(self.kept_fp32),
            "total_nodes": self.total_nodes,
            "kept_fp32_by_role": self.kept_by_role,
            "kept_fp32_by_op": self.kept_by_op,
            "kept_fp32_nodes": sorted(self.kept_fp32),
            "kept_fp32_tensors": sorted(self.kept_tensors),
        }


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A deep copy of ``model`` (the converters edit in place)."""
    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    return twin


def resolve_tool(tool: str) -> str:
    """``auto`` -> ``modelopt`` when ``modelopt.onnx.autocast`` is importable, else ``onnxconverter``."""
    if tool != "auto":
        return tool
    try:
        found = importlib.util.find_spec("modelopt.onnx.autocast") is not None
    except ModuleNotFoundError:
        found = False
    return "modelopt" if found else "onnxconverter"


def _with_onnxconverter(model: onnx.ModelProto, keep: List[str]) -> onnx.ModelProto:
    try:
        from onnxconverter_common import float16
    except ImportError as exc:
        raise RuntimeError("onnxconverter-common is not installed: pip install 'b2v-edge[export]'") from exc
    blocked = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(ORT_FP32_OPS))
    model = onnx.shape_inference.infer_shapes(model)
    _keep_boundary_value_info(model, set(keep))
    with warnings.catch_warnings(), _linear_topological_sort(float16):
        warnings.simplefilter("ignore")  # one warning per tiny weight truncated to fp16's 1e-7 floor
        return float16.convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=blocked,
            node_block_list=keep,
            max_finite_val=65504.0,
            disable_shape_infer=True,  # value_info was inferred above and trimmed to the fp32/fp16 boundaries
        )


def _keep_boundary_value_info(model: onnx.ModelProto, keep: Set[str]) -> None:
    """Drop value_info of tensors that only connect kept-fp32 nodes.

    onnxconverter-common inserts fp32 -> fp16 -> fp32 casts on every edge between two blocked nodes
    it has value_info for (precision loss, and a linear scan of value_info per edge); without it
    such edges stay untouched fp32. Tensors touching a converted node keep their value_info, so
    every real fp32/fp16 boundary still gets its cast.
    """
    touching = {name for node in model.graph.node if node.name not in keep for name in (*node.input, *node.output)}
    kept = [v for v in model.graph.value_info if v.name in touching]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)


def topological_sort(graph: onnx.GraphProto) -> None:
    """Sort ``graph.node`` topologically in place (Kahn, ties in original order); O(nodes + edges)."""
    nodes = list(graph.node)
    produced = {out: i for i, node in enumerate(nodes) for out in node.output}
    users: Dict[int, List[int]] = {}
    indegree = [0] * len(nodes)
    for i, node in enumerate(nodes):
        deps = {produced[name] for name in node.input if name in produced and produced[name] != i}
        indegree[i] = len(deps)
        for dep in deps:
            users.setdefault(dep, []).append(i)
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: List[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for user in users.get(i, []):
            indegree[user] -= 1
            if indegree[user] == 0:
                heapq.heappush(ready, user)
    if len(order) == len(nodes):  # a cycle (invalid graph) keeps its order for the checker to report
        del graph.node[:]
        graph.node.extend(nodes[i] for i in order)


@contextlib.contextmanager
def _linear_topological_sort(module: Any) -> Iterator[None]:
    """Use :func:`topological_sort` inside onnxconverter-common for one call.

    Its own ``sort_graph_node`` is quadratic in the node count and dominates the conversion of a
    large graph. Same contract (sorts ``graph.node`` in place).
    """
    original = getattr(module, "sort_graph_node", None)
    if original is None:  # internals changed: keep the library's behaviour
        yield
        return
    module.sort_graph_node = topological_sort
    try:
        yield
    finally:
        module.sort_graph_node = original


def _with_modelopt(model: onnx.ModelProto, keep: List[str]) -> onnx.ModelProto:
    try:
        from modelopt.onnx.autocast import convert_to_mixed_precision
    except ImportError as exc:
        raise RuntimeError(
            "ModelOpt is not installed: pip install 'b2v-edge[modelopt]' or use fp16_tool='onnxconverter'"
        ) from exc
    patterns = [f"^{re.escape(name)}$" for name in keep]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model.onnx")
        onnx.save(model, src)
        return convert_to_mixed_precision(
            onnx_path=src,
            low_precision_type="fp16",
            nodes_to_exclude=patterns,
            op_types_to_exclude=list(ORT_FP32_OPS),
            keep_io_types=True,
        )


def _cast_to(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "to"), -1)


def remove_cast_roundtrips(model: onnx.ModelProto) -> int:
    """Bypass ``Cast(fp32 -> fp16) -> Cast(fp16 -> fp32)`` pairs between two kept-fp32 nodes.

    onnxconverter-common isolates every blocked node with casts on each edge, so a chain of
    blocked nodes passes fp16 between them (a pixel coordinate of 200.3 comes back as 200.25 and
    Floor picks the wrong pixel). The fp32 consumer is wired to the original fp32 tensor; an fp16
    cast left without consumers is removed. Returns the number of bypassed pairs.
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    outputs = {o.name for o in graph.output}
    rename: Dict[str, str] = {}
    dead: Set[str] = set()
    for node in graph.node:
        if node.op_type != "Cast" or _cast_to(node) != onnx.TensorProto.FLOAT or node.output[0] in outputs:
            continue
        src = producer.get(node.input[0])
        if src is not None and src.op_type == "Cast" and _cast_to(src) == onnx.TensorProto.FLOAT16:
            rename[node.output[0]] = src.input[0]
            dead.add(node.name)
    for node in graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
    used = {i for node in graph.node if node.name not in dead for i in node.input} | outputs
    for node in graph.node:
        if node.op_type == "Cast" and _cast_to(node) == onnx.TensorProto.FLOAT16 and node.output[0] not in used:
            dead.add(node.name)
    kept = [n for n in graph.node if n.name not in dead]
    del graph.node[:]
    graph.node.extend(kept)
    return len(rename)


def unshare_initializers(model: onnx.ModelProto, keep: Set[str]) -> int:
    """Give converted nodes their own copy of initializers they share with kept-fp32 nodes.

    The exporter reuses scalar constants (0.0, 1.0) across the graph; onnxconverter-common leaves a
    shared initializer fp32 when any consumer is blocked, which breaks type binding of the
    converted consumers (e.g. ``Clip(fp16, fp32, fp32)``). Returns the number of copies made.
    """
    inits = {i.name: i for i in model.graph.initializer}
    users: Dict[str, List[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            if name in inits:
                users.setdefault(name, []).append(node)
    copies = 0
    for name, nodes in users.items():
        kept = [n for n in nodes if n.name in keep]
        if not kept or len(kept) == len(nodes):
            continue
        twin = onnx.TensorProto()
        twin.CopyFrom(inits[name])
        twin.name = f"{name}__fp16"
        model.graph.initializer.append(twin)
        copies += 1
        for node in nodes:
            if node.name not in keep:
                node.input[:] = [twin.name if i == name else i for i in node.input]
    return copies


def convert_fp16(model: onnx.ModelProto, tool: str = "auto") -> Fp16Result:
    """Convert ``model`` (fp32) to an fp16 graph with float32 input/output.

    Args:
        model: fp32 graph whose nodes carry ``b2v_edge.role`` tags (see :mod:`~b2v_edge.export.roles`).
        tool: ``auto``, ``onnxconverter`` or ``modelopt``.

    Returns:
        The converted model and the kept-fp32 node list with counts by role and op type.

    Raises:
        RuntimeError: the chosen converter is not installed.
    """
    tool = resolve_tool(tool)
    kept = keep_fp32_nodes(model)
    ops = {n.name: n.op_type for n in model.graph.node}
    for node in model.graph.node:
        if node.op_type in ORT_FP32_OPS and node.name not in kept:
            kept[node.name] = "no_fp16_kernel"
    names = list(kept)
    tensors = [o for n in model.graph.node if n.name in kept for o in n.output if o]
    model = copy_model(model)
    unshare_initializers(model, set(names))
    converted = _with_modelopt(model, names) if tool == "modelopt" else _with_onnxconverter(model, names)
    remove_cast_roundtrips(converted)
    return Fp16Result(
        model=converted,
        tool=tool,
        kept_fp32=kept,
        kept_by_role=dict(Counter(kept.values())),
        kept_by_op=dict(Counter(ops[n] for n in kept).most_common()),
        total_nodes=len(model.graph.node),
        kept_tensors=tensors,
    )
