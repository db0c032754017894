"""Thin torch wrapper over the numpy blur sources, plus a string spec -> source factory.

This is the only module of :mod:`b2v_edge.data` that imports torch.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from .base import BlurSource, random_crop_flip
from .gopro import GoProAll, GoProPairs
from .panorama import PanoramaBlur
from .synthetic import SyntheticBlur

__all__ = ["BlurDataset", "make_source", "SPEC_FORMS"]

SPEC_FORMS = "synthetic | gopro:PATH | gopro-pairs:PATH | panorama:PATH"


class BlurDataset(Dataset):
    """Map-style dataset yielding ``(blurred [3, H, W], frames [N, 3, H, W])`` float32 tensors.

    Args:
        source: any blur source (``__len__``, ``__getitem__ -> Sample``, ``frames``).
        crop: extra random crop ``(h, w)`` applied here, or None.
        flip: extra random horizontal / vertical flips.
        seed: base seed of the crop / flip generator.

    Randomness: inside a DataLoader worker the crop / flip generator (and the source's own,
    through ``source.reseed``) is reseeded from ``(seed, torch.initial_seed())`` on first use.
    ``torch.initial_seed()`` differs per worker and per epoch, so workers never repeat each
    other's crops and epochs differ, yet runs are reproducible under ``torch.manual_seed``. In
    the main process the generators are seeded once and simply keep advancing.
    Unbounded sources (the synthetic / panorama train splits) additionally get fresh samples per
    epoch through :meth:`set_epoch` (index ``i + epoch * len``); call it before each epoch.
    """

    def __init__(
        self, source: BlurSource, crop: Optional[Tuple[int, int]] = None, flip: bool = False, seed: int = 0
    ) -> None:
        self.source, self.crop, self.flip, self.seed = source, crop, bool(flip), int(seed)
        self.epoch = 0
        self._token: Optional[int] = None
        self._rng = np.random.default_rng(seed)

    @property
    def frames(self) -> int:
        """N, target frames per sample."""
        return int(self.source.frames)

    def __len__(self) -> int:
        return len(self.source)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (shifts indices of unbounded sources so each epoch sees new data)."""
        self.epoch = int(epoch)

    def _reseed_if_new_process(self) -> None:
        info = get_worker_info()
        token = torch.initial_seed() if info is not None else -1
        if token == self._token:
            return
        self._token = token
        seq = np.random.SeedSequence([self.seed, token % (2**63) if token >= 0 else 0])
        child_a, child_b = seq.spawn(2)
        self._rng = np.random.default_rng(child_a)
        reseed = getattr(self.source, "reseed", None)
        if callable(reseed) and info is not None:
            reseed(int(child_b.generate_state(1)[0]))

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        self._reseed_if_new_process()
        i = int(index)
        if getattr(self.source, "unbounded", False):
            i += self.epoch * len(self.source)
        sample = self.source[i]
        if self.crop is not None or self.flip:
            sample = random_crop_flip(sample, self.crop, self._rng, self.flip)
        blurred = torch.from_numpy(np.ascontiguousarray(sample.blurred.transpose(2, 0, 1)))
        frames = torch.from_numpy(np.ascontiguousarray(sample.frames.transpose(0, 3, 1, 2)))
        return blurred, frames


def make_source(
    spec: str,
    frames: int = 7,
    split: str = "train",
    size: Tuple[int, int] = (128, 128),
    crop: Optional[Tuple[int, int]] = None,
    flip: bool = False,
    seed: int = 0,
    linear: bool = False,
    length: Optional[int] = None,
) -> BlurSource:
    """Build a source from a spec string.

    Args:
        spec: ``synthetic``, ``gopro:PATH`` (GOPRO_Large_all), ``gopro-pairs:PATH`` (GOPRO_Large,
            middle frame only: ``frames`` of the result is 1) or ``panorama:PATH``.
        frames: N target frames (ignored by ``gopro-pairs``).
        split: ``"train"`` or ``"test"``.
        size: render size ``(H, W)`` of the synthetic / panorama sources.
        crop: random crop of the GoPro sources (the rendered sources use ``size`` instead).
        flip: random flips of the GoPro sources.
        seed: seed of the source.
        linear: average in linear light (gamma 2.2) where the source synthesises the blur.
        length: length of the synthetic / panorama sources (default: theirs).

    Raises:
        ValueError: unknown spec or missing path, naming the accepted forms.
    """
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "synthetic" and not path:
        return SyntheticBlur(frames, size, split, seed, length, linear=linear)
    if kind in ("gopro", "gopro-pairs", "panorama") and sep and path.strip():
        path = path.strip()
        if kind == "gopro":
            return GoProAll(path, split, frames, linear, crop, flip, seed)
        if kind == "gopro-pairs":
            blur_dir = "blur_gamma" if linear else "blur"
            return GoProPairs(path, split, blur_dir, crop, flip, seed)
        return PanoramaBlur(path, frames, size, split=split, seed=seed, length=length, linear=linear)
    raise ValueError(f"unknown data source spec {spec!r}; accepted forms: {SPEC_FORMS}")
