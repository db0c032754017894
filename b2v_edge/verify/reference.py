"""The reference set: a few inputs, the PyTorch outputs and (where known) ground truth, stored in the deploy dir.

Written at export time next to the graphs (``reference.npz``, sha256 in ``manifest.json``), read by
``b2v-edge parity`` anywhere — on a Jetson with only the base install, a TensorRT plan built there
is compared with the PyTorch model without PyTorch. The pattern is Polygraphy's
``--save-outputs`` / ``--load-outputs``.

File format (a zip of ``.npy`` arrays, LZMA-compressed; ``numpy.load`` reads it, no pickle)::

    inputs        uint8  [K, H, W, 3]     RGB blurred inputs (exactly what the reference model saw, /255)
    outputs       uint16 [K, N, H, W, 3]  reference outputs in [0, 1] as round(x * OUTPUT_SCALE)
    ground_truth  uint8  [K, N, H, W, 3]  the N sharp frames, when the data has them
    meta          str                     JSON: schema, data spec, seed, checkpoint sha256, scale ...

Outputs keep 12 bits (``OUTPUT_SCALE`` = 4095): steps of 2.4e-4, a PSNR ceiling near 83 dB — far
above every pass bar (fp32 60 dB) — at about 1.5 MB per 256x256, N=7 sample instead of 5.5 MB in
float32. The manifest entry lives under ``parity["reference_set"]``.
"""

from __future__ import annotations

import datetime as _dt
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from b2v_edge.common.atomic import atomic_open
from b2v_edge.common.manifest import Manifest, ManifestError, sha256_file

from .results import ParityError, ParitySample

__all__ = [
    "DEFAULT_SAMPLES",
    "MANIFEST_KEY",
    "OUTPUT_SCALE",
    "REFERENCE_NAME",
    "ReferenceSet",
    "build_reference_set",
    "load_reference_set",
    "record_reference_set",
]

REFERENCE_NAME = "reference.npz"
MANIFEST_KEY = "reference_set"
SCHEMA_VERSION = 1
OUTPUT_SCALE = 4095  # 12-bit fixed point: see the module docstring
#: Samples written at export: two keep a 256x256, N=7 deploy dir's reference set near 4 MB.
DEFAULT_SAMPLES = 2
MAX_SAMPLES = 64


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


