#!/bin/sh
# Every bench table from scratch: export both generations, count nodes, time, profile, report.
# Usage: bench/make_all.sh [PYTHON]   (default: .venv/bin/python, else python)
# The timing steps run under nice; on a shared machine the tables print the load they ran under.
# Exports in bench/.work are reused (each records its commit): delete bench/.work to re-export.
set -eu
cd "$(dirname "$0")"
PY="${1:-}"
if [ -z "$PY" ]; then
    if [ -x ../.venv/bin/python ]; then PY=../.venv/bin/python; else PY=python; fi
fi
"$PY" export_generations.py
"$PY" count_nodes.py
"$PY" parity.py
OMP_NUM_THREADS=2 nice -n 10 "$PY" gemm.py --threads 2
nice -n 10 "$PY" latency.py --threads 2
nice -n 10 "$PY" demo.py --threads 2
nice -n 10 "$PY" ort_profile.py --threads 2
nice -n 10 "$PY" train_step.py --threads 2
"$PY" report.py
