"""Before/after strips of a checkpoint on held-out photos (the test split of ``--data``).

The default data is the test split of the Debian photos fetched by ``docs/training/fetch_photos.sh``
into ``data/photos``: the demo model never trained on them. Writes two PNGs into ``--out`` (default
``docs/training/strips``):

* ``middle.png`` — one row per photo (up to ``--photos``): blurred input | restored middle frame | ground-truth middle
  frame, each followed by a 2x zoom of its centre, with the PSNR of input and restored middle frame
  against the ground truth;
* ``sequence.png`` — for one photo: the blurred input, then the N restored frames over the N
  ground-truth frames.

Usage::

    python docs/training/make_strips.py --checkpoint demo --size 256 --data photos:data/photos
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Sequence

import cv2
import numpy as np
import torch

from b2v_edge.checkpoint import load_checkpoint
from b2v_edge.common.metrics import psnr
from b2v_edge.data.torch_dataset import make_source


def _u8(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _zoom(img: np.ndarray, factor: int = 2) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = h // (2 * factor), w // (2 * factor)
    crop = img[h // 2 - ch : h // 2 + ch, w // 2 - cw : w // 2 + cw]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_NEAREST)


def _gap(h: int, w: int = 4) -> np.ndarray:
    return np.full((h, w, 3), 255, np.uint8)


def _row(images: Sequence[np.ndarray]) -> np.ndarray:
    h = images[0].shape[0]
    parts: List[np.ndarray] = []
    for img in images:
        parts += [img, _gap(h)]
    return np.concatenate(parts[:-1], axis=1)


def _samples(data: str, frames: int, size: int, seed: int, photos: int):
    """The first test sample of each of the first ``photos`` distinct photos of ``data``."""
    source = make_source(data, frames=frames, split="test", size=(size, size), seed=seed, command="eval")
    seen, out = set(), []
    for i in range(min(len(source), 64 * photos)):
        sample = source[i]
        name = sample.meta.get("image", str(i))
        if name not in seen:
            seen.add(name)
            out.append(sample)
        if len(out) == photos:
            break
    return out


def middle_strip(model: torch.nn.Module, samples: list) -> np.ndarray:
    rows = []
    for s in samples:
        x = torch.from_numpy(s.blurred).permute(2, 0, 1)[None]
        with torch.no_grad():
            pred = model(x)[0].permute(0, 2, 3, 1).numpy()
        m = s.frames.shape[0] // 2
        restored, truth = pred[m], s.frames[m]
        tiles = []
        for img, name in (
            (s.blurred, f"input {psnr(s.blurred, truth):.2f} dB"),
            (restored, f"restored {psnr(restored, truth):.2f} dB"),
            (truth, "ground truth"),
        ):
            tiles += [_label(_u8(img), name), _zoom(_u8(img))]
        rows.append(_row(tiles))
    width = rows[0].shape[1]
    parts: List[np.ndarray] = []
    for r in rows:
        parts += [r, np.full((4, width, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=0)


def sequence_strip(model: torch.nn.Module, sample) -> np.ndarray:
    x = torch.from_numpy(sample.blurred).permute(2, 0, 1)[None]
    with torch.no_grad():
        pred = model(x)[0].permute(0, 2, 3, 1).numpy()
    n = pred.shape[0]
    blank = np.full_like(_u8(sample.blurred), 255)
    top = _row([_label(_u8(sample.blurred), "input")] + [_label(_u8(pred[k]), f"restored {k + 1}") for k in range(n)])
    bottom = _row([blank] + [_label(_u8(sample.frames[k]), f"truth {k + 1}") for k in range(n)])
    return np.concatenate([top, np.full((4, top.shape[1], 3), 255, np.uint8), bottom], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="photos:data/photos")
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "strips"))
    args = parser.parse_args()
    ck = load_checkpoint(args.checkpoint)
    samples = _samples(args.data, ck.config.frames, args.size, args.seed, args.photos)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "middle.png"), middle_strip(ck.model, samples))
    small = _samples(args.data, ck.config.frames, args.size // 2, args.seed, 1)
    cv2.imwrite(str(out / "sequence.png"), sequence_strip(ck.model, small[0]))
    print(f"wrote {out / 'middle.png'} and {out / 'sequence.png'}")


if __name__ == "__main__":
    main()
