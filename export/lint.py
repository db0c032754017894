"""Check an ONNX graph against what a target's TensorRT ONNX parser accepts (``trt_ops.json``).

Every finding names the node, the reason and the fix. ``error`` findings make the graph unusable
on the target (or silently wrong, like opset-20 GridSample on TensorRT); ``warning`` findings are
performance or portability notes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import onnx
from onnx import numpy_helper

from b2v_edge.common.errors import B2VError

from .graph import onnx_opset
from .targets import load_table, opset_range, supported_ops, target_info, trt_version_of, version_key

_QDQ = ("QuantizeLinear", "DequantizeLinear")


@dataclass
class Finding:
    """One lint result."""

    node: str
    op: str
    reason: str
    fix: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: node {self.node!r} ({self.op}): {self.reason}; fix: {self.fix}"


@dataclass
class LintReport:
    """All findings for one graph and target; truthy when there is no error."""

    target: str
    tensorrt: Optional[str]
    findings: List[Finding] = field(default_factory=list)

    @property
    def errors(self) -> List[Finding]:
        """Findings that fail the lint (the graph will not parse or run correctly on the target)."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> List[Finding]:
        """Findings that pass but cost speed or portability."""
        return [f for f in self.findings if f.severity == "warning"]

    def __bool__(self) -> bool:
        return not self.errors

    def grouped(self) -> List[Tuple[Finding, int]]:
        """Findings with the same op, reason and fix merged: (first finding, count), in order."""
        groups: Dict[Tuple[str, str, str, str], List[Finding]] = {}
        for f in self.findings:
            groups.setdefault((f.severity, f.op, f.reason, f.fix), []).append(f)
        return [(items[0], len(items)) for items in groups.values()]

    def to_dict(self) -> Dict[str, Any]:
        """JSON form recorded in the manifest (``extra.lint``)."""
        return {
            "target": self.target,
            "tensorrt": self.tensorrt,
            "passed": bool(self),
            "findings": [asdict(f) for f in self.findings],
        }


class LintError(B2VError, ValueError):
    """The graph cannot run correctly on the target; ``report`` holds every finding."""

    def __init__(self, report: LintReport, label: str = "graph") -> None:
        first = report.errors[0]
        more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        super().__init__(f"{label} fails the {report.target} lint: {first}{more}")
        self.report = report


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            value = onnx.helper.get_attribute_value(attr)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _input_ranks(model: onnx.ModelProto) -> Dict[str, int]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # lint must still report op-level findings on graphs ORT/onnx cannot infer
        inferred = model
    ranks = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        if value.type.tensor_type.HasField("shape"):
            ranks[value.name] = len(value.type.tensor_type.shape.dim)
    return ranks


def _check_opset(model: onnx.ModelProto, trt: str, target: str) -> Iterator[Finding]:
    opset = onnx_opset(model)
    low, high = opset_range(trt)
    if opset is None or not low <= opset <= high:
        want = target_info(target)["opset"]
        yield Finding(
            "<model>",
            "opset",
            f"ai.onnx opset {opset} is outside TensorRT {trt}'s parser range {low}..{high}",
            f"re-export with `b2v-edge export --target {target}` (opset {want})",
        )


def _check_gridsample(
    node: onnx.NodeProto, trt: str, opset: int, ranks: Dict[str, int], exact: bool
) -> Iterator[Finding]:
    rule = load_table()["op_rules"]["GridSample"]
    mode = _attr(node, "mode", "bilinear")  # no attribute: the parser's own default, bilinear
    if mode not in rule["modes"]:
        yield Finding(
            node.name,
            node.op_type,
            f"mode {mode!r} (opset {opset} spelling) is not matched by TensorRT's parser, "
            "which silently falls back to nearest (NVIDIA/TensorRT#4646)",
            "export at opset 18 (b2v-edge export does) or use --warp gather",
        )
    padding = _attr(node, "padding_mode", "zeros")
    if padding not in rule["padding_modes"]:
        yield Finding(
            node.name, node.op_type, f"padding_mode {padding!r} unsupported", f"use one of {rule['padding_modes']}"
        )
    rank = ranks.get(node.input[0])
    if rank is not None and rank > rule["max_rank"] and version_key(trt) < version_key(rule["rank5_since"]):
        yield Finding(
            node.name,
            node.op_type,
            f"{rank}-D GridSample needs TensorRT >= {rule['rank5_since']}",
            "use 4-D inputs or --warp gather",
        )
    if exact and _minor(trt) in rule["slow_versions"]:
        yield Finding(
            node.name,
            node.op_type,
            f"TensorRT {trt} runs GridSample much slower than 10.3+",
            "use TensorRT >= 10.3 or --warp gather",
            "warning",
        )


