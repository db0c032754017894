"""Inputs of a parity run: options and thresholds, data samples, the PyTorch reference, environment.

* :class:`ParityOptions` / :class:`Thresholds`: what to check and the pass criteria per precision
  (defaults: engine-vs-PyTorch PSNR fp32 >= 60 dB, fp16 >= 40 dB, int8 >= 30 dB; PSNR-vs-GT loss
  <= 0.1 dB for fp16, <= 0.5 dB for int8).
* :func:`load_samples` reads the first K test samples of ``synthetic``, ``gopro:PATH`` or
  ``panorama:PATH`` (with ground truth) or of ``images:DIR`` (any photos, no ground truth), fitted to
  the engine's input size.
* :func:`load_reference` loads the checkpoint the manifest says was exported and refuses another one
  (``model.checkpoint_sha256``): parity against the wrong weights would be meaningless.
* :func:`environment_info` describes the machine for the reports (versions, CPU, providers, GPU).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from b2v_edge.common.errors import B2VError
from b2v_edge.common.images import IMAGE_EXTS, list_images
from b2v_edge.common.manifest import Manifest, sha256_file
from b2v_edge.common.vocab import max_gt_drop_db, min_psnr_db

__all__ = [
    "DEFAULT_MAX_GT_DROP",
    "DEFAULT_MIN_PSNR",
    "DEFAULT_SAMPLES",
    "ParityError",
    "ParityOptions",
    "ParitySample",
    "Thresholds",
    "environment_info",
    "load_reference",
    "load_samples",
    "parse_levels",
    "read_images",
    "torch_outputs",
    "torch_threads",
]

DATA_FORMS = "synthetic | gopro:PATH | panorama:PATH | images:DIR"


class ParityError(B2VError, ValueError):
    """Parity cannot run (bad options, missing data, wrong reference checkpoint); one-line message."""


#: Samples of a default run. SSIM (scikit-image, ~0.06-0.2 s per 256x256 frame) dominates the cost; with 8
#: samples fp32+fp16+int8 of the lite model at 256x256 (N=7) finish in a few minutes on 2 shared cores.
DEFAULT_SAMPLES = 8
DEFAULT_MIN_PSNR: Dict[str, float] = min_psnr_db()
DEFAULT_MAX_GT_DROP: Dict[str, float] = max_gt_drop_db()
BACKENDS = ("auto", "onnxruntime", "tensorrt")


def parse_levels(text: Optional[str], what: str) -> Dict[str, float]:
    """``"fp16=38,int8=28"`` -> ``{"fp16": 38.0, "int8": 28.0}`` (empty/None -> ``{}``)."""
    out: Dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in DEFAULT_MIN_PSNR:
            raise ParityError(f"{what} takes PRECISION=dB pairs like 'fp16=38,int8=28', got {part!r}")
        try:
            out[key] = float(value)
        except ValueError:
            raise ParityError(f"{what}: {value!r} is not a number (in {part!r})") from None
    return out


@dataclass
class Thresholds:
    """Pass criteria per precision; missing keys fall back to the defaults.

    Attributes:
        min_psnr: lowest allowed mean engine-vs-PyTorch PSNR (dB) at any frame position.
        max_gt_drop: largest allowed PSNR-vs-GT loss of the engine relative to PyTorch (dB).
    """

    min_psnr: Dict[str, float] = field(default_factory=dict)
    max_gt_drop: Dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.min_psnr = {**DEFAULT_MIN_PSNR, **self.min_psnr}
        self.max_gt_drop = {**DEFAULT_MAX_GT_DROP, **self.max_gt_drop}

    def for_precision(self, precision: str) -> Tuple[float, float]:
        """``(min_psnr, max_gt_drop)`` for ``precision``."""
        return self.min_psnr[precision], self.max_gt_drop[precision]


@dataclass
class ParityOptions:
    """Settings of one parity run, validated on construction.

    Attributes:
        deploy_dir: deploy directory with ``manifest.json``.
        data: ``synthetic``, ``gopro:PATH``, ``panorama:PATH`` or ``images:DIR`` (no ground truth).
        samples: number of inputs (the first K of the test split).
        backend: ``auto`` (ONNX via ONNX Runtime, plans via TensorRT when importable),
            ``onnxruntime`` (ONNX only) or ``tensorrt`` (plans only).
        thresholds: pass criteria.
        checkpoint: PyTorch reference; None = the checkpoint named in the manifest.
        size: ``(H, W)`` used when the artifacts have dynamic height/width (default 256x256).
        seed: seed of the generated data sources.
        threads: ONNX Runtime and torch intra-op threads. None = ONNX Runtime's default and one
            torch thread for the PyTorch reference: on cores shared with other jobs torch's default
            pool was measured 10-30x slower than one thread (lite model, 256x256, 2 cores).
        ssim: also compute SSIM.
        worst: image strips kept per artifact (its worst samples).
    """

    deploy_dir: Union[str, Path]
    data: str = "synthetic"
    samples: int = DEFAULT_SAMPLES
    backend: str = "auto"
    thresholds: Thresholds = field(default_factory=Thresholds)
    checkpoint: Optional[str] = None
    size: Optional[Tuple[int, int]] = None
    seed: int = 0
    threads: Optional[int] = None
    ssim: bool = True
    worst: int = 3

    def __post_init__(self) -> None:
        self.deploy_dir = Path(self.deploy_dir)
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ParityError(f"--samples must be an integer >= 1, got {self.samples!r}")
        if self.backend not in BACKENDS:
            raise ParityError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.worst < 0:
            raise ParityError(f"worst must be >= 0, got {self.worst}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 32):
            raise ParityError(f"--size must be HxW with both sides >= 32, got {self.size!r}")
        if self.threads is not None and self.threads < 0:
            raise ParityError(f"--threads must be >= 0, got {self.threads}")


@dataclass
class ParitySample:
    """One input: ``blurred`` ``float32 [H, W, 3]`` RGB in [0, 1]; ``frames`` ``[N, H, W, 3]`` or None."""

    blurred: np.ndarray
    frames: Optional[np.ndarray]
    name: str


def _fit(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize ``[H, W, 3]`` (or ``[N, H, W, 3]``) float images to ``size`` (area interpolation)."""
    import cv2

    if image.shape[-3:-1] == tuple(size):
        return np.ascontiguousarray(image, np.float32)
    h, w = size
    if image.ndim == 4:
        return np.stack([_fit(f, size) for f in image])
    out = cv2.resize(np.asarray(image, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def read_images(folder: Path, size: Tuple[int, int], count: int) -> List[ParitySample]:
    """The first ``count`` images of ``folder`` (sorted by name), RGB float, resized to ``size``.

    Raises:
        ParityError: missing folder, no readable image.
    """
    import cv2

    if not folder.is_dir():
        raise ParityError(f"images:{folder} is not a folder")
    files = list_images(folder)
    samples = []
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = bgr[:, :, ::-1].astype(np.float32) / 255.0
        samples.append(ParitySample(_fit(rgb, size), None, path.name))
        if len(samples) >= count:
            break
    if not samples:
        raise ParityError(f"images:{folder} holds no readable image ({', '.join(IMAGE_EXTS)})")
    return samples


def load_samples(
    spec: str, frames: int, size: Tuple[int, int], count: int, seed: int = 0
) -> Tuple[List[ParitySample], List[str]]:
    """The first ``count`` test samples of ``spec``, fitted to ``size``; returns ``(samples, notes)``.

    Raises:
        ParityError: unknown spec, missing data, or ground truth with another frame count.
    """
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "images" and sep and path.strip():
        samples = read_images(Path(path.strip()).expanduser(), size, count)
        return samples, [] if len(samples) == count else [f"{spec} holds only {len(samples)} images"]
    if kind not in ("synthetic", "gopro", "panorama"):
        raise ParityError(f"unknown --data {spec!r}; accepted forms: {DATA_FORMS}")
    from b2v_edge.data.torch_dataset import make_source

    crop = tuple(size) if kind == "gopro" else None
    try:
        source = make_source(spec, frames=frames, split="test", size=tuple(size), crop=crop, seed=seed)
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise ParityError(str(exc)) from exc
    if int(source.frames) != frames:
        raise ParityError(f"{spec} gives {source.frames} ground-truth frames, the model restores {frames}")
    total = min(count, len(source))
    if total < 1:
        raise ParityError(f"{spec} has no test samples")
    samples = []
    for i in range(total):
        item = source[i]
        samples.append(ParitySample(_fit(item.blurred, size), _fit(item.frames, size), f"{kind}#{i}"))
    notes = [] if total == count else [f"{spec} has only {total} test samples"]
    return samples, notes


def _resolve_checkpoint(manifest: Manifest, spec: Optional[str]) -> Path:
    from b2v_edge.checkpoint import CheckpointError, resolve_checkpoint

    try:
        path = resolve_checkpoint(spec)
    except CheckpointError as exc:
        raise ParityError(str(exc)) from exc
    if not path.exists() and not path.is_absolute() and (manifest.root / path).exists():
        path = manifest.root / path
    if not path.exists():
        raise ParityError(
            f"the PyTorch reference {str(spec)!r} (from {manifest.root}/manifest.json) does not exist here; "
            "pass --checkpoint PATH with the checkpoint that was exported"
        )
    return path


def load_reference(manifest: Manifest, override: Optional[str] = None) -> Tuple[Any, str, List[str]]:
    """Load the PyTorch checkpoint the deploy dir was exported from.

    Args:
        manifest: the deploy dir's manifest (``model.checkpoint``, ``model.checkpoint_sha256``).
        override: another path to the same checkpoint (e.g. the manifest was made on another
            machine); its sha256 must still match.

    Returns:
        ``(checkpoint, sha256, notes)``.

    Raises:
        ParityError: missing file, sha256 or frame-count mismatch, unreadable checkpoint.
    """
    from b2v_edge.checkpoint import CheckpointError, load_checkpoint

    notes: List[str] = []
    spec = override if override is not None else manifest.model.get("checkpoint")
    if spec is None:
        notes.append("the manifest names no checkpoint: using the shipped demo model as reference")
    path = _resolve_checkpoint(manifest, spec)
    sha = sha256_file(path)
    want = manifest.model.get("checkpoint_sha256")
    if want and sha != want:
        raise ParityError(
            f"{path} is not the checkpoint exported to {manifest.root} (sha256 {sha[:12]}… != {str(want)[:12]}…); "
            "pass --checkpoint with the exported checkpoint, or re-export"
        )
    if not want:
        notes.append("the manifest has no checkpoint_sha256: the PyTorch reference is not verified")
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as exc:
        raise ParityError(str(exc)) from exc
    frames = manifest.model.get("frames")
    if frames and int(frames) != ckpt.config.frames:
        raise ParityError(f"{path} restores {ckpt.config.frames} frames, the manifest says {frames}")
    return ckpt, sha, notes


@contextlib.contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Set torch's intra-op threads inside the block (None/0 = leave as is); restored afterwards.

    On oversubscribed cores torch's default thread pool can run 100x slower than one thread.
    """
    import torch

    before = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)
        yield
    finally:
        torch.set_num_threads(before)


def torch_outputs(
    model: Any,
    samples: Sequence[ParitySample],
    progress: Optional[Callable[[str, int, int], None]] = None,
    threads: Optional[int] = None,
) -> List[np.ndarray]:
    """PyTorch eval outputs, ``float32 [N, H, W, 3]`` per sample (batch 1, like the engines)."""
    import torch

    outs = []
    model.eval()
    with torch_threads(threads), torch.inference_mode():
        for i, s in enumerate(samples):
            x = torch.from_numpy(np.ascontiguousarray(s.blurred.transpose(2, 0, 1)))[None]
            outs.append(np.ascontiguousarray(model(x)[0].permute(0, 2, 3, 1).numpy(), np.float32))
            if progress is not None:
                progress("pytorch", i + 1, len(samples))
    return outs


def _version(dist: str) -> Optional[str]:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu(backends: Sequence[str]) -> str:
    if "tensorrt" not in backends:
        return "none used"
    try:
        from b2v_edge.runtime.engines.trt import device_info

        trt_version, cc, name = device_info()
        return f"{name} (sm {cc}, TensorRT {trt_version})"
    except Exception as exc:  # diagnostic only: never fail a report for it
        return f"unknown ({type(exc).__name__})"


def environment_info(providers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Versions, CPU and GPU of this machine; ``providers`` maps backend -> provider that ran."""
    import onnxruntime as ort

    dists = (
        "b2v-edge",
        "numpy",
        "onnxruntime",
        "onnxruntime-gpu",
        "onnx",
        "torch",
        "opencv-python-headless",
        "opencv-python",
        "tensorrt",
    )
    versions = {d: v for d in dists if (v := _version(d))}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "backends": dict(providers or {}),
        "ort_providers_available": list(ort.get_available_providers()),
        "tensorrt_importable": importlib.util.find_spec("tensorrt") is not None,
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_cores": cores,
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "gpu": _gpu(list((providers or {}).keys())),
    }
