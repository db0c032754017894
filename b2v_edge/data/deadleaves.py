"""Procedural "dead leaves" images: an endless, seeded supply of sharp content with natural statistics.

A dead-leaves image is a stack of random occluding shapes ("leaves") whose sizes follow a power law
``p(r) ~ r^-alpha`` (alpha close to 3 makes the image scale-invariant, like natural photos: its
power spectrum falls as ``1/f^2``). Each leaf is a disk, an ellipse, a rectangle or a polygon, filled
with a flat colour, a colour gradient, a sinusoidal grating or band-limited noise, with anti-aliased
edges and, for some leaves, a little defocus. Such images are a published training prior for image
restoration networks that comes close to natural photos (Achddou et al., "Synthetic images as a
regularity prior for image restoration neural networks", SSVM 2021).

Images are ``uint8 [H, W, 3]`` RGB; image ``i`` of a generator is a pure function of ``(seed, i)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

from b2v_edge.common.errors import ConfigError

__all__ = ["DeadLeavesOptions", "dead_leaves"]


@dataclass(frozen=True)
class DeadLeavesOptions:
    """Parameters of the generator (defaults chosen to look like cluttered natural scenes).

    Args:
        alpha: exponent of the leaf-size power law (3 = scale invariant).
        min_radius: smallest leaf radius in pixels.
        max_radius_frac: largest leaf radius as a fraction of ``min(H, W)``.
        textured: fraction of leaves filled with a grating or noise (the rest flat or gradient).
        defocus: fraction of leaves drawn with a slight Gaussian blur (depth of field).
    """

    alpha: float = 3.0
    min_radius: float = 2.0
    max_radius_frac: float = 0.6
    textured: float = 0.5
    defocus: float = 0.15

    def __post_init__(self) -> None:
        if not self.alpha > 1.0:
            raise ConfigError(f"alpha must be > 1, got {self.alpha}")
        if not (self.min_radius > 0.0 and 0.0 < self.max_radius_frac <= 1.0):
            raise ConfigError("min_radius must be > 0 and max_radius_frac in (0, 1]")
        for name in ("textured", "defocus"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def _radii(rng: np.random.Generator, n: int, r_min: float, r_max: float, alpha: float) -> np.ndarray:
    """``n`` radii from ``p(r) ~ r^-alpha`` on ``[r_min, r_max]`` (inverse-CDF sampling)."""
    a = 1.0 - alpha
    u = rng.random(n)
    lo, hi = r_min**a, r_max**a
    return (lo + u * (hi - lo)) ** (1.0 / a)


def _mean_area(r_min: float, r_max: float, alpha: float) -> float:
    """Mean of ``pi r^2`` under the power law (to size the leaf count for a given coverage)."""
    draws = _radii(np.random.default_rng(0), 4096, r_min, r_max, alpha)
    return float(np.mean(np.pi * draws**2))


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random RGB colours in [0, 255]: HSV with moderate saturation, like natural scenes."""
    hsv = np.stack([rng.uniform(0, 180, n), rng.beta(1.2, 2.0, n) * 255, rng.uniform(20, 255, n)], axis=1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    return rgb.astype(np.float32)


def _polygons(kinds: np.ndarray, centres: np.ndarray, radii: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Corner coordinates ``[n, 8, 2]`` (x16 fixed point, int32) of every leaf's polygon.

    Kind 2 is a rotated square; kinds 3..6 have ``kind + 2`` corners at sorted random angles and random
    radii (unused corners repeat the last one). Disks and ellipses (kinds 0, 1) get rows too, unused.
    """
    n = len(kinds)
    corners = np.clip(kinds + 2, 4, 8)
    ang = np.sort(p[:, 1:9], axis=1) * (2 * np.pi)
    rad = radii[:, None] * (0.5 + 0.5 * p[:, :8])
    square = kinds == 2
    ang[square] = p[square, 1:2] * (2 * np.pi) + np.arange(8) * (np.pi / 2)
    rad[square] = radii[square, None]
    idx = np.minimum(np.arange(8)[None, :], corners[:, None] - 1)
    ang = np.take_along_axis(ang, idx, axis=1)
    rad = np.take_along_axis(rad, idx, axis=1)
    pts = centres[:, None, :] + rad[..., None] * np.stack([np.cos(ang), np.sin(ang)], axis=-1)
    return np.round(pts.reshape(n, 8, 2) * 16).astype(np.int32)


def _draw_shape(canvas: np.ndarray, kind: int, cx: float, cy: float, r: float, p: np.ndarray, poly, colour) -> None:
    """Draw one anti-aliased leaf into ``canvas`` (any dtype/channels OpenCV draws on).

    Args:
        kind: 0 disk, 1 ellipse, else the polygon ``poly`` (``[8, 2]`` int32, x16 fixed point).
        cx, cy, r: centre and radius in pixels.
        p: uniform [0, 1) numbers fixing the ellipse's aspect and angle.
        colour: fill colour (a tuple of floats, one per channel).
    """
    if kind == 0:
        cv2.circle(canvas, (int(cx * 16), int(cy * 16)), max(1, int(r * 16)), colour, -1, cv2.LINE_AA, 4)
    elif kind == 1:
        axes = (max(1, int(r * 16)), max(1, int(r * (0.3 + 0.7 * p[0]) * 16)))
        cv2.ellipse(canvas, (int(cx * 16), int(cy * 16)), axes, float(p[1] * 180), 0, 360, colour, -1, cv2.LINE_AA, 4)
    else:
        cv2.fillPoly(canvas, [poly], colour, cv2.LINE_AA, 4)


def _texture(rng: np.random.Generator, h: int, w: int, c0: np.ndarray, c1: np.ndarray, r: float) -> np.ndarray:
    """Fill of a textured leaf, ``float32 [h, w, 3]`` in [0, 255]: gradient, grating or noise."""
    kind = rng.integers(3)
    if kind == 2:  # band-limited noise: small white noise upsampled (cheap 1/f-like texture)
        cell = rng.uniform(1.0, 4.0)
        small = rng.random((max(2, int(h / cell) + 1), max(2, int(w / cell) + 1))).astype(np.float32)
        t = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        theta = rng.uniform(0, 2 * np.pi)
        xs = np.arange(w, dtype=np.float32)[None, :] - w / 2
        ys = np.arange(h, dtype=np.float32)[:, None] - h / 2
        proj = xs * math.cos(theta) + ys * math.sin(theta)
        if kind == 0:  # linear gradient across the leaf
            t = 0.5 + proj / max(2.0 * r, 1.0)
        else:  # sinusoidal grating, period 2..16 px
            t = 0.5 + 0.5 * np.sin(proj * (2 * np.pi / rng.uniform(2.0, 16.0)) + rng.uniform(0, 2 * np.pi))
    t = np.clip(t, 0.0, 1.0)[:, :, None]
    return c0 * (1.0 - t) + c1 * t


def dead_leaves(
    size: Tuple[int, int], rng: np.random.Generator, options: DeadLeavesOptions = DeadLeavesOptions()
) -> np.ndarray:
    """Render one dead-leaves image.

    Args:
        size: ``(H, W)`` in pixels (each at least 8).
        rng: the random generator (the image is a pure function of its state).
        options: generator parameters.

    Returns:
        ``uint8 [H, W, 3]`` RGB.
    """
    h, w = (int(v) for v in size)
    if h < 8 or w < 8:
        raise ValueError(f"dead-leaves size must be at least 8x8, got {(h, w)}")
    o = options
    r_max = max(o.min_radius * 2, o.max_radius_frac * min(h, w))
    # Enough leaves to cover the image about 3 times over, so the background rarely shows.
    n = max(16, round(3.0 * h * w / _mean_area(o.min_radius, r_max, o.alpha)))
    radii = _radii(rng, n, o.min_radius, r_max, o.alpha)  # falling order is random: later leaves occlude
    centres = rng.uniform(0, 1, (n, 2)) * np.array([w, h]) + rng.uniform(-0.5, 0.5, (n, 2)) * radii[:, None]
    kinds = rng.integers(0, 7, n)
    shape_params = rng.random((n, 9))
    polys = _polygons(kinds, centres, radii, shape_params)
    colours = _colours(rng, 2 * n)
    styled = (radii >= 4.0) & (rng.random(n) < o.textured)
    defocused = rng.random(n) < o.defocus
    seeds = rng.integers(0, 2**31, n)
    image = np.empty((h, w, 3), np.float32)
    image[...] = colours[-1]
    for i in range(n):
        cx, cy = centres[i]
        if not styled[i]:
            _draw_shape(image, kinds[i], cx, cy, radii[i], shape_params[i], polys[i], tuple(colours[i].tolist()))
            continue
        leaf = _Leaf(int(kinds[i]), cx, cy, float(radii[i]), shape_params[i], polys[i], colours[i], colours[n + i])
        _paste_textured(image, np.random.default_rng(seeds[i]), leaf, bool(defocused[i]))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class _Leaf:
    kind: int
    cx: float
    cy: float
    r: float
    params: np.ndarray
    poly: np.ndarray
    c0: np.ndarray
    c1: np.ndarray


def _paste_textured(image: np.ndarray, rng: np.random.Generator, leaf: _Leaf, defocus: bool) -> None:
    """Composite one textured (optionally defocused) leaf into ``image`` through its own mask."""
    h, w = image.shape[:2]
    half = int(math.ceil(leaf.r)) + 3
    x0, y0 = int(math.floor(leaf.cx)) - half, int(math.floor(leaf.cy)) - half
    size = 2 * half + 1
    bx0, by0, bx1, by1 = max(x0, 0), max(y0, 0), min(x0 + size, w), min(y0 + size, h)
    if bx1 <= bx0 or by1 <= by0:
        return
    mask = np.zeros((size, size), np.float32)
    poly = leaf.poly - np.array([x0 * 16, y0 * 16], np.int32)
    _draw_shape(mask, leaf.kind, leaf.cx - x0, leaf.cy - y0, leaf.r, leaf.params, poly, 1.0)
    if defocus:
        mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 1.5))
    sl = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
    fill = _texture(rng, by1 - by0, bx1 - bx0, leaf.c0, leaf.c1, leaf.r)
    m = mask[sl][:, :, None]
    roi = image[by0:by1, bx0:bx1]
    roi += m * (fill - roi)
