"""Interleaved timing rounds over worker processes (``bench/worker.py``), and the load they ran under.

Every row is a process kept open for the whole run. Each round times every row ``per_round``
times, the row order rotating from round to round, so a slow phase of the (shared) machine hits
every row alike. Results carry every latency, the per-round medians and the median.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import generations as G
import numpy as np


@dataclass
class Row:
    """One measured row: ``kind`` as in ``bench/worker.py``, run with ``generation``'s code."""

    label: str
    generation: str
    kind: str
    path: str
    warp: str = "-"
    info: Dict[str, Any] = field(default_factory=dict)
    latencies_ms: List[float] = field(default_factory=list)
    round_medians_ms: List[float] = field(default_factory=list)
    _proc: Optional[subprocess.Popen] = None

    def start(self, threads: int) -> None:
        cmd = G.python_cmd(self.generation, str(G.HERE / "worker.py"), self.kind, self.path, str(threads))
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=G.nice_env(threads), cwd=G.REPO
        )
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label}: the worker ended before it was ready")
        self.info = json.loads(line)

    def time(self, runs: int) -> List[float]:
        self._proc.stdin.write(f"{runs}\n")
        self._proc.stdin.flush()
        return json.loads(self._proc.stdout.readline())

    def stop(self) -> None:
        if self._proc is not None:
            try:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.close()
            except OSError:
                pass
            self._proc.wait(timeout=30)
            self._proc = None

    def to_dict(self) -> Dict[str, Any]:
        lat = self.latencies_ms
        return {
            "label": self.label,
            "generation": self.generation,
            "kind": self.kind,
            "warp": self.warp,
            "path": self.path,
            "info": self.info,
            "median_ms": float(np.median(lat)) if lat else None,
            "p10_ms": float(np.percentile(lat, 10)) if lat else None,
            "p90_ms": float(np.percentile(lat, 90)) if lat else None,
            "round_medians_ms": self.round_medians_ms,
            "latencies_ms": lat,
        }


def run_rounds(rows: List[Row], threads: int, rounds: int, per_round: int, log=print) -> Dict[str, Any]:
    """Start every row, time ``rounds`` interleaved rounds, stop them; returns the run record."""
    load = {"before": list(os.getloadavg())}
    try:
        for row in rows:
            log(f"starting {row.label}")
            row.start(threads)
        for r in range(rounds):
            shift = r % len(rows)
            for row in rows[shift:] + rows[:shift]:
                times = row.time(per_round)
                row.latencies_ms += times
                row.round_medians_ms.append(float(np.median(times)))
            log(f"round {r + 1}/{rounds}: " + ", ".join(f"{x.label} {x.round_medians_ms[-1]:.0f}" for x in rows))
    finally:
        for row in rows:
            row.stop()
    load["after"] = list(os.getloadavg())
    return {
        "threads": threads,
        "rounds": rounds,
        "per_round": per_round,
        "loadavg": load,
        "cpu": _cpu(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "nice": os.nice(0),
        "rows": [row.to_dict() for row in rows],
    }


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
