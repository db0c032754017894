"""Learning curves of the whole-model stages trained on top of a middle path, and their table.

Run from the repository root: ``python docs/training/plot_stages.py`` (needs the ``report`` extra).
Reads ``docs/training/stages/stages.json`` (each run's name, the run or middle-path arm it starts
from, what it does and its exact command) and the runs' ``history.json`` files copied next to it
(``stages/<name>.history.json``), and writes

* ``docs/training/stages.png`` — the middle frame's gain and the first/last frames' mean gain over
  "blurred input repeated" on the validation photos, per optimisation step counted from the end of
  the middle path, one curve per run (a run starts where the run it continues ended; one colour per
  middle path);
* ``docs/training/stages.md`` — per run: steps, both gains at the end (mean of the last evaluations)
  and what the run does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
STAGES = HERE / "stages"
WINDOW = 4
LINESTYLES = ("-", "--", ":", "-.")


def gains(entry: Dict) -> List[float]:
    """Per-frame PSNR gain over the baseline at one evaluation."""
    return [p - b for p, b in zip(entry["psnr"], entry["baseline_psnr"])]


def middle_gain(entry: Dict) -> float:
    g = gains(entry)
    return g[len(g) // 2]


def ends_gain(entry: Dict) -> float:
    g = gains(entry)
    return (g[0] + g[-1]) / 2


def end_mean(values: List[float], window: int = WINDOW) -> float:
    """Mean of the last ``window`` values (a run's level at its end, less noisy than its last point)."""
    tail = values[-window:]
    return sum(tail) / len(tail)


def offsets(runs: List[Dict], histories: Dict[str, List[Dict]]) -> Dict[str, int]:
    """Step at which each run starts: 0 on a middle path, else where the run it continues ended."""
    out: Dict[str, int] = {}
    by_name = {run["name"]: run for run in runs}

    def start(name: str) -> int:
        if name not in out:
            after = by_name[name]["after"]
            out[name] = start(after) + histories[after][-1]["step"] if after in by_name else 0
        return out[name]

    for run in runs:
        start(run["name"])
    return out


def root(runs: List[Dict], name: str) -> str:
    """The middle-path arm a run's chain of stages starts from."""
    by_name = {run["name"]: run for run in runs}
    while name in by_name:
        name = by_name[name]["after"]
    return name


def table(runs: List[Dict], histories: Dict[str, List[Dict]]) -> str:
    """Markdown table: run, what it starts from, steps, end gains (middle, first/last), what it does."""
    lines = [
        "| run | starts from | steps | middle gain at the end (dB) | first/last gain at the end (dB) | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        hist = histories[run["name"]]
        middle = end_mean([middle_gain(e) for e in hist])
        ends = end_mean([ends_gain(e) for e in hist])
        lines.append(
            f"| `{run['name']}` | `{run['after']}` | {hist[-1]['step']} | {middle:+.3f} | {ends:+.3f} | {run['change']} |"
        )
    return "\n".join(lines) + "\n"


def load() -> Tuple[List[Dict], Dict[str, List[Dict]]]:
    """The runs of ``stages/stages.json`` and the committed history of each."""
    runs = json.loads((STAGES / "stages.json").read_text())
    histories = {run["name"]: json.loads((STAGES / f"{run['name']}.history.json").read_text()) for run in runs}
    return runs, histories


def main() -> None:
    runs, histories = load()
    start = offsets(runs, histories)
    roots = list(dict.fromkeys(root(runs, run["name"]) for run in runs))
    seen: Dict[str, int] = {}
    fig, (ax_mid, ax_ends) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110, sharex=True)
    for run in runs:
        hist = histories[run["name"]]
        steps = [start[run["name"]] + e["step"] for e in hist]
        chain = root(runs, run["name"])
        style = {
            "color": f"C{roots.index(chain)}",
            "linestyle": LINESTYLES[seen.get(chain, 0) % len(LINESTYLES)],
            "marker": ".",
            "ms": 3,
        }
        seen[chain] = seen.get(chain, 0) + 1
        ax_mid.plot(steps, [middle_gain(e) for e in hist], label=run["name"], **style)
        ax_ends.plot(steps, [ends_gain(e) for e in hist], **style)
    ax_mid.set_ylabel("middle-frame gain over blurred input (dB)")
    ax_ends.set_ylabel("first/last-frame gain over blurred input (dB)")
    for ax in (ax_mid, ax_ends):
        ax.set_xlabel("optimisation step after the middle path (batch 8)")
        ax.grid(alpha=0.3)
    ax_mid.legend(fontsize=7, loc="lower right")
    fig.suptitle("whole-model stages on a middle path: validation photos, 128x128")
    fig.tight_layout()
    fig.savefig(HERE / "stages.png")
    (HERE / "stages.md").write_text(table(runs, histories), encoding="utf-8")
    print(f"wrote {HERE / 'stages.png'} and {HERE / 'stages.md'}")


if __name__ == "__main__":
    main()
