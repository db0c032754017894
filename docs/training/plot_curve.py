"""Learning curve of the shipped demo model: held-out gain over "blurred input repeated" per step.

Run from the repository root: ``python docs/training/plot_curve.py`` (needs the ``report`` extra).
Reads the two runs' ``history.json`` (copied here from their run dirs) and writes
``docs/training/learning_curve.png``. The fine-tune run (``exp-mw3``) started from step 3 750 of
``lite-n7``; its evaluations use the seed-1 held-out split, those of ``lite-n7`` the seed-0 split
(16 samples at 128x128 each, so single points are noisy).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = (("lite-n7", 0, "-"), ("exp-mw3", 3750, "--"))
FRAMES = ((0, "first frame"), (3, "middle frame"), (6, "last frame"))


def main() -> None:
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for run, offset, style in RUNS:
        hist = json.loads((HERE / f"{run}.history.json").read_text())
        steps = [offset + e["step"] for e in hist]
        for (k, label), colour in zip(FRAMES, ("tab:blue", "tab:red", "tab:green")):
            gains = [e["psnr"][k] - e["baseline_psnr"][k] for e in hist]
            ax.plot(steps, gains, style, color=colour, label=f"{label} ({run})")
    ax.axhline(2.0, color="tab:red", lw=0.8, ls=":", label="bar: middle +2 dB")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="bar: first/last +1 dB")
    ax.axvline(3250, color="black", lw=0.6, ls=":")
    ax.text(3300, -0.15, "synthetic jitter fix", fontsize=7)
    ax.set_xlabel("optimisation step (batch 8, 96x96 crops)")
    ax.set_ylabel("PSNR gain over blurred input repeated (dB)")
    ax.set_title("demo model (lite, N=7): held-out gain per frame position")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(HERE / "learning_curve.png")


if __name__ == "__main__":
    main()
