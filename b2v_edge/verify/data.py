"""What a recomputed parity run reads: data samples and the PyTorch checkpoint the deploy dir came from.

* :func:`load_samples` reads the first K test samples of a ``--data`` term (``synthetic``,
  ``deadleaves``, ``photos:DIR``, ``video:PATH``, ``gopro:DIR`` ... with ground truth, or ``images:DIR``
  without), fitted to the engine's input size.
* :func:`load_exported_checkpoint` loads the checkpoint the manifest says was exported and refuses
  another one (``model.checkpoint_sha256``): parity against the wrong weights would be meaningless.
* :func:`pytorch_outputs` runs it on the samples.

torch (and the dataset readers) are imported inside the functions that need them: importing this
module stays torch-free, so a base install can read stored reference sets without it.
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.common.images import IMAGE_EXTS, list_images
from b2v_edge.common.manifest import Manifest, sha256_file
from b2v_edge.runtime.preprocess import preprocess

from .results import ParityError, ParitySample

__all__ = [
    "load_exported_checkpoint",
    "load_samples",
    "pytorch_outputs",
    "read_images",
    "require_torch",
    "torch_threads",
]


def require_torch(why: str) -> None:
    """Raise :class:`ParityError` naming the extra to install when torch is not importable.

    Args:
        why: what needs torch, e.g. ``"recomputing the PyTorch reference"``.
    """
    if importlib.util.find_spec("torch") is None:
        raise ParityError(f"{why} needs PyTorch, which is not installed here: pip install 'b2v-edge[export]'")


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
    """The first ``count`` images of ``folder`` (sorted by name), RGB float, at their own resolution:
    a centred ``size`` crop, edge-padded where an image is smaller (what ``b2v-edge run`` feeds a
    static graph as one tile; nothing is resampled).

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
        x, _ = preprocess(bgr, size, "full")
        samples.append(ParitySample(np.ascontiguousarray(x[0].transpose(1, 2, 0)), None, path.name))
        if len(samples) >= count:
            break
    if not samples:
        raise ParityError(f"images:{folder} holds no readable image ({', '.join(IMAGE_EXTS)})")
    return samples


def load_samples(
    spec: str, frames: int, size: Tuple[int, int], count: int, seed: int = 0, command: str = "parity"
) -> Tuple[List[ParitySample], List[str]]:
    """The first ``count`` test samples of ``spec``, fitted to ``size``; returns ``(samples, notes)``.

    Args:
        spec: one ``--data`` term (:mod:`b2v_edge.common.dataspec`) that ``command`` accepts.
        frames: N, the model's frame count (ground truth must have as many).
        size: ``(H, W)`` of the engine input.
        count: samples wanted.
        seed: seed of generated sources.
        command: ``parity`` or ``bench`` (decides the accepted kinds).

    Raises:
        ParityError: unknown or unusable spec, missing data, or ground truth with another frame count.
    """
    from b2v_edge.common.dataspec import DataSpecError, parse_data_spec

    try:
        term = parse_data_spec(spec, command).terms[0]
    except DataSpecError as exc:
        raise ParityError(str(exc)) from None
    if term.kind == "images":
        samples = read_images(Path(str(term.arg)).expanduser(), size, count)
        return samples, [] if len(samples) == count else [f"{spec} holds only {len(samples)} images"]
    from b2v_edge.data.factory import SourceRequest, make_source

    crop = tuple(size) if term.kind == "gopro" else None
    try:
        source = make_source(spec, SourceRequest(frames, "test", tuple(size), seed, crop=crop), command)
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
        samples.append(ParitySample(_fit(item.blurred, size), _fit(item.frames, size), f"{term.kind}#{i}"))
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


def load_exported_checkpoint(manifest: Manifest, override: Optional[str] = None) -> Tuple[Any, str, List[str]]:
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
    require_torch("loading the PyTorch checkpoint")
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

    On cores shared with other jobs torch's default thread pool can be far slower than one thread.
    """
    import torch

    before = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)
        yield
    finally:
        torch.set_num_threads(before)


def pytorch_outputs(
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
