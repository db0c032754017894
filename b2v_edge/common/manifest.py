"""The deploy directory's ``manifest.json``: the hand-off between export, calibration, build and run.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "created": "2026-11-27T21:00:00Z", "updated": "...",
      "model": {"name": "b2v-lite", "preset": "lite", "frames": 7,
                "checkpoint": "demo", "checkpoint_sha256": "...", "config": {...}},
      "input":  {"name": "blurred", "shape": [1, 3, 256, 256], "dtype": "float32",
                 "layout": "NCHW", "color": "RGB", "range": [0, 1], "dynamic": false},
      "output": {"name": "frames", "shape": [1, 7, 3, 256, 256], "dtype": "float32"},
      "artifacts": [
        {"path": "model.onnx", "kind": "onnx", "precision": "fp32", "sha256": "...",
         "warp": "gather", "opset": 18, "target": "trt10", "extra": {...}},
        {"path": "model.fp16.plan", "kind": "tensorrt_plan", "precision": "fp16", "sha256": "...",
         "warp": "gather", "opset": 18, "target": "trt10",
         "extra": {"source": "model.fp16.onnx", "tensorrt_version": "10.3.0", "cuda_version": "12.6",
                   "gpu": "Orin", "compute_capability": "8.7", "build_options": {...}}}
      ],
      "calibration": {...}, "parity": {...}
    }

Paths inside the manifest are relative to the deploy directory and must stay inside it (symlinks
included, :mod:`.confine`): :meth:`Manifest.load` rejects any other path, and :meth:`Manifest.path_of`
checks again on disk before a file is read. ``shape`` entries may hold ``null`` (or a string name)
for dynamic axes. Artifact ``kind`` is ``"onnx"`` or ``"tensorrt_plan"``; ``precision`` is
``"fp32"``, ``"fp16"`` or ``"int8"``.

Loading is typed: a known key with the wrong type is a one-line :class:`ManifestError` naming the
entry; keys this version does not know (written by a newer b2v-edge) are kept, saved back unchanged
and reported once as a notice on the ``b2v_edge.manifest`` logger.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .atomic import atomic_write_text
from .confine import ConfinementError, check_relative, confined
from .errors import B2VError
from .records import Fp16Record, PlanRecord, RecordError, VerificationRecord, expect
from .vocab import PRECISION_NAMES

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
KINDS = ("onnx", "tensorrt_plan")
PRECISIONS = PRECISION_NAMES
SECTIONS = ("model", "input", "output", "calibration", "parity")
REFERENCE_KEY = "reference_set"  # manifest.parity[REFERENCE_KEY]["path"]: the parity reference set

log = logging.getLogger("b2v_edge.manifest")


class ManifestError(B2VError, ValueError):
    """A deploy directory or manifest that cannot be used (one-line, actionable message)."""


def sha256_file(path: Union[str, Path], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Artifact:
    """One file in the deploy directory."""

    path: str
    kind: str
    precision: str
    sha256: str
    warp: str = "native"
    opset: Optional[int] = None
    target: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)
    unknown: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # a newer writer's keys

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ManifestError(f"artifact {self.path}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.precision not in PRECISIONS:
            raise ManifestError(f"artifact {self.path}: precision must be one of {PRECISIONS}, got {self.precision!r}")

    def to_dict(self) -> Dict[str, Any]:
        """The manifest entry (unknown keys of a newer writer kept)."""
        known = {k: getattr(self, k) for k in ARTIFACT_TYPES}
        return {**self.unknown, **known}

    @property
    def plan(self) -> PlanRecord:
        """The TensorRT plan provenance recorded in ``extra`` (defaults where not recorded)."""
        return _record(PlanRecord, self)

    @property
    def fp16(self) -> Fp16Record:
        """What the fp16 export kept in float32, from ``extra``."""
        return _record(Fp16Record, self)

    @property
    def verification(self) -> VerificationRecord:
        """The check against PyTorch made when the artifact was written, from ``extra``."""
        return _record(VerificationRecord, self)


def _record(kind: Any, art: Artifact) -> Any:
    try:
        return kind.from_extra(art.extra or {}, f"artifact {art.path}: extra")
    except RecordError as exc:
        raise ManifestError(str(exc)) from None


# key -> (accepted types, required); bool is rejected where int is asked (JSON true is not a number)
ARTIFACT_TYPES: Dict[str, Tuple[Tuple[type, ...], bool]] = {
    "path": ((str,), True),
    "kind": ((str,), True),
    "precision": ((str,), True),
    "sha256": ((str,), True),
    "warp": ((str,), False),
    "opset": ((int, type(None)), False),
    "target": ((str, type(None)), False),
    "extra": ((dict,), False),
}


# ``extra`` fields the tools read that no typed record covers (the records check their own fields)
EXTRA_TYPES: Dict[str, Tuple[type, ...]] = {
    "source": (str,),
    "source_sha256": (str,),
    "lint": (dict,),
    "calibration": (dict,),
}


def _expect(value: Any, types: Tuple[type, ...], what: str) -> Any:
    return expect(value, types, what, ManifestError)


def _artifact(data: Any, i: int, unknown: List[str]) -> Artifact:
    what = f"artifacts[{i}]"
    _expect(data, (dict,), what)
    fields: Dict[str, Any] = {}
    for key, (types, required) in ARTIFACT_TYPES.items():
        if key not in data:
            if required:
                raise ManifestError(f"{what} has no {key!r}")
            continue
        fields[key] = _expect(data[key], types, f"{what}.{key}")
    check_relative(fields["path"], f"{what}.path")
    for key, value in fields.get("extra", {}).items():
        if key in EXTRA_TYPES:  # null means "not recorded" (e.g. no profile for a static graph)
            _expect(value, (*EXTRA_TYPES[key], type(None)), f"{what}.extra.{key}")
    for kind in (PlanRecord, Fp16Record, VerificationRecord):
        try:
            kind.from_extra(fields.get("extra", {}), f"{what}.extra")
        except RecordError as exc:
            raise ManifestError(str(exc)) from None
    if fields.get("extra", {}).get("source") is not None:
        check_relative(fields["extra"]["source"], f"{what}.extra.source")
    if len(fields["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in fields["sha256"]):
        raise ManifestError(f"{what}.sha256 must be 64 lowercase hex digits, got {fields['sha256'][:70]!r}")
    extra_keys = {k: v for k, v in data.items() if k not in ARTIFACT_TYPES}
    unknown += [f"{what}.{k}" for k in extra_keys]
    return Artifact(**fields, unknown=extra_keys)


def _check_sections(data: Dict[str, Any]) -> None:
    """Types of the section fields the tools read; paths of calibration files and the reference set."""
    for key in SECTIONS:
        _expect(data.get(key, {}), (dict,), key)
    for key in ("created", "updated"):
        _expect(data.get(key, ""), (str,), key)
    _expect(data.get("model", {}).get("frames"), (int, type(None)), "model.frames")
    for section in ("input", "output"):
        sec = data.get(section, {})
        _expect(sec.get("name", ""), (str,), f"{section}.name")
        shape = _expect(sec.get("shape", []), (list,), f"{section}.shape")
        for j, dim in enumerate(shape):
            _expect(dim, (int, str, type(None)), f"{section}.shape[{j}]")
    for target, record in data.get("calibration", {}).items():
        if not isinstance(record, dict):
            continue  # older scalar entries (e.g. "cache": name) are checked where they are used
        files = _expect(record.get("files", {}), (dict,), f"calibration.{target}.files")
        for name, entry in files.items():
            _expect(entry, (dict,), f"calibration.{target}.files.{name}")
            check_relative(entry.get("path"), f"calibration.{target}.files.{name}.path")
    reference = data.get("parity", {}).get(REFERENCE_KEY)
    if reference:
        _expect(reference, (dict,), f"parity.{REFERENCE_KEY}")
        check_relative(reference.get("path"), f"parity.{REFERENCE_KEY}.path")


@dataclass
class Manifest:
    """In-memory view of ``manifest.json``; ``root`` is the deploy directory."""

    root: Path
    model: Dict[str, Any] = field(default_factory=dict)
    input: Dict[str, Any] = field(default_factory=dict)
    output: Dict[str, Any] = field(default_factory=dict)
    artifacts: List[Artifact] = field(default_factory=list)
    calibration: Dict[str, Any] = field(default_factory=dict)
    parity: Dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    schema_version: int = SCHEMA_VERSION
    unknown: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # a newer writer's keys

    # ---- loading / saving -------------------------------------------------------------
    @classmethod
    def load(cls, deploy_dir: Union[str, Path]) -> "Manifest":
        """Read ``<deploy_dir>/manifest.json`` (or the manifest file itself)."""
        p = Path(deploy_dir)
        file = p if p.name == MANIFEST_NAME else p / MANIFEST_NAME
        if not file.exists():
            raise ManifestError(f"no {MANIFEST_NAME} in {file.parent}: run `b2v-edge export --out {file.parent}` first")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{file} is not valid JSON ({exc}); re-run `b2v-edge export`") from exc
        try:
            manifest, unknown = cls._from_dict(data, file.parent)
        except (ManifestError, ConfinementError) as exc:
            raise ManifestError(f"{file}: {exc}; fix the entry or re-export into an empty --out") from exc
        if unknown:
            log.warning(
                "%s has entries this b2v-edge does not know (%s): written by a newer version; they are kept",
                file,
                ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else ""),
            )
        return manifest

    @classmethod
    def _from_dict(cls, data: Any, root: Path) -> Tuple["Manifest", List[str]]:
        """A manifest from parsed JSON, type-checked; also the names of the keys it did not know."""
        _expect(data, (dict,), "the manifest")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ManifestError(f"schema_version is {version!r}, this b2v-edge reads {SCHEMA_VERSION}")
        _check_sections(data)
        unknown = [k for k in data if k not in (*SECTIONS, "schema_version", "created", "updated", "artifacts")]
        arts = [
            _artifact(a, i, unknown) for i, a in enumerate(_expect(data.get("artifacts", []), (list,), "artifacts"))
        ]
        keys = (*SECTIONS, "created", "updated")
        manifest = cls(root=root, artifacts=arts, **{k: data[k] for k in keys if k in data})
        manifest.unknown = {k: data[k] for k in unknown if k in data}
        return manifest, unknown

    def to_dict(self) -> Dict[str, Any]:
        return {
            **self.unknown,
            "schema_version": self.schema_version,
            "created": self.created,
            "updated": self.updated,
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "artifacts": [a.to_dict() for a in self.artifacts],
            "calibration": self.calibration,
            "parity": self.parity,
        }

    def save(self) -> Path:
        """Atomically write ``manifest.json`` into ``root``; returns its path."""
        self.updated = _now()
        file = Path(self.root) / MANIFEST_NAME
        atomic_write_text(file, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return file

    # ---- queries ------------------------------------------------------------------------
    def find(self, kind: Optional[str] = None, precision: Optional[str] = None) -> List[Artifact]:
        """Artifacts matching ``kind`` and/or ``precision`` (None = any), in manifest order."""
        return [
            a
            for a in self.artifacts
            if (kind is None or a.kind == kind) and (precision is None or a.precision == precision)
        ]

    def get(self, kind: str, precision: str) -> Artifact:
        """The one artifact of ``kind``/``precision``, or a ManifestError saying how to make it."""
        found = self.find(kind, precision)
        if not found:
            have = ", ".join(f"{a.path} ({a.kind}/{a.precision})" for a in self.artifacts) or "nothing"
            shipped = _inside_package(self.root)  # the demo inside the installed package: never write there
            target = "deploy" if shipped else str(self.root)
            hint = (
                f"b2v-edge build-engine {target} --precision {precision}"
                if kind == "tensorrt_plan"
                else f"b2v-edge export --precision {precision} --out {target}"
            ) + ("` and pass `--model deploy" if shipped else "")
            raise ManifestError(f"{self.root} has no {kind} artifact for {precision} (has {have}); run `{hint}`")
        return found[-1]

    def path_of(self, artifact: Artifact) -> Path:
        """The artifact's file, checked to resolve inside the deploy dir (ManifestError otherwise)."""
        return self.resolve(artifact.path, f"artifact {artifact.path!r}")

    def resolve(self, rel: Any, what: str, follow: bool = True) -> Path:
        """``root / rel`` for a path read from this manifest, confined to the deploy dir.

        Args:
            rel: the relative path as written in the manifest.
            what: how to name the entry in the error message.
            follow: False to check only the parent folder (for unlinking a name, never its target).

        Raises:
            ManifestError: ``rel`` is not a normalised relative path or resolves outside ``root``.
        """
        try:
            return confined(self.root, rel, what, follow=follow)
        except ConfinementError as exc:
            raise ManifestError(f"{Path(self.root) / MANIFEST_NAME}: {exc}; fix the entry or re-export") from exc

    def files(self) -> List[str]:
        """Every file the manifest lists: artifacts, calibration records and caches, the reference set."""
        names = [a.path for a in self.artifacts]
        for record in self.calibration.values():
            if isinstance(record, dict):
                names += [e["path"] for e in (record.get("files") or {}).values() if isinstance(e, dict)]
        reference = (self.parity or {}).get(REFERENCE_KEY)
        if isinstance(reference, dict) and reference.get("path"):
            names.append(reference["path"])
        return list(dict.fromkeys(names))

    def upsert(self, artifact: Artifact) -> None:
        """Add ``artifact``, replacing any entry with the same path."""
        self.artifacts = [a for a in self.artifacts if a.path != artifact.path] + [artifact]

    def verify(self, artifact: Artifact) -> None:
        """Check the file exists and its SHA-256 matches the manifest (ManifestError otherwise)."""
        file = self.path_of(artifact)
        remake = _remake_hint(self.root, artifact)
        if not file.exists():
            raise ManifestError(f"{file} is listed in the manifest but missing; {remake}")
        if not file.is_file():
            raise ManifestError(f"{file} (manifest entry {artifact.path!r}) is not a regular file; {remake}")
        actual = sha256_file(file)
        if actual != artifact.sha256:
            raise ManifestError(
                f"{file} does not match the manifest (sha256 {actual[:12]}… != {artifact.sha256[:12]}…): "
                f"the file was replaced or damaged since the manifest was written; {remake}"
            )


def _inside_package(path: Union[str, Path]) -> bool:
    """``path`` lies inside the installed b2v_edge package (the shipped demo deploy dir)."""
    package = Path(__file__).resolve().parents[1]
    return package in Path(path).resolve().parents


def _remake_hint(root: Path, artifact: Artifact) -> str:
    """The command that writes ``artifact`` again."""
    if artifact.kind == "tensorrt_plan":
        return f"run `b2v-edge build-engine {root} --precision {artifact.precision}` to rebuild it"
    if artifact.precision == "int8":
        return f"run `b2v-edge calibrate {root}` to rewrite it"
    return f"run `b2v-edge export --precision {artifact.precision} --out {root}` to rewrite it"
