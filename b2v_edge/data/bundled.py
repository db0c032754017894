"""Images bundled with scikit-image (no download) and their fixed train / test split.

Only images that ship inside the scikit-image wheel are listed; any image that fails to load
(e.g. a future scikit-image moves it to the ``pooch`` download cache) is skipped silently, so the
synthetic source never touches the network. ``skimage.data`` is imported lazily.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

import numpy as np

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "load_bundled", "split_images"]

#: Held-out images: used only by the ``test`` split (as background and as foreground patches).
TEST_IMAGES: Tuple[str, ...] = ("coffee", "grass")

#: Training images. ``cat`` is left out on purpose: it is the same picture as ``chelsea``.
TRAIN_IMAGES: Tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "page",
    "text",
    "brick",
    "gravel",
    "moon",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "logo",
    "cell",
    "clock",
)


@lru_cache(maxsize=None)
def load_bundled(name: str) -> Optional[np.ndarray]:
    """Load one bundled image as ``uint8 [H, W, 3]`` RGB (read-only), or None if unavailable.

    Gray images are replicated to 3 channels; RGBA images are composited over white.
    """
    try:
        import skimage.data as skdata

        image = np.asarray(getattr(skdata, name)())
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
    """Names and images of one split, skipping unavailable ones.

    Raises:
        ValueError: unknown split.
        RuntimeError: no image of the split could be loaded.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = TRAIN_IMAGES if split == "train" else TEST_IMAGES
    loaded = [(n, load_bundled(n)) for n in names]
    pairs = [(n, im) for n, im in loaded if im is not None]
    if not pairs:
        raise RuntimeError(f"none of the scikit-image bundled images {names} could be loaded")
    return tuple(n for n, _ in pairs), tuple(im for _, im in pairs)
