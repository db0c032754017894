"""Rotational blur rendered from equirectangular panoramas (paper section 3; numpy/OpenCV/scipy).

A virtual pinhole camera looks into the panorama: each output pixel's ray (camera frame ``x``
right, ``y`` down, ``z`` forward) is rotated to the world frame, turned into longitude / latitude
and sampled with :func:`cv2.remap`. A sample starts at a random orientation, rotates by random
Euler angles, and Slerp gives ``n_sub`` orientations in between (``n_sub`` grows linearly with the
rotation angle). The blurred image is their mean; the N targets are rendered at the centre times of
N equal groups of sub-frames. Views are sampled from an 8-bit panorama (the targets are 8-bit
values as floats); the blur is accumulated in float32.

Equirectangular convention: column ``u`` spans longitude ``[-pi, pi)`` left to right (longitude 0,
the ``+z`` direction, is the image centre), row ``v`` spans latitude ``+pi/2`` (up, ``-y``) at the
top to ``-pi/2`` at the bottom.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .base import Sample, SourceBase, check_size

if TYPE_CHECKING:  # scipy (a scikit-image dependency) is imported lazily: it is slow to import
    from scipy.spatial.transform import Rotation

__all__ = ["PanoramaBlur", "list_panoramas", "camera_rays", "render_view"]

_EXTS = {".jpg", ".jpeg", ".png"}
_PAD = 2  # wrap / reflect padding of the cached panorama, in pixels
_LAYOUT = "a folder of 2:1 equirectangular .jpg/.png images, searched recursively"


def list_panoramas(root: Union[str, Path], split: str) -> List[Path]:
    """Sorted image files under ``root`` (recursive); the last 10% (at least 1) are ``test``.

    With a single image, both splits use it (only sensible for tests / demos).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root_p = Path(root).expanduser()
    if not root_p.is_dir():
        raise ValueError(f"panorama root not found: {root_p} (expected {_LAYOUT})")
    files = sorted(p for p in root_p.rglob("*") if p.is_file() and p.suffix.lower() in _EXTS)
    if not files:
        raise ValueError(f"no .jpg/.png panoramas under {root_p} (expected {_LAYOUT})")
    if len(files) == 1:
        return files
    n_test = max(1, round(0.1 * len(files)))
    return files[-n_test:] if split == "test" else files[:-n_test]


