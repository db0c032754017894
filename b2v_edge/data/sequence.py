"""Blur from real high-frame-rate footage: the GoPro recipe for a user's own camera (numpy + OpenCV).

``frames:DIR`` reads an image sequence (``DIR/*.png`` in natural order, or one sequence per
sub-folder); ``video:PATH`` decodes a video file. A sample is a window of ``N * k`` consecutive
frames: the blurred input is their mean (optionally in linear light) and the N targets are the
centre frame of each group of ``k`` (``k = 1``: the N frames themselves, as in GoPro). Samples are
random crops of ``size``.

The last ``test_fraction`` of every sequence is the test split (a temporal split, so test windows
never overlap training windows). Frames are downscaled once so their longest side is at most
``max_side``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple, Union

import cv2
import numpy as np

from b2v_edge.common.images import list_images

from .base import Sample, SourceBase, average_frames, check_size

__all__ = ["FrameSequence", "SequenceError", "load_frames_dir", "load_video"]

SPLIT_CODE = {"train": 0, "test": 1}


class SequenceError(ValueError):
    """Footage that cannot be used (one-line message)."""


def _shrink(bgr: np.ndarray, max_side: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1.0:
        bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def load_frames_dir(root: Union[str, Path], max_side: int = 640) -> List[np.ndarray]:
    """Sequences of ``uint8 [T, H, W, 3]`` RGB from a folder of frames or a folder of frame folders.

    Raises:
        SequenceError: missing folder, no frames, unreadable frames or frames of different sizes.
    """
    root_p = Path(root).expanduser()
    if not root_p.is_dir():
        raise SequenceError(f"frames:{root}: no such folder; point it at a folder of consecutive frames")
    folders = [root_p] if list_images(root_p) else sorted(p for p in root_p.iterdir() if p.is_dir())
    sequences = []
    for folder in folders:
        files = list_images(folder)
        if not files:
            continue
        frames = []
        for path in files:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SequenceError(f"frames:{root}: cannot read {path}; remove or replace it")
            frames.append(_shrink(bgr, max_side))
        if len({f.shape for f in frames}) > 1:
            raise SequenceError(f"frames:{root}: frames in {folder} differ in size; one sequence needs one size")
        sequences.append(np.stack(frames))
    if not sequences:
        raise SequenceError(f"frames:{root}: no images in the folder or its sub-folders")
    return sequences


def load_video(path: Union[str, Path], max_side: int = 640, max_frames: int = 3000) -> List[np.ndarray]:
    """The frames of a video file as one ``uint8 [T, H, W, 3]`` RGB sequence (at most ``max_frames``).

    Raises:
        SequenceError: missing or undecodable file.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise SequenceError(f"video:{path}: no such file")
    cap = cv2.VideoCapture(str(p))
    frames = []
    try:
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            frames.append(_shrink(bgr, max_side))
    finally:
        cap.release()
    if not frames:
        raise SequenceError(f"video:{path}: no frame could be decoded (not a video, or an unsupported codec)")
    return [np.stack(frames)]


class FrameSequence(SourceBase):
    """Windows of consecutive frames -> (mean = blurred input, N sharp targets).

    Args:
        sequences: ``uint8 [T, H, W, 3]`` RGB arrays (see :func:`load_frames_dir`, :func:`load_video`).
        frames: N, target frames per sample.
        size: crop ``(H, W)``; every sequence must be at least this large.
        split: ``"train"`` or ``"test"`` (the last ``test_fraction`` of each sequence).
        seed: sample ``i`` is a pure function of ``(seed, split, i)``.
        subframes: k, consecutive frames per target (the blur spans ``N * k`` frames).
        linear: average in linear light (gamma 2.2).
        length: nominal length (train windows are drawn at random, so any index works).
        test_fraction: share of each sequence held out for the test split.
        name: label for logs.

    Raises:
        SequenceError: sequences smaller than ``size`` or too short for one window.
    """

    def __init__(
        self,
        sequences: List[np.ndarray],
        frames: int = 7,
        size: Tuple[int, int] = (128, 128),
        split: str = "train",
        seed: int = 0,
        subframes: int = 1,
        linear: bool = False,
        length: Optional[int] = None,
        test_fraction: float = 0.1,
        name: str = "frames",
    ) -> None:
        if split not in SPLIT_CODE:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.frames, self.size, self.split, self.seed = int(frames), check_size(size), split, int(seed)
        self.subframes, self.linear, self.name = int(subframes), bool(linear), f"{name}-{split}"
        if self.frames < 1 or self.subframes < 1:
            raise ValueError("frames and subframes must be >= 1")
        span = self.frames * self.subframes
        h, w = self.size
        parts = []
        for seq in sequences:
            if seq.shape[1] < h or seq.shape[2] < w:
                raise SequenceError(
                    f"{name}: frames of {seq.shape[2]}x{seq.shape[1]} are smaller than the crop {w}x{h}"
                )
            cut = int(round(len(seq) * (1.0 - test_fraction)))
            part = seq[:cut] if split == "train" else seq[cut:]
            if len(part) >= span:
                parts.append(part)
        if not parts:
            raise SequenceError(f"{name}: no sequence has {span} consecutive frames in its {split} part")
        self.parts = parts
        self.windows = [len(p) - span + 1 for p in parts]
        self.unbounded = split == "train"
        self.length = int(length) if length is not None else (100_000 if self.unbounded else min(64, sum(self.windows)))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        i = int(index) if self.unbounded and int(index) >= 0 else self._check_index(index)
        rng = np.random.default_rng([self.seed, SPLIT_CODE[self.split], i])
        if self.unbounded:
            weights = np.asarray(self.windows, np.float64)
            s = int(rng.choice(len(self.parts), p=weights / weights.sum()))
            start = int(rng.integers(self.windows[s]))
        else:  # evenly spaced windows over all test parts
            total = sum(self.windows)
            pos = (i * max(1, total // max(1, self.length))) % total
            s = 0
            while pos >= self.windows[s]:
                pos -= self.windows[s]
                s += 1
            start = pos
        seq = self.parts[s]
        h, w = self.size
        y = int(rng.integers(seq.shape[1] - h + 1))
        x = int(rng.integers(seq.shape[2] - w + 1))
        span = self.frames * self.subframes
        window = seq[start : start + span, y : y + h, x : x + w].astype(np.float32) * np.float32(1 / 255)
        blurred = average_frames(window, self.linear)
        centre = self.subframes // 2
        targets = np.ascontiguousarray(window[centre :: self.subframes][: self.frames])
        meta = {"source": self.name, "index": i, "sequence": s, "start": start, "crop": (y, x, h, w)}
        return Sample(blurred, targets, meta)
