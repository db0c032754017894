"""Full-resolution frame layouts: how a frame of any size reaches an engine without losing resolution.

An ONNX graph or TensorRT plan has a fixed input size (static export) or a bounded one (dynamic
export: H and W multiples of 32 inside an optimization profile). :func:`plan_layout` chooses, per
engine and frame size, how the frame is fed:

=============  ===================================================================================
mode           what happens
=============  ===================================================================================
``pad``        dynamic graph: the frame is edge-padded to the next multiple (32) and run in one
               pass; the output is cropped back. Nothing is resampled.
``tiles``      static graph (or a frame beyond a dynamic profile's maximum): overlapping tiles of
               the graph's input size, each run at the frame's own resolution, blended back with
               linear ramps across every overlap (frames smaller than a tile are edge-padded).
``letterbox``  the frame is scaled into the fixed input (aspect kept, padded) and the output scaled
               back: one pass, but resolution is lost (opt-in, ``--fit letterbox``).
``resize``     as ``letterbox`` but stretched (``--fit resize``).
=============  ===================================================================================

Conventions: frames are BGR ``uint8 [h, w, 3]``; engine tensors are RGB ``float32`` in ``[0, 1]``,
``[T, 3, H, W]`` in and ``[T, N, 3, H, W]`` out (T = passes). Padding is added at the bottom and
right edges (edge replication, as the model pads itself), so frame pixel ``(y, x)`` sits at canvas
pixel ``(y, x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .preprocess import FrameMapping, postprocess, preprocess, to_bgr_uint8

__all__ = ["FITS", "PAD_MULTIPLE", "FrameLayout", "InputLimits", "plan_layout", "run_passes"]

#: How frames reach the engine: ``full`` (``pad`` or ``tiles``, chosen per engine) or a rescale.
FITS = ("full", "letterbox", "resize")
#: H/W multiple of a dynamic graph when its manifest does not say (the model pads to 32 itself).
PAD_MULTIPLE = 32
#: Most tiles sent to a dynamic-batch engine in one call.
MAX_TILE_BATCH = 8

Size = Tuple[int, int]


@dataclass(frozen=True)
class InputLimits:
    """What input sizes an engine accepts.

    Attributes:
        fixed: ``(H, W)`` of a static graph, None when H/W are dynamic.
        multiple: dynamic H and W must be multiples of this.
        min_size: smallest dynamic ``(H, W)`` (a plan's profile minimum), None = ``multiple``.
        max_size: largest dynamic ``(H, W)`` (a plan's profile maximum), None = unbounded.
        batch: static batch size, None when the batch axis is dynamic.
        max_batch: largest dynamic batch (a plan's profile maximum), None = :data:`MAX_TILE_BATCH`.
    """

    fixed: Optional[Size]
    multiple: int = PAD_MULTIPLE
    min_size: Optional[Size] = None
    max_size: Optional[Size] = None
    batch: Optional[int] = 1
    max_batch: Optional[int] = None

    @classmethod
    def from_spec(cls, spec: Any) -> "InputLimits":
        """Limits of an :class:`~b2v_edge.runtime.engines.EngineSpec` (its shape and profile fields)."""
        b, _, h, w = spec.input_shape
        fixed = (int(h), int(w)) if h and w else None
        profile_min = getattr(spec, "min_input_shape", None)
        profile_max = getattr(spec, "max_input_shape", None)
        return cls(
            fixed=fixed,
            multiple=int(getattr(spec, "pad_multiple", 0) or PAD_MULTIPLE),
            min_size=(int(profile_min[2]), int(profile_min[3])) if profile_min else None,
            max_size=(int(profile_max[2]), int(profile_max[3])) if profile_max else None,
            batch=int(b) if b else None,
            max_batch=int(profile_max[0]) if profile_max else None,
        )

    @property
    def tile_batch(self) -> int:
        """Passes per engine call: the static batch, else up to the profile's (or a default) maximum."""
        if self.batch:
            return self.batch
        return max(1, min(MAX_TILE_BATCH, self.max_batch or MAX_TILE_BATCH))


@dataclass(frozen=True)
class FrameLayout:
    """How one frame size maps onto engine passes (see the module table).

    Attributes:
        mode: ``pad``, ``tiles``, ``letterbox`` or ``resize``.
        frame_size: ``(h, w)`` of the source frame.
        input_size: ``(H, W)`` of every engine pass.
        canvas: ``(Hc, Wc)`` of the edge-padded frame the passes cover (full-resolution modes).
        origins: ``(y, x)`` of every pass in the canvas.
        mapping: the rescale of ``letterbox``/``resize`` (None in full-resolution modes).
        dynamic: the engine's H/W are dynamic (for :meth:`describe`).
    """

    mode: str
    frame_size: Size
    input_size: Size
    canvas: Size
    origins: Tuple[Tuple[int, int], ...]
    mapping: Optional[FrameMapping] = None
    dynamic: bool = False

    @property
    def passes(self) -> int:
        """Engine inputs per frame."""
        return len(self.origins)

    @property
    def full_resolution(self) -> bool:
        """True when frames keep their resolution (padded to 32 or tiled), False when scaled."""
        return self.mode in ("pad", "tiles")

    def describe(self) -> str:
        """One line for the run summary, e.g. ``full resolution 360x640: 6 overlapping 256x256 tiles``."""
        h, w = self.frame_size
        ih, iw = self.input_size
        graph = "dynamic graph" if self.dynamic else "static graph"
        if self.mode == "pad":
            padded = f", padded to {ih}x{iw}" if (ih, iw) != (h, w) else ""
            return f"full resolution {h}x{w}: one pass{padded} ({graph})"
        if self.mode == "tiles":
            if self.passes == 1:
                padded = f" (edge-padded to {ih}x{iw})" if (ih, iw) != (h, w) else ""
                return f"full resolution {h}x{w}: one {ih}x{iw} pass{padded} ({graph})"
            return f"full resolution {h}x{w}: {self.passes} overlapping {ih}x{iw} tiles, blended ({graph})"
        return f"{self.mode} {h}x{w} -> {ih}x{iw} and back (resolution reduced; --fit full keeps it)"

    # ---- frame -> engine input --------------------------------------------------------------
    def split(self, frame: np.ndarray) -> np.ndarray:
        """``uint8 [h, w, 3]`` BGR frame → ``float32 [passes, 3, H, W]`` RGB in ``[0, 1]``."""
        if frame.shape[:2] != self.frame_size:
            raise ValueError(f"layout is for {self.frame_size} frames, got {tuple(frame.shape[:2])}")
        if self.mapping is not None:
            return preprocess(frame, self.input_size, self.mode)[0]
        canvas = _edge_pad(frame, self.canvas)
        ih, iw = self.input_size
        x = np.empty((self.passes, 3, ih, iw), np.float32)
        for i, (y0, x0) in enumerate(self.origins):
            tile = canvas[y0 : y0 + ih, x0 : x0 + iw, ::-1]
            np.multiply(tile.transpose(2, 0, 1), np.float32(1.0 / 255.0), out=x[i], casting="unsafe")
        return x

    # ---- engine output -> frames ---------------------------------------------------------------
    def merge(self, out: np.ndarray, keep: Optional[Sequence[int]] = None) -> List[np.ndarray]:
        """``[passes, N, 3, H, W]`` engine output → BGR ``uint8 [h, w, 3]`` images at the frame size.

        Args:
            out: the engine outputs of :meth:`split`'s passes, in order.
            keep: indices of the N recovered frames to convert (None = all), in the order given.
        """
        if out.ndim != 5 or out.shape[0] != self.passes:
            raise ValueError(f"expected [{self.passes}, N, 3, H, W] outputs, got {tuple(out.shape)}")
        picked = out[:, list(keep)] if keep is not None else out
        if self.mapping is not None:
            return postprocess(picked[0], self.mapping)
        h, w = self.frame_size
        if self.passes == 1:
            return [to_bgr_uint8(chw[:, :h, :w]) for chw in picked[0]]
        blended = self._blend(picked)
        return [to_bgr_uint8(chw[:, :h, :w]) for chw in blended]

    def _blend(self, out: np.ndarray) -> np.ndarray:
        """Weighted sum of overlapping tiles, ``[K, 3, Hc, Wc]``."""
        ih, iw = self.input_size
        acc = np.zeros((out.shape[1], 3, *self.canvas), np.float32)
        total = np.zeros(self.canvas, np.float32)
        for tile, weight, (y0, x0) in zip(out, self.weights(), self.origins):
            acc[:, :, y0 : y0 + ih, x0 : x0 + iw] += tile * weight
            total[y0 : y0 + ih, x0 : x0 + iw] += weight
        return acc / total

    def weights(self) -> List[np.ndarray]:
        """Blend weight ``[H, W]`` of every tile: 1 inside, linear ramps across each overlap with a neighbour."""
        ih, iw = self.input_size
        ys = sorted({y for y, _ in self.origins})
        xs = sorted({x for _, x in self.origins})
        return [np.outer(_ramp(y0, ys, ih), _ramp(x0, xs, iw)) for y0, x0 in self.origins]


def _ramp(start: int, starts: List[int], length: int) -> np.ndarray:
    """1-D weights of the tile at ``start`` among tiles at ``starts`` (all ``length`` long)."""
    weight = np.ones(length, np.float32)
    i = starts.index(start)
    if i > 0:
        overlap = starts[i - 1] + length - start
        if overlap > 0:
            weight[:overlap] = np.minimum(weight[:overlap], (np.arange(overlap) + 1.0) / (overlap + 1.0))
    if i + 1 < len(starts):
        overlap = start + length - starts[i + 1]
        if overlap > 0:
            ramp = (np.arange(overlap, 0, -1) + 0.0) / (overlap + 1.0)
            weight[length - overlap :] = np.minimum(weight[length - overlap :], ramp)
    return weight


def _edge_pad(frame: np.ndarray, canvas: Size) -> np.ndarray:
    h, w = frame.shape[:2]
    bottom, right = canvas[0] - h, canvas[1] - w
    if not (bottom or right):
        return frame
    return cv2.copyMakeBorder(frame, 0, bottom, 0, right, cv2.BORDER_REPLICATE)


def tile_starts(length: int, tile: int, min_overlap: int) -> List[int]:
    """Evenly spread tile starts covering ``[0, length)`` with at least ``min_overlap`` overlap.

    Raises:
        ValueError: ``tile`` not larger than ``min_overlap``, or ``length < tile``.
    """
    if tile <= min_overlap:
        raise ValueError(f"tile {tile} must be larger than its overlap {min_overlap}")
    if length < tile:
        raise ValueError(f"length {length} is shorter than the tile {tile}: pad first")
    if length == tile:
        return [0]
    count = math.ceil((length - min_overlap) / (tile - min_overlap))
    count = max(count, 2)
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _tiles(frame: Size, tile: Size, dynamic: bool, overlap: Optional[int]) -> FrameLayout:
    canvas = (max(frame[0], tile[0]), max(frame[1], tile[1]))
    ov = [overlap if overlap is not None else max(t // 8, min(16, t // 4)) for t in tile]
    ys = tile_starts(canvas[0], tile[0], min(ov[0], tile[0] - 1))
    xs = tile_starts(canvas[1], tile[1], min(ov[1], tile[1] - 1))
    origins = tuple((y, x) for y in ys for x in xs)
    return FrameLayout("tiles", frame, tile, canvas, origins, dynamic=dynamic)


def plan_layout(frame_size: Size, limits: InputLimits, fit: str = "full", overlap: Optional[int] = None) -> FrameLayout:
    """Choose how frames of ``frame_size`` reach an engine with ``limits``.

    Args:
        frame_size: ``(h, w)`` of the source frames.
        limits: the engine's accepted input sizes (:meth:`InputLimits.from_spec`).
        fit: ``full`` (keep resolution: ``pad`` for dynamic graphs, ``tiles`` for static ones),
            ``letterbox`` or ``resize`` (scale to a fixed input; dynamic graphs use the size padded
            to their multiple, so ``letterbox``/``resize`` only matter for static graphs).
        overlap: minimum tile overlap in pixels (default: 1/8 of the tile side, at least
            ``min(16, side / 4)``).

    Raises:
        ValueError: unknown ``fit`` or an empty frame.
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    h, w = int(frame_size[0]), int(frame_size[1])
    if h < 1 or w < 1:
        raise ValueError(f"frame size must be positive, got {frame_size}")
    if limits.fixed is not None:
        if fit != "full":
            mapping = preprocess(np.zeros((h, w, 3), np.uint8), limits.fixed, fit)[1]
            return FrameLayout(fit, (h, w), limits.fixed, limits.fixed, ((0, 0),), mapping=mapping)
        return _tiles((h, w), limits.fixed, False, overlap)
    m = max(1, limits.multiple)
    low = limits.min_size or (m, m)
    padded = (max(_round_up(h, m), low[0]), max(_round_up(w, m), low[1]))
    high = limits.max_size
    if high is None or (padded[0] <= high[0] and padded[1] <= high[1]):
        return FrameLayout("pad", (h, w), padded, padded, ((0, 0),), dynamic=True)
    tile = (min(padded[0], high[0] // m * m), min(padded[1], high[1] // m * m))
    return _tiles((h, w), tile, True, overlap)


def run_passes(engine: Any, x: np.ndarray, limits: InputLimits) -> np.ndarray:
    """Run ``T`` passes through ``engine`` in batches its input accepts.

    A static batch larger than the remaining passes is filled with copies of the last pass (their
    outputs are dropped).

    Args:
        engine: an :class:`~b2v_edge.runtime.engines.Engine` (``infer([B,3,H,W]) -> [B,N,3,H,W]``).
        x: passes ``float32 [T, 3, H, W]`` in [0, 1].
        limits: the engine's input limits (batch, tile batch).

    Returns:
        ``float32 [T, N, 3, H, W]``, in the order of ``x``.
    """
    step = limits.tile_batch
    outs = []
    for i in range(0, x.shape[0], step):
        chunk = x[i : i + step]
        short = (limits.batch or 0) - chunk.shape[0]
        if short > 0:
            filled = np.concatenate([chunk, np.repeat(chunk[-1:], short, axis=0)], axis=0)
            outs.append(engine.infer(filled)[: chunk.shape[0]])
        else:
            outs.append(engine.infer(chunk))
    return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)
