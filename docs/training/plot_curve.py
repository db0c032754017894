"""Learning curve of stage 0 (the demo model's starting checkpoint): held-out gain over "blurred input repeated" per step.

Run from the repository root: ``python docs/training/plot_curve.py`` (needs the ``report`` extra).
Reads the four runs' ``history.json`` (copied here from their run dirs) and writes
``docs/training/learning_curve.png``. ``exp-mw3`` (middle frame weighted x3) started from step 3 750
of ``lite-n7`` and ran 10 000 steps; ``exp-mid10`` (middle weighted x10) started from its end and ran
2 000 steps; ``exp-crop160`` (160 px crops, batch 4, not shipped) ran 2 500 steps from there.
Each run's evaluations use its own seed's held-out split (16 samples at 128x128, so single points
are noisy and the runs' levels differ); the markers are ``b2v-edge eval --samples 64`` on the
common seed-0 test set of that time's synthetic source (``eval64/*.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = (("lite-n7", 0, "-"), ("exp-mw3", 3750, "--"), ("exp-mid10", 13750, "-."), ("exp-crop160", 15750, ":"))
FRAMES = ((0, "first frame", "tab:blue"), (3, "middle frame", "tab:red"), (6, "last frame", "tab:green"))


def main() -> None:
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for run, offset, style in RUNS:
        hist = json.loads((HERE / f"{run}.history.json").read_text())
        steps = [offset + e["step"] for e in hist]
        for k, label, colour in FRAMES:
            gains = [e["psnr"][k] - e["baseline_psnr"][k] for e in hist]
            ax.plot(steps, gains, style, color=colour, label=f"{label} ({run})")
    for path in sorted((HERE / "eval64").glob("step*.json")):
        step, data = int(path.name[4:9]), json.loads(path.read_text())
        for k, _, colour in FRAMES:
            ax.plot(step, data["psnr"][k] - data["baseline_psnr"][k], "o", color=colour, ms=5, mec="black")
    ax.plot([], [], "o", color="white", mec="black", label="64-sample test set (eval64/)")
    ax.axhline(2.0, color="tab:red", lw=0.8, ls=":", label="bar: middle +2 dB")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="bar: first/last +1 dB")
    ax.axvline(3250, color="black", lw=0.6, ls=":")
    ax.text(3300, -0.15, "synthetic jitter fix", fontsize=7)
    ax.set_xlabel("optimisation step (batch 8 at 96x96; exp-crop160: batch 4 at 160x160)")
    ax.set_ylabel("PSNR gain over blurred input repeated (dB)")
    ax.set_title("demo model (lite, N=7): held-out gain per frame position")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(HERE / "learning_curve.png")


if __name__ == "__main__":
    main()
