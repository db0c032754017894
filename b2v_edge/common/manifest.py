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

Paths inside the manifest are relative to the deploy directory. ``shape`` entries may hold
``null`` (or a string name) for dynamic axes. Artifact ``kind`` is ``"onnx"`` or
``"tensorrt_plan"``; ``precision`` is ``"fp32"``, ``"fp16"`` or ``"int8"``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .atomic import atomic_write_text
from .errors import B2VError
from .vocab import PRECISION_NAMES

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
KINDS = ("onnx", "tensorrt_plan")
PRECISIONS = PRECISION_NAMES


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

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ManifestError(f"artifact {self.path}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.precision not in PRECISIONS:
            raise ManifestError(f"artifact {self.path}: precision must be one of {PRECISIONS}, got {self.precision!r}")


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
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{file} is not valid JSON ({exc}); re-run `b2v-edge export`") from exc
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"{file} has schema_version {version!r}, this b2v-edge reads {SCHEMA_VERSION}; re-export"
            )
        arts = [Artifact(**a) for a in data.get("artifacts", [])]
        keys = ("model", "input", "output", "calibration", "parity", "created", "updated")
        return cls(root=file.parent, artifacts=arts, **{k: data[k] for k in keys if k in data})

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "created": self.created,
            "updated": self.updated,
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "artifacts": [asdict(a) for a in self.artifacts],
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
            hint = (
                f"b2v-edge build-engine {self.root} --precision {precision}"
                if kind == "tensorrt_plan"
                else f"b2v-edge export --precision {precision} --out {self.root}"
            )
            raise ManifestError(f"{self.root} has no {kind} artifact for {precision} (has {have}); run `{hint}`")
        return found[-1]

    def path_of(self, artifact: Artifact) -> Path:
        return Path(self.root) / artifact.path

    def upsert(self, artifact: Artifact) -> None:
        """Add ``artifact``, replacing any entry with the same path."""
        self.artifacts = [a for a in self.artifacts if a.path != artifact.path] + [artifact]

    def verify(self, artifact: Artifact) -> None:
        """Check the file exists and its SHA-256 matches the manifest (ManifestError otherwise)."""
        file = self.path_of(artifact)
        if not file.exists():
            raise ManifestError(f"{file} is listed in the manifest but missing; re-run `b2v-edge export`")
        actual = sha256_file(file)
        if actual != artifact.sha256:
            raise ManifestError(
                f"{file} does not match the manifest (sha256 {actual[:12]}… != {artifact.sha256[:12]}…); "
                "it was modified after export: re-export or rebuild it"
            )