@dataclass
class ReferenceSet:
    """Inputs, reference outputs and optional ground truth of ``count`` samples.

    Attributes:
        inputs: ``uint8 [K, H, W, 3]`` RGB; the model input is ``inputs / 255``.
        outputs: ``float32 [K, N, H, W, 3]`` in [0, 1] (the PyTorch outputs, at the stored resolution).
        ground_truth: ``float32 [K, N, H, W, 3]`` in [0, 1], or None.
        meta: provenance (``data``, ``seed``, ``checkpoint_sha256``, ``created`` ...).
    """

    inputs: np.ndarray
    outputs: np.ndarray
    ground_truth: Optional[np.ndarray] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k, h, w = self.inputs.shape[:3]
        if self.inputs.dtype != np.uint8 or self.inputs.shape != (k, h, w, 3):
            raise ParityError(f"reference inputs must be uint8 [K,H,W,3], got {self.inputs.dtype} {self.inputs.shape}")
        if self.outputs.ndim != 5 or self.outputs.shape[0] != k or self.outputs.shape[2:] != (h, w, 3):
            raise ParityError(
                f"reference outputs must be [K,N,H,W,3] for inputs {self.inputs.shape}, got {self.outputs.shape}"
            )
        if self.ground_truth is not None and self.ground_truth.shape != self.outputs.shape:
            raise ParityError(f"ground truth {self.ground_truth.shape} does not match outputs {self.outputs.shape}")

    @property
    def count(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def frames(self) -> int:
        return int(self.outputs.shape[1])

    @property
    def size(self) -> Tuple[int, int]:
        """``(H, W)`` of the inputs."""
        return int(self.inputs.shape[1]), int(self.inputs.shape[2])

    @property
    def resolution(self) -> float:
        """Smallest output difference the stored outputs resolve."""
        return 1.0 / float(self.meta.get("output_scale", OUTPUT_SCALE))

    def samples(self, count: Optional[int] = None) -> List[ParitySample]:
        """The first ``count`` (default: all) samples as float ``[0, 1]`` :class:`ParitySample`."""
        n = self.count if count is None else min(count, self.count)
        gt = self.ground_truth
        return [
            ParitySample(
                self.inputs[i].astype(np.float32) / 255.0,
                None if gt is None else np.ascontiguousarray(gt[i], np.float32),
                f"reference#{i}",
            )
            for i in range(n)
        ]

    def reference_outputs(self, count: Optional[int] = None) -> List[np.ndarray]:
        """The first ``count`` reference outputs, ``float32 [N, H, W, 3]`` each."""
        n = self.count if count is None else min(count, self.count)
        return [np.ascontiguousarray(self.outputs[i], np.float32) for i in range(n)]

    # ---- file ------------------------------------------------------------------------------------
    def save(self, path: Union[str, Path]) -> Path:
        """Write the set to ``path`` atomically (zip of ``.npy``, LZMA); returns ``path``."""
        meta = {**self.meta, "schema_version": SCHEMA_VERSION, "output_scale": OUTPUT_SCALE}
        arrays = {
            "inputs": np.ascontiguousarray(self.inputs),
            "outputs": np.round(np.clip(self.outputs, 0.0, 1.0) * OUTPUT_SCALE).astype(np.uint16),
            "meta": np.array(json.dumps(meta, sort_keys=True)),
        }
        if self.ground_truth is not None:
            arrays["ground_truth"] = _to_u8(self.ground_truth)
        with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_LZMA) as zf:
            for name, array in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
        return Path(path)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "ReferenceSet":
        """Read a set written by :meth:`save` (ParityError when it is not one)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            meta = json.loads(str(arrays["meta"].reshape(-1)[0]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise ParityError(f"{path} is not a readable reference set ({exc}); re-export the deploy dir") from exc
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ParityError(
                f"{path} has reference schema {meta.get('schema_version')!r}, this b2v-edge reads {SCHEMA_VERSION}; re-export"
            )
        scale = float(meta.get("output_scale", OUTPUT_SCALE))
        gt = arrays.get("ground_truth")
        return cls(
            inputs=arrays["inputs"],
            outputs=arrays["outputs"].astype(np.float32) / scale,
            ground_truth=None if gt is None else gt.astype(np.float32) / 255.0,
            meta=meta,
        )


# ---- manifest -------------------------------------------------------------------------------------
def record_reference_set(manifest: Manifest, path: Path, reference: ReferenceSet) -> Dict[str, Any]:
    """Describe the written set in ``manifest.parity["reference_set"]`` (not saved here); returns the entry."""
    entry = {
        "path": Path(path).name,
        "sha256": sha256_file(path),
        "bytes": Path(path).stat().st_size,
        "samples": reference.count,
        "size": list(reference.size),
        "frames": reference.frames,
        "ground_truth": reference.ground_truth is not None,
        "data": reference.meta.get("data"),
        "seed": reference.meta.get("seed"),
        "checkpoint_sha256": reference.meta.get("checkpoint_sha256"),
        "output_scale": OUTPUT_SCALE,
    }
    manifest.parity[MANIFEST_KEY] = entry
    return entry


def load_reference_set(manifest: Manifest) -> Optional[ReferenceSet]:
    """The deploy dir's reference set, sha256-checked; None when the manifest lists none.

    Raises:
        ParityError: listed but missing, modified, unreadable, or made from another checkpoint.
    """
    entry = (manifest.parity or {}).get(MANIFEST_KEY)
    if not entry:
        return None
    try:
        path = manifest.resolve(entry.get("path") or REFERENCE_NAME, "the reference set")
    except ManifestError as exc:
        raise ParityError(str(exc)) from exc
    if not path.is_file():
        raise ParityError(f"{path} is listed in the manifest but missing; re-export, or pass --data to recompute")
    actual = sha256_file(path)
    if actual != entry.get("sha256"):
        raise ParityError(
            f"{path} does not match the manifest (sha256 {actual[:12]}… != {str(entry.get('sha256'))[:12]}…); re-export"
        )
    reference = ReferenceSet.load(path)
    want = manifest.model.get("checkpoint_sha256")
    got = reference.meta.get("checkpoint_sha256")
    if want and got and want != got:
        raise ParityError(f"{path} was made from another checkpoint than {manifest.root}'s model; re-export")
    return reference


# ---- building (export time, needs torch) ----------------------------------------------------------
def build_reference_set(
    model: Any,
    size: Tuple[int, int],
    count: int = DEFAULT_SAMPLES,
    data: str = "synthetic",
    seed: int = 0,
    checkpoint_sha256: Optional[str] = None,
    threads: Optional[int] = None,
) -> ReferenceSet:
    """Run the PyTorch ``model`` on the first ``count`` test samples of ``data`` at ``size``.

    Inputs are rounded to uint8 first (what a camera delivers) so the stored inputs are exactly what
    the model saw. Same samples as ``b2v-edge parity --data synthetic`` (seed 0) up to that rounding.

    Args:
        model: the PyTorch model in eval mode (warp mode as exported).
        size: ``(H, W)`` of the export.
        count: samples (1 .. MAX_SAMPLES).
        data: data spec (``synthetic``, ``gopro:PATH``, ``panorama:PATH``, ``images:DIR``).
        seed: seed of generated data.
        checkpoint_sha256: recorded in ``meta`` (parity refuses a set made from other weights).
        threads: torch intra-op threads (None = leave as is).
    """
    from .data import load_samples, pytorch_outputs

    if not 1 <= count <= MAX_SAMPLES:
        raise ParityError(f"reference samples must be in 1..{MAX_SAMPLES}, got {count}")
    frames = int(model.cfg.frames)
    samples, _ = load_samples(data, frames, tuple(size), count, seed)
    inputs = np.stack([_to_u8(s.blurred) for s in samples])
    for sample, u8 in zip(samples, inputs):
        sample.blurred = u8.astype(np.float32) / 255.0
    outputs = np.stack(pytorch_outputs(model, samples, threads=threads))
    has_gt = all(s.frames is not None for s in samples)
    meta = {
        "data": data,
        "seed": seed,
        "checkpoint_sha256": checkpoint_sha256,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    gt = np.stack([s.frames for s in samples]) if has_gt else None
    return ReferenceSet(inputs, outputs, gt, meta)
