"""Parity of a deploy dir: every artifact (ONNX graphs, TensorRT plans) against one set of reference outputs.

The reference comes from one of two places:

* **stored** — the deploy dir's reference set (inputs, PyTorch outputs and ground truth written at
  export, :mod:`~b2v_edge.verify.reference`). Needs only the runtime: this is how a plan built on a
  Jetson without PyTorch is checked. The default whenever the deploy dir has one.
* **recomputed** — the exported PyTorch checkpoint run now on samples of ``data`` (``synthetic``,
  ``gopro:PATH``, ``panorama:PATH``, ``images:DIR``). Needs torch; chosen by passing ``data`` or
  ``checkpoint``, or when the deploy dir has no reference set.

Engines are opened through the runtime (:func:`b2v_edge.runtime.open_engine`) and scored by
:func:`~b2v_edge.verify.compare.compare_artifact`; the result is a
:class:`~b2v_edge.verify.compare.ParityReport` (rendering: :mod:`b2v_edge.verify.render`).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from b2v_edge.common import deploydir
from b2v_edge.common.manifest import MANIFEST_NAME, Artifact, Manifest, ManifestError
from b2v_edge.common.vocab import ENGINE_PRECISIONS
from b2v_edge.runtime.open import BACKENDS

from .compare import Progress, compare_artifact, reference_scores
from .data import load_exported_checkpoint, load_samples, pytorch_outputs, require_torch
from .environment import environment_info
from .reference import REFERENCE_NAME, load_reference_set
from .results import ArtifactParity, ParityError, ParityReport, ParitySample, ReferenceScores, Thresholds

__all__ = [
    "BACKENDS",
    "DEFAULT_SAMPLES",
    "REFERENCE_DATA",
    "ParityOptions",
    "Reference",
    "record_in_manifest",
    "resolve_reference",
    "run_parity",
]

#: Samples of a recomputed run (a stored reference set is used whole).
DEFAULT_SAMPLES = 8
REFERENCE_DATA = "reference"  # --data value that insists on the stored reference set


@dataclass(frozen=True)
class ParityOptions:
    """Settings of one parity run, validated on construction.

    Attributes:
        deploy_dir: deploy directory with ``manifest.json``.
        data: None = the stored reference set when the deploy dir has one, else ``synthetic``
            recomputed with PyTorch; ``reference`` = the stored set (error without one); a data spec
            (``synthetic``, ``gopro:PATH``, ``panorama:PATH``, ``images:DIR``) = recompute with PyTorch.
        samples: inputs to check; None = every stored sample, or :data:`DEFAULT_SAMPLES` recomputed.
        backend: ``auto`` (ONNX via ONNX Runtime, plans via TensorRT when importable, and the fp32
            graph via OpenVINO at f32 when it is installed), ``onnxruntime`` (ONNX only),
            ``tensorrt`` (plans only) or ``openvino`` (the fp32 graph at f32 and at bf16).
        thresholds: pass criteria.
        checkpoint: PyTorch reference to recompute with; None = the checkpoint named in the manifest.
            Giving one implies recomputing.
        size: ``(H, W)`` of a recomputed run when the artifacts have dynamic height/width (default
            256x256); a stored set has its own size.
        seed: seed of the generated data sources (recomputed runs).
        threads: ONNX Runtime and torch intra-op threads. None = ONNX Runtime's default and one
            torch thread for the PyTorch reference (torch's default pool slows down badly on cores
            shared with other jobs).
        ssim: also compute SSIM.
        worst: image strips kept per artifact (its worst samples).
    """

    deploy_dir: Union[str, Path]
    data: Optional[str] = None
    samples: Optional[int] = None
    backend: str = "auto"
    thresholds: Thresholds = field(default_factory=Thresholds)
    checkpoint: Optional[str] = None
    size: Optional[Tuple[int, int]] = None
    seed: int = 0
    threads: Optional[int] = None
    ssim: bool = True
    worst: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "deploy_dir", Path(self.deploy_dir))
        if self.samples is not None and (
            isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1
        ):
            raise ParityError(f"--samples must be an integer >= 1, got {self.samples!r}")
        if self.backend not in BACKENDS:
            raise ParityError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.worst < 0:
            raise ParityError(f"worst must be >= 0, got {self.worst}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 32):
            raise ParityError(f"--size must be HxW with both sides >= 32, got {self.size!r}")
        if self.threads is not None and self.threads < 0:
            raise ParityError(f"--threads must be >= 0, got {self.threads}")
        if self.data == REFERENCE_DATA and (self.checkpoint is not None or self.size is not None):
            raise ParityError(
                "--data reference uses the stored outputs: --checkpoint and --size need a data spec such as synthetic"
            )

    @property
    def recompute(self) -> bool:
        """True when the options ask for a PyTorch reference computed now."""
        return self.checkpoint is not None or self.data not in (None, REFERENCE_DATA)


@dataclass
class Reference:
    """The reference side of a parity run: inputs (with ground truth, if any) and reference outputs."""

    samples: List[ParitySample]
    outputs: List[np.ndarray]
    scores: ReferenceScores
    data: str
    frames: int
    size: Tuple[int, int]
    notes: List[str] = field(default_factory=list)


# ---- the reference ------------------------------------------------------------------------------
def _static_size(manifest: Manifest) -> Optional[Tuple[int, int]]:
    shape = list((manifest.input or {}).get("shape") or [])
    h, w = (shape[2], shape[3]) if len(shape) == 4 else (None, None)
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return h, w
    return None


def _input_size(manifest: Manifest, size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    static = _static_size(manifest)
    if static is not None:
        if size is not None and tuple(size) != static:
            raise ParityError(
                f"the artifacts in {manifest.root} take {static[0]}x{static[1]} inputs, not --size {size[0]}x{size[1]}"
            )
        return static
    return tuple(size) if size is not None else (256, 256)  # type: ignore[return-value]


def _stored(manifest: Manifest, options: ParityOptions) -> Optional[Reference]:
    stored = load_reference_set(manifest)
    if stored is None:
        return None
    static = _static_size(manifest)
    if static is not None and static != stored.size:
        raise ParityError(
            f"{REFERENCE_NAME} holds {stored.size[0]}x{stored.size[1]} inputs but the artifacts take "
            f"{static[0]}x{static[1]}; re-export, or pass --data synthetic to recompute"
        )
    frames = manifest.model.get("frames")
    if frames and int(frames) != stored.frames:
        raise ParityError(
            f"{REFERENCE_NAME} holds {stored.frames} frames per sample, the manifest says {frames}; re-export"
        )
    count = stored.count if options.samples is None else min(options.samples, stored.count)
    notes = [
        f"reference: {count} of the {stored.count} samples stored at export in {REFERENCE_NAME} "
        f"({stored.meta.get('data')}); its outputs resolve {stored.resolution:.1e}, so PSNR vs PyTorch saturates "
        "near 80 dB (recompute with --data synthetic for float32 outputs)"
    ]
    if options.samples is not None and options.samples > stored.count:
        notes.append(f"the reference set holds only {stored.count} samples (--samples {options.samples})")
    samples, outputs = stored.samples(count), stored.reference_outputs(count)
    scores = reference_scores(
        samples,
        outputs,
        options.ssim,
        checkpoint=str(manifest.model.get("checkpoint") or "demo"),
        sha256=str(stored.meta.get("checkpoint_sha256") or manifest.model.get("checkpoint_sha256") or ""),
        seconds=0.0,
        origin="stored",
        resolution=stored.resolution,
    )
    label = f"{REFERENCE_NAME} ({stored.meta.get('data')})"
    return Reference(samples, outputs, scores, label, stored.frames, stored.size, notes)


def _recomputed(manifest: Manifest, options: ParityOptions, progress: Optional[Progress]) -> Reference:
    data = options.data if options.data not in (None, REFERENCE_DATA) else "synthetic"
    require_torch(f"recomputing the PyTorch reference on {data}")
    ckpt, sha, notes = load_exported_checkpoint(manifest, options.checkpoint)
    size = _input_size(manifest, options.size)
    count = options.samples or DEFAULT_SAMPLES
    samples, data_notes = load_samples(data, ckpt.config.frames, size, count, options.seed)
    t0 = time.perf_counter()
    outputs = pytorch_outputs(ckpt.model, samples, progress, options.threads or 1)  # see ParityOptions.threads
    seconds = time.perf_counter() - t0
    scores = reference_scores(samples, outputs, options.ssim, checkpoint=str(ckpt.path), sha256=sha, seconds=seconds)
    if not any(s.frames is not None for s in samples):
        notes.append(f"{data} has no ground truth: engine-vs-PyTorch only (no PSNR vs GT, no GT drop check)")
    return Reference(samples, outputs, scores, data, ckpt.config.frames, size, notes + data_notes)


def resolve_reference(manifest: Manifest, options: ParityOptions, progress: Optional[Progress] = None) -> Reference:
    """The reference the options ask for: stored, or recomputed with PyTorch (see the module docstring).

    Raises:
        ParityError: no usable reference (no stored set and no torch, a stale or modified set, bad data).
    """
    if not options.recompute:
        stored = _stored(manifest, options)
        if stored is not None:
            return stored
        if options.data == REFERENCE_DATA:
            raise ParityError(
                f"{manifest.root} has no reference set; re-export it, or pass --data synthetic to recompute"
            )
        if importlib.util.find_spec("torch") is None:
            raise ParityError(
                f"{manifest.root} has no reference set (exported by an older b2v-edge) and PyTorch is not installed "
                "to compute one: re-export the deploy dir, or pip install 'b2v-edge[export]'"
            )
    return _recomputed(manifest, options, progress)


# ---- the artifacts ------------------------------------------------------------------------------
#: One check: (backend to open the artifact with, or "" when skipped; precision it runs at; skip reason).
Check = Tuple[str, str, str]


def _checks(art: Artifact, backend: str) -> List[Check]:
    """The runtimes (and precisions) ``art`` is checked with for ``--backend backend``."""
    if art.kind == "tensorrt_plan":
        if backend in ("onnxruntime", "openvino"):
            return [("", art.precision, f"plans not requested (--backend {backend})")]
        if importlib.util.find_spec("tensorrt") is None:
            return [("", art.precision, "TensorRT is not installed on this machine (run parity on the device)")]
        return [("tensorrt", art.precision, "")]
    if backend == "tensorrt":
        return [("", art.precision, "ONNX artifacts not requested (--backend tensorrt)")]
    checks: List[Check] = [] if backend == "openvino" else [("onnxruntime", art.precision, "")]
    openvino = importlib.util.find_spec("openvino") is not None
    if backend == "openvino" and art.precision != "fp32":
        checks.append(("", art.precision, "OpenVINO runs the fp32 graph only"))
    elif backend == "openvino" and not openvino:
        checks.append(("", art.precision, "OpenVINO is not installed: pip install 'b2v-edge[openvino]'"))
    elif art.precision == "fp32" and openvino and backend in ("auto", "openvino"):
        extra = [p for p, e in ENGINE_PRECISIONS.items() if "openvino" in e.backends] if backend == "openvino" else []
        checks += [("openvino", p, "") for p in ("fp32", *extra)]
    return checks


def _check_one(
    manifest: Manifest,
    art: Artifact,
    check: Check,
    reference: Reference,
    options: ParityOptions,
    progress: Optional[Progress],
) -> ArtifactParity:
    from b2v_edge.runtime import EngineError, open_engine

    backend, precision, reason = check
    if not backend:
        return ArtifactParity(art.path, art.kind, precision, art.warp, skipped=reason)
    ask = precision if backend == "openvino" else None
    try:
        with open_engine(manifest.path_of(art), backend, ask, threads=options.threads) as engine:
            return compare_artifact(
                engine,
                art,
                reference.samples,
                reference.outputs,
                reference.scores,
                options.thresholds,
                options.ssim,
                options.worst,
                progress,
                precision=precision,
            )
    except (EngineError, ManifestError) as exc:
        return ArtifactParity(art.path, art.kind, precision, art.warp, backend=backend, error=str(exc))


def run_parity(options: ParityOptions, progress: Optional[Progress] = None) -> ParityReport:
    """Check every artifact of ``options.deploy_dir`` against the reference the options select.

    Raises:
        ParityError: unusable options, data or reference.
        ManifestError: no usable manifest.
    """
    manifest = Manifest.load(options.deploy_dir)
    if not manifest.artifacts:
        raise ParityError(f"{manifest.root}/manifest.json lists no artifacts; run `b2v-edge export` first")
    reference = resolve_reference(manifest, options, progress)
    results = [
        _check_one(manifest, a, check, reference, options, progress)
        for a in manifest.artifacts
        for check in _checks(a, options.backend)
    ]
    env = environment_info({r.backend: r.provider for r in results if r.backend})
    return ParityReport(
        str(manifest.root),
        reference.data,
        len(reference.samples),
        reference.size,
        reference.frames,
        bool(reference.scores.psnr_gt),
        reference.scores,
        results,
        options.thresholds,
        env,
        reference.notes,
    )


def record_in_manifest(report: ParityReport) -> Path:
    """Merge ``report.manifest_summary()`` into the manifest's ``parity`` (re-read first; other keys such as
    the export-time ``export`` check and the ``reference_set`` entry are kept); returns the manifest path."""
    with deploydir.update(report.deploy_dir) as stage:
        manifest = Manifest.load(stage)
        manifest.parity = {**(manifest.parity or {}), **report.manifest_summary()}
        manifest.save()
    return Path(report.deploy_dir) / MANIFEST_NAME
