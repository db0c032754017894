"""Common contract of every blur data source (numpy only, no torch).

Conventions used by all sources in :mod:`b2v_edge.data`:

* Images are ``float32`` RGB in ``[0, 1]``, channels last: ``blurred`` is ``[H, W, 3]`` and
  ``frames`` is ``[N, H, W, 3]`` in time order (``frames[0]`` is the start of the exposure).
* Pixel coordinates follow OpenCV: ``x`` to the right, ``y`` down, pixel centres at integers.
* A source is any object with ``__len__``, ``__getitem__(i) -> Sample`` and the attributes
  ``frames`` (N, the number of target frames per sample) and ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Protocol, Tuple

import numpy as np

__all__ = ["Sample", "BlurSource", "average_frames", "random_crop_flip", "check_size", "to_float01"]


@dataclass
class Sample:
    """One training / evaluation example.

    Attributes:
        blurred: ``float32 [H, W, 3]`` RGB in ``[0, 1]`` — the motion-blurred input.
        frames: ``float32 [N, H, W, 3]`` RGB in ``[0, 1]`` — the sharp targets, time order.
        meta: free-form information, at least ``source`` and ``index``; synthetic sources add
            ``blur_strength`` (mean displacement in output pixels over the exposure).
    """

    blurred: np.ndarray
    frames: np.ndarray
    meta: dict = field(default_factory=dict)


class BlurSource(Protocol):
    """Structural type every source satisfies (for type hints only)."""

    frames: int
    name: str

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


class SourceBase:
    """Small mixin: iteration over ``range(len(self))``, index checking and a crop/flip RNG."""

    frames: int = 1
    name: str = "source"

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]  # type: ignore[index]

    def reseed(self, seed: int) -> None:
        """Reset the generator used for random crops / flips (each data worker calls this)."""
        self._rng = np.random.default_rng(seed)

    def _check_index(self, index: int) -> int:
        """Return ``index`` as a non-negative int (negative indices count from the end)."""
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{self.name}: index {index} out of range for length {n}")
        return i


def check_size(size: Any, what: str = "size") -> Tuple[int, int]:
    """Validate an ``(H, W)`` pair (an int means square) and return it as a tuple of ints."""
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an int or a pair (H, W), got {size!r}") from None
    if h < 8 or w < 8:
        raise ValueError(f"{what} must be at least 8x8 pixels, got {(h, w)}")
    return h, w


def to_float01(image: np.ndarray) -> np.ndarray:
    """Convert a uint8/uint16/float image to ``float32`` in ``[0, 1]`` (no copy if already so)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1.0 / 255.0)
    if image.dtype == np.uint16:
        return image.astype(np.float32) * np.float32(1.0 / 65535.0)
    return np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)


def average_frames(frames: np.ndarray, linear: bool, gamma: float = 2.2) -> np.ndarray:
    """Synthesise a blurred image as the mean of sharp frames.

    Args:
        frames: ``[T, H, W, C]`` frames in ``[0, 1]`` (gamma-encoded, like PNGs).
        linear: if True average in linear light: ``mean(x ** gamma) ** (1 / gamma)``;
            if False average the encoded values directly.
        gamma: display gamma used when ``linear`` is True.

    Returns:
        ``float32 [H, W, C]`` blurred image in ``[0, 1]``.
    """
    frames = np.asarray(frames)
    if frames.ndim < 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must be [T, H, W, C] with T >= 1, got shape {frames.shape}")
    x = frames.astype(np.float32, copy=False)
    if not linear:
        return np.clip(x.mean(axis=0, dtype=np.float32), 0.0, 1.0)
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    lin = np.power(np.clip(x, 0.0, 1.0), np.float32(gamma)).mean(axis=0, dtype=np.float32)
    return np.power(lin, np.float32(1.0 / gamma)).astype(np.float32)


def random_crop_flip(
    sample: Sample,
    crop: Optional[Tuple[int, int]],
    rng: np.random.Generator,
    flip: bool,
) -> Sample:
    """Apply one random crop and random horizontal / vertical flips to input and targets alike.

    Args:
        sample: the sample; ``blurred [H, W, 3]`` and ``frames [N, H, W, 3]``.
        crop: output ``(h, w)``, or None for no crop. Must not exceed ``(H, W)``.
        rng: random generator (the same draws decide the crop and both flips).
        flip: if True, flip left-right and up-down, each with probability 0.5.

    Returns:
        A new :class:`Sample` with C-contiguous arrays; ``meta`` gains ``crop`` as
        ``(y, x, h, w)``, ``hflip`` and ``vflip``.
    """
    blurred, frames = sample.blurred, sample.frames
    h_in, w_in = blurred.shape[:2]
    meta = dict(sample.meta)
    if crop is not None:
        ch, cw = check_size(crop, "crop")
        if ch > h_in or cw > w_in:
            raise ValueError(f"crop {(ch, cw)} is larger than the image {(h_in, w_in)}")
        y = int(rng.integers(0, h_in - ch + 1))
        x = int(rng.integers(0, w_in - cw + 1))
        blurred = blurred[y : y + ch, x : x + cw]
        frames = frames[:, y : y + ch, x : x + cw]
        meta["crop"] = (y, x, ch, cw)
    if flip:
        hflip, vflip = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        if hflip:
            blurred, frames = blurred[:, ::-1], frames[:, :, ::-1]
        if vflip:
            blurred, frames = blurred[::-1], frames[:, ::-1]
        meta["hflip"], meta["vflip"] = hflip, vflip
    return Sample(np.ascontiguousarray(blurred), np.ascontiguousarray(frames), meta)
