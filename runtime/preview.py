"""What a person sees: the blurred input beside the restored output, with a status overlay.

Show modes (``--show``):

* ``middle``: the centre frame of the N recovered frames (the "deblurred" image);
* ``sequence``: the N recovered frames played one after another at ``playback_fps`` — the
  exposure replayed as slow motion;
* ``grid``: the N frames tiled in one image.

:func:`frames_for_mode` turns the N restored images into what is shown/written per input frame;
:func:`compose` builds the side-by-side view used by the window and the MJPEG preview;
:class:`PreviewWindow` is the OpenCV window (``q`` or Esc quits, closing the window quits).
"""

from __future__ import annotations

import math
import os
import sys
from functools import lru_cache
from typing import List, Optional, Sequence

import cv2
import numpy as np

__all__ = [
    "SHOW_MODES",
    "PreviewWindow",
    "compose",
    "draw_overlay",
    "frames_for_mode",
    "gui_available",
    "has_display",
    "tile_grid",
]

SHOW_MODES = ("middle", "sequence", "grid")
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def has_display() -> bool:
    """A screen to open a window on: always on Windows/macOS, else ``$DISPLAY``/``$WAYLAND_DISPLAY``."""
    if sys.platform.startswith("win") or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@lru_cache(maxsize=1)
def gui_available() -> bool:
    """Whether this OpenCV can open windows (``opencv-python-headless`` cannot)."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() not in ("NONE", "NO", "")
    return False


def tile_grid(images: Sequence[np.ndarray], cols: Optional[int] = None) -> np.ndarray:
    """Tile equally sized BGR images row-major into a ``ceil(n/cols) x cols`` grid (black filler)."""
    if not images:
        raise ValueError("tile_grid needs at least one image")
    n = len(images)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    h, w = images[0].shape[:2]
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return grid


def frames_for_mode(restored: List[np.ndarray], mode: str) -> List[np.ndarray]:
    """The images shown/written for one input: middle → 1, sequence → N, grid → 1 tiled image."""
    if mode == "middle":
        return [restored[len(restored) // 2]]
    if mode == "sequence":
        return list(restored)
    if mode == "grid":
        return [tile_grid(restored)]
    raise ValueError(f"show mode must be one of {SHOW_MODES}, got {mode!r}")


def _fit_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == height:
        return img
    width = max(1, round(w * height / h))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_LINEAR)


def draw_overlay(img: np.ndarray, lines: Sequence[str], origin: tuple = (8, 8), scale: float = 0.5) -> np.ndarray:
    """Draw text lines (white on a dark box) into ``img`` in place; returns ``img``."""
    if not lines:
        return img
    thick = 1
    sizes = [cv2.getTextSize(s, _FONT, scale, thick)[0] for s in lines]
    line_h = max(s[1] for s in sizes) + 6
    x0, y0 = origin
    box_w = max(s[0] for s in sizes) + 10
    x1, y1 = min(img.shape[1] - 1, x0 + box_w), min(img.shape[0] - 1, y0 + line_h * len(lines) + 4)
    roi = img[y0:y1, x0:x1]
    roi[...] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken for contrast
    for i, text in enumerate(lines):
        y = y0 + 4 + line_h * (i + 1) - 4
        cv2.putText(img, text, (x0 + 5, y), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return img


def compose(
    blurred: np.ndarray,
    restored: np.ndarray,
    overlay: Sequence[str] = (),
    label: str = "restored",
    max_height: int = 540,
) -> np.ndarray:
    """Side-by-side view: blurred input (left) and one restored image (right), overlay on top.

    Args:
        blurred: source frame, BGR uint8.
        restored: one image from :func:`frames_for_mode`, BGR uint8 (any size; scaled to match).
        overlay: status lines drawn top-left.
        label: caption of the right half (e.g. ``"restored 3/7"``).
        max_height: the view is scaled down to at most this height.
    """
    height = min(max_height, blurred.shape[0])
    left = _fit_height(blurred, height).copy()
    right = _fit_height(restored, height).copy()
    draw_overlay(left, ["input (blurred)"], origin=(8, max(8, height - 30)))
    draw_overlay(right, [label], origin=(8, max(8, height - 30)))
    view = np.concatenate([left, np.full((height, 4, 3), 64, np.uint8), right], axis=1)
    return draw_overlay(view, list(overlay))


def right_label(mode: str, index: int, count: int) -> str:
    """Caption of the restored half: ``middle frame``, ``slow motion 3/7`` or ``all 7 frames``."""
    if mode == "sequence":
        return f"slow motion {index + 1}/{count}"
    return "all frames" if mode == "grid" else "restored (middle)"


class PreviewWindow:
    """An OpenCV window showing :func:`compose` views.

    Args:
        title: window title.
        mode: show mode (sequence frames are shown ``1 / playback_fps`` seconds each).
        playback_fps: slow-motion playback rate of the sequence mode.

    Raises:
        RuntimeError: OpenCV cannot open a window (no GUI backend or no display).
    """

    def __init__(self, title: str, mode: str = "middle", playback_fps: float = 30.0) -> None:
        self.title, self.mode = title, mode
        self.delay_ms = max(1, int(round(1000.0 / playback_fps)))
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as exc:
            raise RuntimeError(f"cannot open a preview window ({str(exc).strip().splitlines()[-1]})") from exc
        self._open = True

    def write(self, blurred: np.ndarray, images: List[np.ndarray], overlay: Sequence[str]) -> bool:
        """Show the views for one input; False when the user pressed ``q``/Esc or closed the window."""
        for i, img in enumerate(images):
            cv2.imshow(self.title, compose(blurred, img, overlay, right_label(self.mode, i, len(images))))
            key = cv2.waitKey(self.delay_ms if len(images) > 1 else 1) & 0xFF
            if key in (ord("q"), 27) or not self._visible():
                return False
        return True

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def close(self, ok: bool = True) -> None:
        """Close the window (idempotent); ``ok`` is unused (the output interface's success flag)."""
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
