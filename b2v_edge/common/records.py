"""Typed views of the records the tools read from a manifest artifact's ``extra``.

``manifest.json`` keeps each artifact's records as plain JSON objects (so an older or newer tool can
read and rewrite them); every reader goes through these frozen dataclasses instead of looking up
strings itself. A field of the wrong type is a one-line :class:`~b2v_edge.common.manifest.ManifestError`
naming the artifact and the field; a missing field takes its "not recorded" default; fields these
views do not know are ignored here and kept in the manifest.

* :class:`PlanRecord` — a TensorRT plan's provenance: the TensorRT / CUDA versions, GPU and compute
  capability it was built on, its build options and optimization profile;
* :class:`Fp16Record` — what the fp16 export kept in float32 (TensorRT 8.x pins those layers);
* :class:`VerificationRecord` — the artifact-vs-PyTorch check made when it was written.

Example:
    >>> plan = PlanRecord.from_extra({"tensorrt_version": "10.3.0", "build_options": {"version_compatible": True}})
    >>> plan.tensorrt_version, plan.version_compatible, plan.gpu
    ('10.3.0', True, '')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Type

from .errors import B2VError

__all__ = ["Fp16Record", "PlanRecord", "RecordError", "VerificationRecord", "expect"]


class RecordError(B2VError, ValueError):
    """A record field of the wrong type (the manifest loader reports it as a ManifestError)."""


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def expect(value: Any, types: Tuple[type, ...], what: str, error: Type[Exception] = RecordError) -> Any:
    """``value`` if it is one of the JSON ``types`` (a boolean is not a number), else ``error``.

    Raises:
        error: one line, ``"<what> must be a string, got a number"``.
    """
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        names = " or ".join(sorted({_type_name(t()) if t is not type(None) else "null" for t in types}))
        raise error(f"{what} must be {names}, got {_type_name(value)}")
    return value


def _get(record: Mapping[str, Any], key: str, types: Tuple[type, ...], default: Any, where: str) -> Any:
    value = record.get(key)
    return default if value is None else expect(value, types, f"{where}.{key}")


def _section(extra: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    return _get(extra, key, (dict,), {}, where)


@dataclass(frozen=True)
class PlanRecord:
    """Provenance of a TensorRT plan (empty strings / defaults where it was not recorded).

    Attributes:
        tensorrt_version: TensorRT that built the plan, e.g. ``"10.3.0"``.
        cuda_version: CUDA runtime of that build.
        gpu: GPU name, e.g. ``"Orin"``.
        compute_capability: e.g. ``"8.7"``.
        build_seconds: builder wall time.
        version_compatible: built with ``--version-compatible`` (loads in the same or a newer TensorRT).
        hardware_compatibility: ``"none"`` or ``"ampere+"``.
        profile: optimization profile ``{input name: {"min"|"opt"|"max": shape}}`` of a dynamic plan.
        build_options: every build option as recorded (for tools that print them).
    """

    tensorrt_version: str = ""
    cuda_version: str = ""
    gpu: str = ""
    compute_capability: str = ""
    build_seconds: Optional[float] = None
    version_compatible: bool = False
    hardware_compatibility: str = "none"
    profile: Mapping[str, Any] = field(default_factory=dict)
    build_options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hardware_compatible(self) -> bool:
        """Whether the plan was built for several GPU generations (``ampere+``)."""
        return self.hardware_compatibility.lower() not in ("", "none")

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], where: str = "extra") -> "PlanRecord":
        """The record from an artifact's ``extra``.

        Raises:
            RecordError: a field of the wrong type.
        """
        options = _section(extra, "build_options", where)
        return cls(
            tensorrt_version=_get(extra, "tensorrt_version", (str,), "", where),
            cuda_version=_get(extra, "cuda_version", (str,), "", where),
            gpu=_get(extra, "gpu", (str,), "", where),
            compute_capability=_get(extra, "compute_capability", (str,), "", where),
            build_seconds=_get(extra, "build_seconds", (int, float), None, where),
            version_compatible=_get(options, "version_compatible", (bool,), False, f"{where}.build_options"),
            hardware_compatibility=_get(options, "hardware_compatibility", (str,), "none", f"{where}.build_options"),
            profile=dict(_section(extra, "profile", where)),
            build_options=dict(options),
        )


@dataclass(frozen=True)
class Fp16Record:
    """What the fp16 export kept in float32: node names and their output tensors."""

    kept_fp32_nodes: Tuple[str, ...] = ()
    kept_fp32_tensors: Tuple[str, ...] = ()

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], where: str = "extra") -> "Fp16Record":
        """The record from the fp16 artifact's ``extra`` (``{"fp16": {...}}``).

        Raises:
            RecordError: a field of the wrong type.
        """
        record = _section(extra, "fp16", where)
        nodes = _get(record, "kept_fp32_nodes", (list, tuple), (), f"{where}.fp16")
        tensors = _get(record, "kept_fp32_tensors", (list, tuple), (), f"{where}.fp16")
        return cls(tuple(str(n) for n in nodes), tuple(str(t) for t in tensors))


@dataclass(frozen=True)
class VerificationRecord:
    """The artifact-vs-PyTorch check made when the artifact was written (``None``: not recorded)."""

    psnr_db: Optional[float] = None
    raw: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], where: str = "extra") -> "VerificationRecord":
        """The record from an artifact's ``extra`` (``{"verification": {...}}``).

        Raises:
            RecordError: a field of the wrong type.
        """
        record = _section(extra, "verification", where)
        return cls(_get(record, "psnr_db", (int, float), None, f"{where}.verification"), dict(record))