def _minor(version: str) -> str:
    return ".".join(str(v) for v in version_key(version)[:2])


def _constant_values(model: onnx.ModelProto) -> Dict[str, onnx.TensorProto]:
    """Initializers and ``Constant`` node outputs (``value`` attribute) by tensor name."""
    values = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                values[node.output[0]] = value
    return values


def _zero_point_findings(model: onnx.ModelProto, inits: Dict[str, onnx.TensorProto]) -> Iterator[Finding]:
    for node in model.graph.node:
        if node.op_type in _QDQ and len(node.input) > 2 and node.input[2]:
            zp = inits.get(node.input[2])
            if zp is None or np.any(numpy_helper.to_array(zp) != 0):
                yield Finding(
                    node.name,
                    node.op_type,
                    "TensorRT requires zero-point 0 (symmetric quantization)",
                    "re-quantize with ActivationSymmetric/WeightSymmetric (b2v-edge export --precision int8 does)",
                )


def _int8_gridsample(model: onnx.ModelProto) -> Iterator[Finding]:
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers: Dict[str, List[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for node in model.graph.node:
        if node.op_type != "GridSample":
            continue
        fed = node.input[0] in producer and producer[node.input[0]].op_type == "DequantizeLinear"
        requant = any(c.op_type == "QuantizeLinear" for c in consumers.get(node.output[0], []))
        if fed and requant:
            yield Finding(
                node.name,
                node.op_type,
                "GridSample sits between Q/DQ pairs but never runs in INT8 on TensorRT",
                "exclude GridSample and its neighbours from quantization (keep the warp fp32/fp16)",
            )


def _node_findings(model: onnx.ModelProto, trt: str, exact: bool) -> Iterator[Finding]:
    ops = supported_ops(trt)
    opset = onnx_opset(model) or 0
    ranks = _input_ranks(model)
    rules = load_table()["op_rules"]
    inits = {i.name for i in model.graph.initializer}
    constants = {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    values = _constant_values(model)
    unsupported = load_table()["unsupported_ops"]
    grid_since = rules["GridSample"]["since"]
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            yield Finding(
                node.name,
                f"{node.domain}::{node.op_type}",
                "custom-domain op: the parser needs a plugin",
                "re-export without custom ops",
            )
        elif node.op_type in unsupported:
            yield Finding(
                node.name, node.op_type, unsupported[node.op_type]["reason"], unsupported[node.op_type]["fix"]
            )
        elif node.op_type == "GridSample" and version_key(trt) < version_key(grid_since):
            yield Finding(
                node.name,
                node.op_type,
                f"TensorRT {trt} has no GridSample (added in {grid_since})",
                rules["GridSample"]["fix_before"],
            )
        elif node.op_type not in ops:
            yield Finding(
                node.name,
                node.op_type,
                f"not supported by TensorRT {trt}'s ONNX parser",
                "re-export for a newer --target or avoid this op",
            )
        elif node.op_type == "GridSample":
            yield from _check_gridsample(node, trt, opset, ranks, exact)
        elif node.op_type == "Resize":
            yield from _check_resize(node, rules["Resize"])
        elif node.op_type == "Pad" and version_key(trt) < version_key(rules["Pad"]["constant_only_before"]):
            yield from _check_constant_pad(node, rules["Pad"], trt, values)
        axes = _axes_input(node, rules["axes_initializer"])
        if axes and axes not in inits and axes not in constants:
            yield Finding(
                node.name,
                node.op_type,
                "`axes` is computed at run time; the parser needs an initializer",
                "simplify the graph (onnxsim) or export with static shapes",
            )


def _check_constant_pad(
    node: onnx.NodeProto, rule: Dict[str, Any], trt: str, values: Dict[str, onnx.TensorProto]
) -> Iterator[Finding]:
    """TensorRT < 8.2 pads only with the constant 0, with ``pads`` known at build time."""
    mode = _attr(node, "mode", "constant")
    value = values.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    nonzero = value is not None and np.any(numpy_helper.to_array(value) != 0)
    runtime = len(node.input) > 2 and node.input[2] and value is None
    pads_unknown = len(node.input) > 1 and node.input[1] not in values
    if mode != "constant" or nonzero or runtime or pads_unknown or _attr(node, "value", 0.0):
        what = f"mode {mode!r}" if mode != "constant" else "a non-zero or computed pad"
        yield Finding(node.name, node.op_type, f"TensorRT {trt} pads only with constant 0 ({what})", rule["fix"])


def _axes_input(node: onnx.NodeProto, ops: List[str]) -> Optional[str]:
    """Name of the ``axes`` input of a Reduce*/Squeeze/Unsqueeze/Slice node, if it has one."""
    if node.op_type not in ops:
        return None
    index = 3 if node.op_type == "Slice" else 1
    return node.input[index] if len(node.input) > index and node.input[index] else None


def _check_resize(node: onnx.NodeProto, rule: Dict[str, Any]) -> Iterator[Finding]:
    mode = _attr(node, "mode", "nearest")
    ctm = _attr(node, "coordinate_transformation_mode", "half_pixel")
    if mode not in rule["modes"]:
        yield Finding(node.name, node.op_type, f"Resize mode {mode!r} unsupported", f"use one of {rule['modes']}")
    if ctm not in rule["coordinate_transformation_modes"]:
        yield Finding(
            node.name,
            node.op_type,
            f"coordinate_transformation_mode {ctm!r} unsupported",
            "use half_pixel / align_corners",
        )
    if _attr(node, "antialias", 0):
        yield Finding(node.name, node.op_type, "antialiased Resize unsupported", "disable antialias")


def lint_model(model: Union[onnx.ModelProto, str, Path], target: str, trt_version: Optional[str] = None) -> LintReport:
    """Lint ``model`` for ``target`` (``trt8.0`` ... ``trt11`` or ``onnxruntime``).

    Args:
        model: a ModelProto or a path to an ``.onnx`` file.
        target: one of :data:`~b2v_edge.export.targets.TARGETS`.
        trt_version: the exact TensorRT version (``build-engine`` passes the installed one);
            None = the target's baseline version. Enables version-exact warnings.

    Returns:
        A :class:`LintReport` (falsy when it has errors).
    """
    trt = trt_version or trt_version_of(target)  # validates target first
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    report = LintReport(target=target, tensorrt=trt)
    if trt is None:  # ONNX Runtime implements the whole ai.onnx domain; only the opset matters
        opset = onnx_opset(model)
        if opset is None or opset > onnx.defs.onnx_opset_version():
            report.findings.append(
                Finding("<model>", "opset", f"opset {opset} unknown to this onnx/onnxruntime", "re-export at opset 18")
            )
        return report
    report.findings.extend(_node_findings(model, trt, trt_version is not None))
    report.findings.extend(_check_opset(model, trt, target))
    values = _constant_values(model)
    report.findings.extend(_zero_point_findings(model, values))
    report.findings.extend(_int8_gridsample(model))
    return report


def ensure_lint(
    model: Union[onnx.ModelProto, str, Path], target: str, label: str = "graph", trt_version: Optional[str] = None
) -> LintReport:
    """:func:`lint_model`, raising :class:`LintError` when there is any error finding."""
    report = lint_model(model, target, trt_version)
    if not report:
        raise LintError(report, label)
    return report
