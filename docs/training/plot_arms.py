"""Learning curves of the middle-path recipe search, and their table.

Run from the repository root: ``python docs/training/plot_arms.py`` (needs the ``report`` extra).
Reads ``docs/training/arms/arms.json`` (each arm's name, what it changes and its exact command) and
the arms' ``history.json`` files copied next to it (``arms/<name>.history.json``), and writes

* ``docs/training/arms.png`` — middle-frame gain over "blurred input repeated" on the validation
  photos per optimisation step, one curve per arm (a running mean of 5 evaluations over the
  raw points);
* ``docs/training/arms.md`` — per arm: steps, the gain at the end (mean of the last 5 evaluations),
  the best evaluation and what the arm changes.

Every arm trains the encoder and the middle decoder alone (``--stage middle``) from scratch with the
same seed, data stream and schedule unless its row says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
ARMS = HERE / "arms"
WINDOW = 5


def middle_gains(history: List[Dict]) -> List[float]:
    """Middle-frame PSNR gain over the baseline at every evaluation of a run."""
    return [e["psnr"][len(e["psnr"]) // 2] - e["baseline_psnr"][len(e["psnr"]) // 2] for e in history]


def running_mean(values: List[float], window: int = WINDOW) -> List[float]:
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1) : i + 1]
        out.append(sum(part) / len(part))
    return out


def table(arms: List[Dict], histories: Dict[str, List[Dict]]) -> str:
    """Markdown table: arm, steps, end gain (mean of the last evaluations), best gain, change."""
    lines = [
        "| arm | steps | middle gain at the end (dB) | best evaluation (dB) | what it changes |",
        "|---|---|---|---|---|",
    ]
    for arm in arms:
        hist = histories.get(arm["name"])
        if not hist:
            continue
        gains = middle_gains(hist)
        end = sum(gains[-WINDOW:]) / len(gains[-WINDOW:])
        lines.append(f"| `{arm['name']}` | {hist[-1]['step']} | {end:+.3f} | {max(gains):+.3f} | {arm['change']} |")
    return "\n".join(lines) + "\n"


def load() -> Tuple[List[Dict], Dict[str, List[Dict]]]:
    """The arms of ``arms/arms.json`` and the committed history of each (arms without one are left out).

    An arm branched off another run's checkpoint (``"from_step"`` in arms.json) carries that run's
    history up to the branch point; only its own evaluations, after ``from_step``, are kept.
    """
    arms = json.loads((ARMS / "arms.json").read_text())
    histories = {}
    for arm in arms:
        path = ARMS / f"{arm['name']}.history.json"
        if path.exists():
            hist = json.loads(path.read_text())
            histories[arm["name"]] = [e for e in hist if e["step"] > arm.get("from_step", -1)]
    return arms, histories


def main() -> None:
    arms, histories = load()
    fig, ax = plt.subplots(figsize=(8, 4.4), dpi=110)
    for arm in arms:
        hist = histories.get(arm["name"])
        if not hist:
            continue
        steps = [e["step"] for e in hist]
        gains = middle_gains(hist)
        line = ax.plot(steps, running_mean(gains), label=arm["name"])[0]
        ax.plot(steps, gains, ".", color=line.get_color(), ms=2, alpha=0.35)
    ax.set_xlabel("optimisation step (batch 8)")
    ax.set_ylabel("middle-frame gain over blurred input (dB)")
    ax.set_title("middle-path recipe search: validation photos, 128x128")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(HERE / "arms.png")
    (HERE / "arms.md").write_text(table(arms, histories), encoding="utf-8")
    print(f"wrote {HERE / 'arms.png'} and {HERE / 'arms.md'}")


if __name__ == "__main__":
    main()
