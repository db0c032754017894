"""GoPro dynamic-blur datasets (Nah et al. 2017) read from disk with OpenCV (no torch).

Two layouts are supported:

* ``GOPRO_Large_all``: ``{root}/{train,test}/<scene>/NNNNNN.png`` — every sharp frame of the
  240 fps videos. :class:`GoProAll` cuts each scene into non-overlapping windows of N consecutive
  frames; the blur is their average and the N frames are the targets.
* ``GOPRO_Large``: ``{root}/{train,test}/<scene>/{blur,blur_gamma,sharp}/NNNNNN.png`` — only the
  blurred image and its sharp *middle* frame exist. :class:`GoProPairs` therefore has
  ``frames == 1`` and is meant for middle-frame (deblurring) evaluation only.

Images are returned as ``float32`` RGB in ``[0, 1]``, ``blurred [H, W, 3]``, ``frames
[N, H, W, 3]``. The index is sorted by scene then file name, so its order never changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .base import Sample, SourceBase, average_frames, random_crop_flip, to_float01

__all__ = ["GoProAll", "GoProPairs", "read_rgb"]

PathLike = Union[str, Path]
LAYOUT_ALL = "GOPRO_Large_all layout {root}/{train,test}/<scene>/NNNNNN.png"
LAYOUT_PAIRS = "GOPRO_Large layout {root}/{train,test}/<scene>/{blur,blur_gamma,sharp}/NNNNNN.png"


def read_rgb(path: PathLike) -> np.ndarray:
    """Read an image file as ``float32 [H, W, 3]`` RGB in ``[0, 1]`` (8- or 16-bit PNG/JPEG)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read image {path}")
    return to_float01(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _split_dir(root: PathLike, split: str, layout: str) -> Path:
    """Check ``root`` and ``root/split`` exist; return the split folder."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root_p = Path(root).expanduser()
    if not root_p.is_dir():
        raise ValueError(f"GoPro root not found: {root_p} (expected {layout})")
    split_p = root_p / split
    if not split_p.is_dir():
        raise ValueError(f"GoPro split folder not found: {split_p} (expected {layout})")
    return split_p


def _scenes(split_dir: Path) -> List[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir())


def _pngs(folder: Path) -> List[Path]:
    return sorted(p for p in folder.glob("*.png") if p.is_file()) if folder.is_dir() else []


class _GoProBase(SourceBase):
    """Crop / flip handling shared by both layouts."""

    def __init__(self, crop: Optional[Tuple[int, int]], flip: bool, seed: int) -> None:
        self.crop, self.flip = (tuple(crop) if crop is not None else None), bool(flip)
        self.reseed(seed)

    def _augment(self, sample: Sample) -> Sample:
        if self.crop is None and not self.flip:
            return sample
        return random_crop_flip(sample, self.crop, self._rng, self.flip)


class GoProAll(_GoProBase):
    """GOPRO_Large_all: blur = mean of N consecutive sharp frames (non-overlapping windows).

    Args:
        root: dataset root containing ``train/`` and ``test/``.
        split: ``"train"`` or ``"test"``.
        frames: N, frames per window (the paper uses 7).
        linear: average in linear light (``x ** 2.2``) instead of the encoded PNG values.
        crop: random crop ``(h, w)`` applied to frames before averaging, or None.
        flip: random horizontal / vertical flips.
        seed: seed of the crop / flip generator (see :meth:`reseed`).

    Raises:
        ValueError: missing root / split folder, no PNGs, or no scene with N frames.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        frames: int = 7,
        linear: bool = False,
        crop: Optional[Tuple[int, int]] = None,
        flip: bool = False,
        seed: int = 0,
    ) -> None:
        if int(frames) < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        super().__init__(crop, flip, seed)
        self.root, self.split, self.linear = Path(root), split, bool(linear)
        self.frames, self.name = int(frames), f"gopro-{split}"
        split_dir = _split_dir(root, split, LAYOUT_ALL)
        self.windows: List[Tuple[str, Tuple[Path, ...]]] = []
        n, n_png = self.frames, 0
        for scene in _scenes(split_dir):
            files = _pngs(scene)
            n_png += len(files)
            self.windows += [(scene.name, tuple(files[w * n : (w + 1) * n])) for w in range(len(files) // n)]
        if n_png == 0:
            raise ValueError(f"no PNG frames under {split_dir}/<scene>/ (expected {LAYOUT_ALL})")
        if not self.windows:
            raise ValueError(f"no scene under {split_dir} has {n} frames (expected {LAYOUT_ALL})")

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Sample:
        i = self._check_index(index)
        scene, files = self.windows[i]
        frames = _stack([read_rgb(f) for f in files], files)
        meta = {
            "source": "gopro",
            "split": self.split,
            "index": i,
            "scene": scene,
            "files": [f.name for f in files],
            "linear": self.linear,
        }
        # crop/flip the frames first (cheaper), then average: the same as averaging first
        cropped = self._augment(Sample(frames[0], frames, meta))
        blurred = average_frames(cropped.frames, self.linear)
        return Sample(blurred, cropped.frames, cropped.meta)


class GoProPairs(_GoProBase):
    """GOPRO_Large pairs: the provided blurred image and its sharp middle frame (``frames == 1``).

    Only the middle frame exists, so this source is for middle-frame evaluation only; compare a
    model's middle output (index ``N // 2``) with ``sample.frames[0]``.

    Args:
        root: dataset root containing ``train/`` and ``test/``.
        split: ``"train"`` or ``"test"``.
        blur_dir: ``"blur"`` (plain average of the encoded frames, used by most follow-up work)
            or ``"blur_gamma"`` (averaged in linear light, used by Nah et al.). The number of
            averaged frames varies per scene (``yy`` in ``GOPRxxxx_yy_zz``, 7-13).
        crop: random crop ``(h, w)``, or None.
        flip: random horizontal / vertical flips.
        seed: seed of the crop / flip generator.

    Raises:
        ValueError: missing root / split folder, bad ``blur_dir``, no PNGs, or a blurred
            image without its sharp counterpart.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "test",
        blur_dir: str = "blur",
        crop: Optional[Tuple[int, int]] = None,
        flip: bool = False,
        seed: int = 0,
    ) -> None:
        if blur_dir not in ("blur", "blur_gamma"):
            raise ValueError(f"blur_dir must be 'blur' or 'blur_gamma', got {blur_dir!r}")
        super().__init__(crop, flip, seed)
        self.root, self.split, self.blur_dir, self.frames = Path(root), split, blur_dir, 1
        self.name = f"gopro-pairs-{split}"
        split_dir = _split_dir(root, split, LAYOUT_PAIRS)
        self.pairs: List[Tuple[str, Path, Path]] = []
        for scene in _scenes(split_dir):
            for blur in _pngs(scene / blur_dir):
                sharp = scene / "sharp" / blur.name
                if not sharp.is_file():
                    raise ValueError(f"missing sharp frame {sharp} for {blur} (expected {LAYOUT_PAIRS})")
                self.pairs.append((scene.name, blur, sharp))
        if not self.pairs:
            raise ValueError(f"no PNGs under {split_dir}/<scene>/{blur_dir}/ (expected {LAYOUT_PAIRS})")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        i = self._check_index(index)
        scene, blur, sharp = self.pairs[i]
        blurred, frame = read_rgb(blur), read_rgb(sharp)
        if blurred.shape != frame.shape:
            raise ValueError(f"shape mismatch: {blur} {blurred.shape} vs {sharp} {frame.shape}")
        meta = {
            "source": "gopro-pairs",
            "split": self.split,
            "index": i,
            "scene": scene,
            "files": [blur.name],
            "blur_dir": self.blur_dir,
        }
        return self._augment(Sample(blurred, frame[None], meta))


def _stack(images: Sequence[np.ndarray], files: Sequence[Path]) -> np.ndarray:
    """Stack equally sized frames into ``[N, H, W, 3]`` or raise naming the odd file."""
    for im, f in zip(images, files):
        if im.shape != images[0].shape:
            raise ValueError(f"frame size mismatch: {f} is {im.shape}, {files[0]} is {images[0].shape}")
    return np.stack(images)
