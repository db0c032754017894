"""``--data`` spec -> blur source: one registry entry per kind of the shared grammar (numpy only).

The grammar and the table of kinds live in :mod:`b2v_edge.common.dataspec`; this module maps each
ground-truth kind to the source that renders or reads it, and weighted mixes to :class:`MixedSource`.
Adding a kind is one entry in :data:`BUILDERS` (and its row in the kinds table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from b2v_edge.common.dataspec import DataSpecError, DataTerm, parse_data_spec

from .base import BlurSource, Sample, SourceBase

__all__ = ["BUILDERS", "MixedSource", "SourceRequest", "make_source"]


@dataclass(frozen=True)
class SourceRequest:
    """What the caller needs from a source (the same for every term of a mix).

    Attributes:
        frames: N target frames.
        split: ``"train"`` or ``"test"``.
        size: sample ``(H, W)`` (render size, or crop size of footage).
        seed: base seed.
        linear: average in linear light where the source synthesises the blur.
        length: nominal length (None: the source's default).
        crop: random crop of the GoPro sources (they keep full frames otherwise).
        flip: random flips of the GoPro sources.
        blur_px: total motion range in output pixels of the rendered sources (None: their default,
            4-24 px at 128 px scaled with the size).
    """

    frames: int = 7
    split: str = "train"
    size: Tuple[int, int] = (128, 128)
    seed: int = 0
    linear: bool = False
    length: Optional[int] = None
    crop: Optional[Tuple[int, int]] = None
    flip: bool = False
    blur_px: Optional[Tuple[float, float]] = None


def _synthetic(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .synthetic import SyntheticBlur

    return SyntheticBlur(req.frames, req.size, req.split, req.seed, req.length, linear=req.linear, blur_px=req.blur_px)


def _deadleaves(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .content import DeadLeaves
    from .synthetic import SyntheticBlur

    side = int(1.5 * max(req.size))  # room for the camera path and a random zoom
    content = DeadLeaves(req.seed, side)
    return SyntheticBlur(
        req.frames, req.size, req.split, req.seed, req.length, linear=req.linear, content=content, blur_px=req.blur_px
    )


def _photos(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .content import PhotoFolder
    from .synthetic import SyntheticBlur

    content = PhotoFolder(term.arg or "", req.split)
    return SyntheticBlur(
        req.frames, req.size, req.split, req.seed, req.length, linear=req.linear, content=content, blur_px=req.blur_px
    )


def _frames(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .sequence import FrameSequence, load_frames_dir

    seqs = load_frames_dir(term.arg or "")
    return FrameSequence(seqs, req.frames, req.size, req.split, req.seed, linear=req.linear, length=req.length)


def _video(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .sequence import FrameSequence, load_video

    seqs = load_video(term.arg or "")
    name = "video"
    return FrameSequence(
        seqs, req.frames, req.size, req.split, req.seed, linear=req.linear, length=req.length, name=name
    )


def _gopro(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .gopro import GoProAll

    return GoProAll(term.arg or "", req.split, req.frames, req.linear, req.crop, req.flip, req.seed)


def _gopro_pairs(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .gopro import GoProPairs

    blur_dir = "blur_gamma" if req.linear else "blur"
    return GoProPairs(term.arg or "", req.split, blur_dir, req.crop, req.flip, req.seed)


def _panorama(term: DataTerm, req: SourceRequest) -> BlurSource:
    from .panorama import PanoramaBlur

    return PanoramaBlur(
        term.arg or "", req.frames, req.size, split=req.split, seed=req.seed, length=req.length, linear=req.linear
    )


BUILDERS: Dict[str, Callable[[DataTerm, SourceRequest], BlurSource]] = {
    "synthetic": _synthetic,
    "deadleaves": _deadleaves,
    "photos": _photos,
    "frames": _frames,
    "video": _video,
    "gopro": _gopro,
    "gopro-pairs": _gopro_pairs,
    "panorama": _panorama,
}


class MixedSource(SourceBase):
    """A weighted mix of sources: sample ``i`` comes from the source chosen by ``rng(seed, i)``.

    All parts must give the same frame count; the train split is unbounded (any index works).

    Args:
        parts: the sources.
        weights: relative weights (> 0), one per source.
        seed: seed of the choice.
    """

    def __init__(self, parts: Sequence[BlurSource], weights: Sequence[float], seed: int = 0) -> None:
        if not parts or len(parts) != len(weights):
            raise ValueError("MixedSource needs one weight per source")
        frames = {int(p.frames) for p in parts}
        if len(frames) != 1:
            raise DataSpecError(f"--data mix: the sources give different frame counts {sorted(frames)}")
        w = np.asarray(weights, np.float64)
        self.parts, self.p, self.seed = list(parts), w / w.sum(), int(seed)
        self.frames = frames.pop()
        self.unbounded = all(getattr(p, "unbounded", False) for p in parts)
        self.length = min(len(p) for p in parts) if not self.unbounded else max(len(p) for p in parts)
        self.name = "+".join(p.name for p in parts)

    def __len__(self) -> int:
        return self.length

    def part_of(self, index: int) -> int:
        """Which source sample ``index`` comes from."""
        return int(np.random.default_rng([self.seed, 7, int(index)]).choice(len(self.parts), p=self.p))

    def __getitem__(self, index: int) -> Sample:
        i = int(index) if self.unbounded and int(index) >= 0 else self._check_index(index)
        k = self.part_of(i)
        part = self.parts[k]
        sample = part[i if getattr(part, "unbounded", False) else i % len(part)]
        sample.meta.setdefault("part", k)
        return sample


def make_source(spec: str, request: SourceRequest, command: str = "train") -> BlurSource:
    """Build the source of a ``--data`` spec (a mix only where ``command`` is ``train``).

    Raises:
        DataSpecError: the spec does not parse or names a kind ``command`` cannot use.
        ValueError: the source's own checks (missing folder, empty folder, frames too small ...).
    """
    parsed = parse_data_spec(spec, command, allow_mix=command == "train")
    parts: List[BlurSource] = []
    for term in parsed.terms:
        builder = BUILDERS.get(term.kind)
        if builder is None:
            raise DataSpecError(f"--data {term.kind}: has no ground truth; `{command}` needs sharp frames")
        parts.append(builder(term, request))
    if len(parts) == 1:
        return parts[0]
    return MixedSource(parts, [t.weight for t in parsed.terms], request.seed)
