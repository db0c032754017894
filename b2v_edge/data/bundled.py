"""Photographs bundled with scikit-image (no download).

Only images that ship inside the scikit-image wheel are listed; any image that fails to load
(e.g. a future scikit-image moves it to the ``pooch`` download cache) is skipped silently, so the
synthetic source never touches the network. ``skimage.data`` is imported lazily.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

import numpy as np

__all__ = ["PHOTOS", "load_bundled", "split_images"]

#: scikit-image's bundled photographs (text, logos and drawings left out). ``cat`` is the same picture
#: as ``chelsea``. They are the held-out evaluation photos of the shipped model: it never trains on them.
PHOTOS: Tuple[str, ...] = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "motorcycle",
    "retina",
    "rocket",
)


@lru_cache(maxsize=None)
def load_bundled(name: str) -> Optional[np.ndarray]:
    """Load one bundled image as ``uint8 [H, W, 3]`` RGB (read-only), or None if unavailable.

    Gray images are replicated to 3 channels; RGBA images are composited over white.
    """
    try:
        import skimage.data as skdata

        image = np.asarray(skdata.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skdata, name)())
    except Exception:  # missing attribute, needs pooch/network, unreadable file ...
        return None
    if image.dtype == bool or image.ndim not in (2, 3) or min(image.shape[:2]) < 96:
        return None
    image = image.astype(np.uint8, copy=False)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    image = np.ascontiguousarray(image[:, :, :3])
    image.setflags(write=False)
    return image


def split_images(split: str) -> Tuple[Tuple[str, ...], Tuple[np.ndarray, ...]]:
    """Names and images of the bundled photos, skipping unavailable ones.

    Both splits hold the same photos (a split changes only the seeds of the renderer); the shipped
    model is trained on other content, so every photo here is held out for it.

    Raises:
        ValueError: unknown split.
        RuntimeError: no photo could be loaded.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    loaded = [(n, load_bundled(n)) for n in PHOTOS]
    pairs = [(n, im) for n, im in loaded if im is not None]
    if not pairs:
        raise RuntimeError(f"none of the scikit-image bundled photos {PHOTOS} could be loaded")
    return tuple(n for n, _ in pairs), tuple(im for _, im in pairs)
