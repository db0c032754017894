"""Thin torch wrapper over the numpy blur sources, plus a string spec -> source factory.

This is the only module of :mod:`b2v_edge.data` that imports torch.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from .base import BlurSource, random_crop_flip
from .factory import SourceRequest
from .factory import make_source as factory_make_source

__all__ = ["BlurDataset", "make_source"]


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
    command: str = "train",
    blur_px: Optional[Tuple[float, float]] = None,
) -> BlurSource:
    """Build a source from a ``--data`` spec (see :mod:`b2v_edge.common.dataspec` for the grammar).

    A thin keyword front-end of :func:`b2v_edge.data.factory.make_source` (which needs no torch).

    Args:
        spec: e.g. ``synthetic``, ``deadleaves+photos:DIR``, ``gopro:PATH`` (mixes for ``train`` only).
        frames: N target frames (ignored by ``gopro-pairs``).
        split: ``"train"`` or ``"test"``.
        size: render / crop size ``(H, W)`` of the rendered and footage sources.
        crop: random crop of the GoPro sources (the rendered sources use ``size`` instead).
        flip: random flips of the GoPro sources.
        seed: seed of the source.
        linear: average in linear light (gamma 2.2) where the source synthesises the blur.
        length: length of the rendered sources (default: theirs).
        command: the command asking (decides the accepted kinds).
        blur_px: total motion range in output pixels of the rendered sources (None: their default).

    Raises:
        ValueError: unknown spec or missing path, naming the accepted forms.
    """
    request = SourceRequest(frames, split, tuple(size), seed, linear, length, crop, flip, blur_px)
    return factory_make_source(spec, request, command)
