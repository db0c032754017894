"""Frame ⇄ tensor conversion, shared by the runtime and by INT8 calibration (one function each way).

``preprocess``: BGR ``uint8 [h, w, 3]`` camera/video frame → ``float32 [1, 3, H, W]`` RGB in
``[0, 1]`` at the engine's input size, by plain resize, by letterbox (aspect kept, padded with
``pad_value``) or at full resolution (a centred ``H x W`` crop, edge-padded where the frame is
smaller: one tile of what :mod:`.layout` feeds ``b2v-edge run``), plus a :class:`FrameMapping` that
records how to go back. Whole frames at full resolution go through :mod:`.layout`.
``postprocess``: the engine's ``[N, 3, H, W]`` (or ``[1, N, 3, H, W]``) output → N BGR ``uint8``
images with the padding cropped away and, by default, resized back to the source frame size.

Coordinates: OpenCV pixel convention (x right, y down). With letterbox the content occupies rows
``pad_top : pad_top + content_h`` and columns ``pad_left : pad_left + content_w`` of the engine image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np

__all__ = ["FrameMapping", "MODES", "postprocess", "preprocess"]

MODES = ("full", "letterbox", "resize")


@dataclass(frozen=True)
class FrameMapping:
    """How a source frame was placed in the engine input (the inverse mapping of ``preprocess``).

    Attributes:
        src_size: ``(h, w)`` of the source frame.
        dst_size: ``(H, W)`` of the engine input.
        content: ``(top, left, height, width)`` of the resized source inside the engine image.
        mode: ``"full"``, ``"letterbox"`` or ``"resize"``. For ``"full"`` the source is the centred
            crop (``src_size`` is the crop's size; nothing is resampled).
    """

    src_size: Tuple[int, int]
    dst_size: Tuple[int, int]
    content: Tuple[int, int, int, int]
    mode: str

    @property
    def scale(self) -> Tuple[float, float]:
        """``(sy, sx)``: engine pixels per source pixel."""
        return self.content[2] / self.src_size[0], self.content[3] / self.src_size[1]

    def to_source(self, x: float, y: float) -> Tuple[float, float]:
        """Map a point from engine-image pixels to source-frame pixels."""
        top, left, _, _ = self.content
        sy, sx = self.scale
        return (x - left + 0.5) / sx - 0.5, (y - top + 0.5) / sy - 0.5


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 BGR [h,w,3], got dtype {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 1:
        raise ValueError(f"frame must be uint8 BGR [h,w,3], got shape {tuple(frame.shape)}")
    return frame


def preprocess(
    frame: np.ndarray,
    size: Tuple[int, int],
    mode: str = "letterbox",
    pad_value: int = 0,
) -> Tuple[np.ndarray, FrameMapping]:
    """BGR uint8 frame → engine input.

    Args:
        frame: ``uint8 [h, w, 3]`` BGR (gray ``[h, w]`` and BGRA are converted).
        size: engine input ``(H, W)``.
        mode: ``"letterbox"`` keeps the aspect ratio and pads; ``"resize"`` stretches; ``"full"``
            keeps the resolution: a centred ``H x W`` crop, edge-padded where the frame is smaller.
        pad_value: 0..255 fill of the letterbox border.

    Returns:
        ``(x, mapping)`` with ``x`` ``float32 [1, 3, H, W]`` RGB in ``[0, 1]`` (C-contiguous).

    Raises:
        ValueError: bad mode, size or frame (message shows expected and actual).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    H, W = int(size[0]), int(size[1])
    if H < 1 or W < 1:
        raise ValueError(f"size must be positive (H, W), got {tuple(size)}")
    bgr = _as_bgr(frame)
    h, w = bgr.shape[:2]
    if mode == "full":
        return _centre_crop(bgr, H, W)
    if mode == "resize":
        ch, cw, top, left = H, W, 0, 0
    else:
        s = min(H / h, W / w)
        ch, cw = max(1, min(H, round(h * s))), max(1, min(W, round(w * s)))
        top, left = (H - ch) // 2, (W - cw) // 2
    interp = cv2.INTER_AREA if ch < h or cw < w else cv2.INTER_LINEAR
    resized = bgr if (ch, cw) == (h, w) else cv2.resize(bgr, (cw, ch), interpolation=interp)
    canvas = np.full((H, W, 3), pad_value, np.uint8) if (ch, cw) != (H, W) else None
    if canvas is not None:
        canvas[top : top + ch, left : left + cw] = resized
        resized = canvas
    return _to_tensor(resized), FrameMapping((h, w), (H, W), (top, left, ch, cw), mode)


def _to_tensor(bgr: np.ndarray) -> np.ndarray:
    x = np.empty((1, 3, *bgr.shape[:2]), np.float32)
    np.multiply(bgr[:, :, ::-1].transpose(2, 0, 1), np.float32(1.0 / 255.0), out=x[0], casting="unsafe")
    return x


def _centre_crop(bgr: np.ndarray, H: int, W: int) -> Tuple[np.ndarray, FrameMapping]:
    h, w = bgr.shape[:2]
    ch, cw = min(h, H), min(w, W)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = bgr[top : top + ch, left : left + cw]
    if (ch, cw) != (H, W):
        crop = cv2.copyMakeBorder(crop, 0, H - ch, 0, W - cw, cv2.BORDER_REPLICATE)
    return _to_tensor(crop), FrameMapping((ch, cw), (H, W), (0, 0, ch, cw), "full")


def to_bgr_uint8(image_chw: np.ndarray) -> np.ndarray:
    """``float [3, H, W]`` RGB in ``[0, 1]`` → ``uint8 [H, W, 3]`` BGR (clipped, rounded)."""
    img = np.clip(np.asarray(image_chw, np.float32), 0.0, 1.0) * 255.0 + 0.5
    return np.ascontiguousarray(img.astype(np.uint8)[::-1].transpose(1, 2, 0))


def postprocess(
    frames: np.ndarray,
    mapping: Optional[FrameMapping] = None,
    to_source_size: bool = True,
) -> List[np.ndarray]:
    """Engine output → BGR uint8 images, padding cropped, optionally resized to the source size.

    Args:
        frames: ``[N, 3, H, W]`` or ``[1, N, 3, H, W]`` float in ``[0, 1]`` (values outside are clipped).
        mapping: from :func:`preprocess`; None keeps the engine image as is.
        to_source_size: resize the cropped content back to ``mapping.src_size``.

    Returns:
        N images ``uint8 [h, w, 3]`` in time order.
    """
    arr = np.asarray(frames)
    if arr.ndim == 5:
        if arr.shape[0] != 1:
            raise ValueError(f"postprocess takes one sample, got batch {arr.shape[0]} in {tuple(arr.shape)}")
        arr = arr[0]
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"frames must be [N,3,H,W] or [1,N,3,H,W], got {tuple(np.asarray(frames).shape)}")
    out = []
    for chw in arr:
        img = to_bgr_uint8(chw)
        if mapping is not None:
            top, left, ch, cw = mapping.content
            img = img[top : top + ch, left : left + cw]
            h, w = mapping.src_size
            if to_source_size and (ch, cw) != (h, w):
                interp = cv2.INTER_LINEAR if h >= ch else cv2.INTER_AREA
                img = cv2.resize(img, (w, h), interpolation=interp)
            img = np.ascontiguousarray(img)
        out.append(img)
    return out
