"""Figures of a parity report: the per-frame-position PSNR plot and the labelled image strips.

Both return PNG bytes. The plot needs matplotlib (``b2v-edge[report]``); strips need only OpenCV.
Images are float RGB ``[H, W, 3]`` in [0, 1]; frame positions are 1-based on the plot's x axis.
"""

from __future__ import annotations

import io
import math
from typing import Any, Dict

import numpy as np

__all__ = ["diff_gain", "image_strip", "psnr_plot_png"]


MIN_TILE = 200  # px: narrower images are zoomed (nearest) so labels fit


STRIP_LABELS = {
    "input": "input (blurred)",
    "pytorch": "PyTorch",
    "engine": "engine",
    "diff": "|diff|",
    "gt": "ground truth",
}


def psnr_plot_png(report: Any) -> bytes:
    """Per-frame-position PSNR: engine vs PyTorch (with thresholds) and, with GT, every row vs GT."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    checked = [a for a in report.artifacts if a.psnr_vs_torch]
    xs = np.arange(1, report.frames + 1)
    fig, axes = plt.subplots(1, 2 if report.has_gt else 1, figsize=(11 if report.has_gt else 6, 3.8), squeeze=False)
    ax = axes[0][0]
    for i, a in enumerate(checked):
        color = f"C{i}"
        ax.plot(xs, a.psnr_vs_torch, "o-", color=color, label=f"{a.path} (mean)")
        ax.plot(xs, a.psnr_vs_torch_min, ":", color=color, alpha=0.7, label=f"{a.path} (worst sample)")
        ax.axhline(a.min_psnr, color=color, ls="--", lw=1, alpha=0.6)
    ax.set(title="engine vs PyTorch (dashed: thresholds)", xlabel="frame position", ylabel="PSNR (dB)", xticks=xs)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if report.has_gt:
        ax = axes[0][1]
        ax.plot(xs, report.reference.psnr_gt, "s-", color="black", lw=2, label="PyTorch")
        for i, a in enumerate(checked):
            if a.psnr_gt:
                ax.plot(xs, a.psnr_gt, "o--", color=f"C{i}", label=a.path)
        ax.set(title="vs ground truth (order-aware)", xlabel="frame position", ylabel="PSNR (dB)", xticks=xs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def diff_gain(diff: np.ndarray) -> float:
    """Amplification (1-2-5 series, 1 .. 1e6) that maps the 99th-percentile |diff| to about 0.8."""
    level = float(np.percentile(diff, 99)) if diff.size else 0.0
    if level <= 0.0:
        level = float(np.max(diff)) if diff.size else 0.0
    if level <= 0.0:
        return 1.0
    target = 0.8 / level
    decade = 10.0 ** math.floor(math.log10(target))
    nice = max(m * decade for m in (1, 2, 5) if m * decade <= target)
    return float(min(1e6, max(1.0, nice)))


def image_strip(images: Dict[str, np.ndarray], precision: str = "") -> bytes:
    """PNG of ``input | PyTorch | engine | amplified |diff| | GT`` (GT when present), labelled."""
    import cv2

    diff = np.abs(images["engine"].astype(np.float32) - images["pytorch"]).mean(axis=-1)
    gain = diff_gain(diff)
    tiles = {k: images[k] for k in ("input", "pytorch", "engine")}
    tiles["diff"] = np.repeat(np.clip(diff * gain, 0, 1)[..., None], 3, axis=-1)
    if images.get("gt") is not None:
        tiles["gt"] = images["gt"]
    zoom = max(1, -(-MIN_TILE // images["input"].shape[1]))  # small inputs: nearest-neighbour zoom
    h, w = images["input"].shape[0] * zoom, images["input"].shape[1] * zoom
    bar = 22
    cols = []
    for key, img in tiles.items():
        label = STRIP_LABELS[key] + (
            f" x{gain:,.0f}" if key == "diff" else f" ({precision})" if key == "engine" and precision else ""
        )
        tile = np.full((h + bar, w, 3), 255, np.uint8)
        pixels = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[:, :, ::-1]
        tile[bar:] = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_NEAREST) if zoom > 1 else pixels
        cv2.putText(tile, label, (4, bar - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        cols += [tile, np.full((h + bar, 4, 3), 255, np.uint8)]
    ok, png = cv2.imencode(".png", np.hstack(cols[:-1]))
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 BGR
        raise RuntimeError("could not encode the image strip as PNG")
    return png.tobytes()
