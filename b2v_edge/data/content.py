"""Sharp content the motion renderer (:mod:`.synthetic`) moves a camera over: where pixels come from.

A content provider hands out sharp ``uint8 [H, W, 3]`` RGB images; the renderer crops, scales and
moves them. Three providers:

* :class:`BundledPhotos` — scikit-image's bundled photographs (no download). The shipped demo model
  never trains on them: they are its held-out evaluation photos.
* :class:`PhotoFolder` — every image in a folder tree (``photos:DIR``), e.g. sharp frames from the
  camera the model will be deployed on. Large photos are downscaled once on load.
* :class:`DeadLeaves` — procedural dead-leaves images (:mod:`.deadleaves`), endless and seeded.

Every provider is deterministic: ``background(rng, index)`` and ``patch(rng, index)`` depend only on
the generator state and the sample index.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import List, Optional, Tuple, Union

import cv2
import numpy as np

from b2v_edge.common.images import list_images

from .bundled import split_images
from .deadleaves import DeadLeavesOptions, dead_leaves

__all__ = ["BundledPhotos", "ContentError", "DeadLeaves", "PhotoFolder", "MAX_PHOTO_SIDE", "MIN_PHOTO_SIDE"]

log = logging.getLogger("b2v_edge.data")

MAX_PHOTO_SIDE = 1024  # photos are area-downscaled to this longest side on load (crops go to <= ~400 px)
MIN_PHOTO_SIDE = 48  # smaller images are skipped with a notice
SPLITS = ("train", "test")


class ContentError(ValueError):
    """A content folder that cannot be used (one-line message saying what to fix)."""


class BundledPhotos:
    """scikit-image's bundled photographs; sample ``i`` of the test split uses photo ``i % P``.

    Args:
        split: ``"train"`` or ``"test"`` — the same photos (the split only changes the seeds).
    """

    def __init__(self, split: str = "test") -> None:
        self.names, self.images = split_images(split)
        self.name = "synthetic"

    def background(self, rng: np.random.Generator, index: int) -> Tuple[str, np.ndarray]:
        """The photo of sample ``index`` (cycles through the photos so each gets equal weight)."""
        k = index % len(self.images)
        return self.names[k], self.images[k]

    def patch(self, rng: np.random.Generator, index: int) -> np.ndarray:
        """A photo (other than the background when possible) to cut a moving foreground patch from."""
        k = index % len(self.images)
        others = [j for j in range(len(self.images)) if j != k] or [k]
        return self.images[int(rng.choice(others))]


def _split_of(rel: str, test_every: int) -> str:
    """Stable train/test assignment of a photo by the hash of its relative path."""
    digest = hashlib.sha1(rel.encode("utf-8")).digest()
    return "test" if digest[0] % test_every == 0 else "train"


class PhotoFolder:
    """Every readable image under ``root`` (recursively), optionally split into train / test photos.

    Args:
        root: a folder of sharp photos (any sizes; PNG/JPEG/...).
        split: ``"train"``, ``"test"`` or ``None`` (all photos).
        test_every: about one photo in ``test_every`` (by a hash of its path) is a test photo; folders
            with fewer than ``2 * test_every`` photos use every photo for both splits.
        cache: how many decoded photos to keep in memory.

    Raises:
        ContentError: missing folder, no images, or none readable.
    """

    def __init__(self, root: Union[str, Path], split: Optional[str] = None, test_every: int = 5, cache: int = 64):
        root_p = Path(root).expanduser()
        if not root_p.is_dir():
            raise ContentError(f"photos:{root}: no such folder; point it at a folder of sharp photos")
        files = list_images(root_p, recursive=True)
        if not files:
            raise ContentError(f"photos:{root}: no images (png, jpg, ...) in the folder or below it")
        if split is not None:
            if split not in SPLITS:
                raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
            if len(files) >= 2 * test_every:
                files = [p for p in files if _split_of(p.relative_to(root_p).as_posix(), test_every) == split]
        self.root, self.files = root_p, files
        self.name = f"photos:{root_p.name}"
        self._cache: "OrderedDict[int, Optional[np.ndarray]]" = OrderedDict()
        self._cache_size = max(1, int(cache))
        self._bad: List[int] = []
        if all(self._load(k) is None for k in range(min(len(files), 8))) and self._usable() == 0:
            raise ContentError(f"photos:{root}: none of the images could be read (or all are < {MIN_PHOTO_SIDE} px)")

    def __len__(self) -> int:
        return len(self.files)

    def _usable(self) -> int:
        return sum(self._load(k) is not None for k in range(len(self.files)))

    def _load(self, k: int) -> Optional[np.ndarray]:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        image = _read_photo(self.files[k])
        self._cache[k] = image
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return image

    def _pick(self, rng: np.random.Generator, first: int) -> Tuple[int, np.ndarray]:
        n = len(self.files)
        for step in range(n):
            k = (first + step) % n
            image = self._load(k)
            if image is not None:
                return k, image
        raise ContentError(f"photos:{self.root}: none of the images could be read")

    def background(self, rng: np.random.Generator, index: int) -> Tuple[str, np.ndarray]:
        k, image = self._pick(rng, int(rng.integers(len(self.files))))
        return self.files[k].name, image

    def patch(self, rng: np.random.Generator, index: int) -> np.ndarray:
        return self._pick(rng, int(rng.integers(len(self.files))))[1]


def _read_photo(path: Path) -> Optional[np.ndarray]:
    """``uint8 [H, W, 3]`` RGB with the longest side <= :data:`MAX_PHOTO_SIDE`, or None (with a notice)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        log.warning("skipping %s: not a readable image", path)
        return None
    h, w = bgr.shape[:2]
    if min(h, w) < MIN_PHOTO_SIDE:
        log.warning("skipping %s: %dx%d is smaller than %d px", path, w, h, MIN_PHOTO_SIDE)
        return None
    scale = MAX_PHOTO_SIDE / max(h, w)
    if scale < 1.0:
        bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    rgb.setflags(write=False)
    return rgb


class DeadLeaves:
    """Procedural dead-leaves images, a new one per sample (endless).

    Args:
        seed: base seed; the image of sample ``i`` depends only on ``(seed, i)``.
        size: side of the generated square images (crops of them are moved by the renderer).
        alpha: range of the leaf-size power-law exponent, drawn per image.
    """

    def __init__(self, seed: int = 0, size: int = 192, alpha: Tuple[float, float] = (2.4, 3.0)) -> None:
        if size < 32:
            raise ValueError(f"dead-leaves size must be >= 32, got {size}")
        lo, hi = (float(a) for a in alpha)
        if not 1.0 < lo <= hi:
            raise ValueError(f"alpha must be a range (lo, hi) with 1 < lo <= hi, got {alpha}")
        self.seed, self.size, self.alpha = int(seed), int(size), (lo, hi)
        self.name = "deadleaves"

    def _image(self, rng: np.random.Generator, size: int) -> np.ndarray:
        options = DeadLeavesOptions(alpha=float(rng.uniform(*self.alpha)))
        return dead_leaves((size, size), rng, options)

    def background(self, rng: np.random.Generator, index: int) -> Tuple[str, np.ndarray]:
        return "deadleaves", self._image(rng, self.size)

    def patch(self, rng: np.random.Generator, index: int) -> np.ndarray:
        """A smaller image: patches cover 20-50 % of the frame."""
        return self._image(rng, max(32, self.size // 2))