@lru_cache(maxsize=32)
def _load_panorama(path: str, width: int) -> np.ndarray:
    """``uint8 [Hp + 2P, Wp + 2P, 4]`` RGBA panorama at most ``width`` wide, padded by ``_PAD``
    (wrapped horizontally, reflected vertically)."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read panorama {path}")
    if bgr.shape[1] > width:
        height = max(2, round(bgr.shape[0] * width / bgr.shape[1]))
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    rgba = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)
    rgba = np.concatenate([rgba[:, -_PAD:], rgba, rgba[:, :_PAD]], axis=1)
    rgba = cv2.copyMakeBorder(rgba, _PAD, _PAD, 0, 0, cv2.BORDER_REFLECT)
    rgba.setflags(write=False)
    return rgba


def camera_rays(size: Tuple[int, int], fov_deg: float) -> Tuple[np.ndarray, float]:
    """Unit ray directions ``float32 [H*W, 3]`` (row-major pixels) and the focal length in px.

    ``fov_deg`` is the horizontal field of view; pixel centres sit at ``(x + 0.5, y + 0.5)``.
    """
    h, w = size
    f = (w / 2) / math.tan(math.radians(fov_deg) / 2)
    ys, xs = np.meshgrid(np.arange(h) + 0.5 - h / 2, np.arange(w) + 0.5 - w / 2, indexing="ij")
    rays = np.stack([xs / f, ys / f, np.ones_like(xs)], axis=-1).reshape(-1, 3)
    return (rays / np.linalg.norm(rays, axis=1, keepdims=True)).astype(np.float32), f


def render_view(pano: np.ndarray, rays: np.ndarray, rot: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Render the camera with camera->world rotation ``rot`` (3x3) from a padded panorama.

    Returns:
        ``[H, W, C]`` image, same dtype as ``pano``.
    """
    hp, wp = pano.shape[0] - 2 * _PAD, pano.shape[1] - 2 * _PAD
    world = rays @ rot.T.astype(np.float32)
    lon = np.arctan2(world[:, 0], world[:, 2])
    lat = np.arcsin(np.clip(-world[:, 1], -1.0, 1.0))
    u = (lon * np.float32(1 / (2 * np.pi)) + np.float32(0.5)) * wp + np.float32(_PAD - 0.5)
    v = (np.float32(0.5) - lat * np.float32(1 / np.pi)) * hp + np.float32(_PAD - 0.5)
    h, w = size
    return cv2.remap(pano, u.reshape(h, w), v.reshape(h, w), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class PanoramaBlur(SourceBase):
    """Rotational-blur source from a folder of equirectangular panoramas (e.g. SUN360).

    Args:
        root: folder of ``.jpg`` / ``.png`` panoramas (searched recursively, sorted by path).
        frames: N, the number of target frames.
        size: output ``(H, W)``.
        fov_deg: horizontal field of view of the virtual pinhole camera.
        max_angle_deg: bound of the random rotation as Euler angles (yaw, pitch, roll) in degrees,
            each drawn from ``[-max, max]``; a scalar applies to all three.
        split: ``"train"`` or ``"test"`` (the last 10% of the sorted files are test).
        seed: sample ``i`` is a pure function of ``(seed, split, i)``.
        length: dataset length; default 100_000 (train, which also accepts larger indices) / 64.
        subframes_per_deg: sub-frames per degree of rotation; ``n_sub = max(N, ceil(angle *
            subframes_per_deg))`` rounded up to a multiple of N and capped by ``max_subframes``.
        max_subframes: upper bound of ``n_sub``.
        pitch_range_deg: the initial pitch is drawn from ``[-range, range]`` (yaw is uniform, the
            initial roll is within +-10 deg) so views rarely stare at the poles.
        linear: average in linear light (gamma 2.2).
    """

    def __init__(
        self,
        root: Union[str, Path],
        frames: int = 3,
        size: Tuple[int, int] = (128, 128),
        fov_deg: float = 60.0,
        max_angle_deg: Union[float, Sequence[float]] = (8.0, 8.0, 4.0),
        split: str = "train",
        seed: int = 0,
        length: Optional[int] = None,
        subframes_per_deg: float = 2.0,
        max_subframes: int = 96,
        pitch_range_deg: float = 30.0,
        linear: bool = False,
    ) -> None:
        if int(frames) < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if not 1.0 <= fov_deg < 179.0:
            raise ValueError(f"fov_deg must be in [1, 179), got {fov_deg}")
        angles = np.broadcast_to(np.asarray(max_angle_deg, np.float64), (3,)).copy()
        if np.any(angles < 0):
            raise ValueError(f"max_angle_deg must be >= 0, got {max_angle_deg}")
        self.files = list_panoramas(root, split)
        self.frames, self.size, self.split = int(frames), check_size(size), split
        self.seed, self.fov_deg, self.max_angle_deg = int(seed), float(fov_deg), angles
        self.subframes_per_deg, self.linear = float(subframes_per_deg), bool(linear)
        self.pitch_range_deg = float(pitch_range_deg)
        self.max_subframes = max(self.frames, int(max_subframes) // self.frames * self.frames)
        self.length = int(length) if length is not None else (100_000 if split == "train" else 64)
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.unbounded = split == "train"
        self.name = f"panorama-{split}"
        self._rays, self.focal = camera_rays(self.size, self.fov_deg)
        self._pano_width = max(64, int(math.ceil(2 * math.pi * self.focal)))

    def __len__(self) -> int:
        return self.length

    def n_subframes(self, angle_deg: float) -> int:
        """Sub-frames for a rotation of ``angle_deg``: a multiple of ``frames`` in [N, max]."""
        n = max(self.frames, math.ceil(angle_deg * self.subframes_per_deg - 1e-9))
        n = -(-n // self.frames) * self.frames
        return min(n, self.max_subframes)

    def __getitem__(self, index: int) -> Sample:
        from scipy.spatial.transform import Rotation

        i = int(index) if self.unbounded and int(index) >= 0 else self._check_index(index)
        rng = np.random.default_rng([self.seed, 0 if self.split == "train" else 1, i])
        k = i % len(self.files) if self.split == "test" else int(rng.integers(len(self.files)))
        pano = _load_panorama(str(self.files[k]), self._pano_width)
        start = Rotation.from_euler(
            "YXZ",
            [rng.uniform(-180, 180), rng.uniform(-1, 1) * self.pitch_range_deg, rng.uniform(-10, 10)],
            degrees=True,
        )
        delta = Rotation.from_euler("YXZ", rng.uniform(-1, 1, 3) * self.max_angle_deg, degrees=True)
        end = start * delta  # delta is applied in the camera frame
        angle = float(np.degrees(delta.magnitude()))
        n_sub = self.n_subframes(angle)
        blurred, frames, rots = self._render(pano, start, end, n_sub)
        meta = {
            "source": "panorama",
            "split": self.split,
            "index": i,
            "image": self.files[k].name,
            "angle_deg": angle,
            "n_subframes": n_sub,
            "blur_strength": self._strength(rots[0], rots[n_sub - 1]),
        }
        return Sample(blurred, frames, meta)

    def _render(
        self, pano: np.ndarray, start: "Rotation", end: "Rotation", n_sub: int
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Blurred ``[H, W, 3]``, targets ``[N, H, W, 3]`` and the sub-frame rotation matrices."""
        from scipy.spatial.transform import Rotation, Slerp

        n, g = self.frames, n_sub // self.frames
        times = np.linspace(0.0, 1.0, n_sub)
        centres = times.reshape(n, g).mean(axis=1)  # == a sub-frame time when g is odd
        slerp = Slerp([0.0, 1.0], Rotation.concatenate([start, end]))
        rots = slerp(np.concatenate([times, centres])).as_matrix()
        acc = np.zeros((*self.size, 4), np.float32)
        frames = np.empty((n, *self.size, 3), np.float32)
        for j in range(n_sub + (0 if g % 2 else n)):
            view = render_view(pano, self._rays, rots[j], self.size)
            if j >= n_sub:
                frames[j - n_sub] = cv2.cvtColor(view, cv2.COLOR_RGBA2RGB) * np.float32(1 / 255)
                continue
            if g % 2 and j % g == g // 2:
                frames[j // g] = cv2.cvtColor(view, cv2.COLOR_RGBA2RGB) * np.float32(1 / 255)
            if self.linear:
                view = cv2.pow(view.astype(np.float32) * np.float32(1 / 255), 2.2)
            cv2.accumulate(view, acc)
        acc *= np.float32(1.0 / n_sub) if self.linear else np.float32(1.0 / (255 * n_sub))
        if self.linear:
            acc = cv2.pow(acc, 1 / 2.2)
        blurred = cv2.cvtColor(acc, cv2.COLOR_RGBA2RGB)
        return np.clip(blurred, 0.0, 1.0, out=blurred), frames, rots

    def _strength(self, rot0: np.ndarray, rot1: np.ndarray) -> float:
        """Mean pixel displacement of a 9x9 grid of rays between the first and last sub-frame."""
        h, w = self.size
        ys, xs = np.linspace(0, h - 1, 9).astype(int), np.linspace(0, w - 1, 9).astype(int)
        rays = self._rays.reshape(h, w, 3)[np.ix_(ys, xs)].reshape(-1, 3).astype(np.float64)
        cam1 = rays @ rot0.T @ rot1  # world = R0 ray; camera-1 frame = R1^T world
        ok = cam1[:, 2] > 1e-6
        if not np.any(ok):
            return float("inf")
        p0 = rays[ok, :2] / rays[ok, 2:3]
        p1 = cam1[ok, :2] / cam1[ok, 2:3]
        return float(np.linalg.norm(p1 - p0, axis=1).mean() * self.focal)
