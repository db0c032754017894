#!/usr/bin/env python
"""PyTorch training step time of both generations (forward, L1 loss, backward, Adam step).

The demo checkpoint's model (lite, N=7) with each generation's code, batch 8 at 96x96 (the
``train`` defaults), one process per generation, interleaved rounds (``bench/rounds.py``). Writes
``bench/raw/train_step.json`` with every step time and the load average.

Usage: ``nice -n 10 python bench/train_step.py [--threads 2] [--rounds 6] [--per-round 2]``
"""

from __future__ import annotations

import argparse
import json
import sys

import generations as G
from rounds import Row, run_rounds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--per-round", type=int, default=2)
    args = p.parse_args(argv)
    measured = [Row(f"{g} train step", g, "train", str(G.demo(g))) for g in G.GENERATIONS]
    record = run_rounds(measured, args.threads, args.rounds, args.per_round, log=lambda m: print(m, file=sys.stderr))
    record["batch"], record["crop"] = 8, 96
    record["commits"] = {g: G.commit(g) for g in G.GENERATIONS}
    G.RAW.mkdir(parents=True, exist_ok=True)
    (G.RAW / "train_step.json").write_text(json.dumps(record, indent=1) + "\n")
    for row in record["rows"]:
        print(f"{row['label']:20s} {row['median_ms']:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
