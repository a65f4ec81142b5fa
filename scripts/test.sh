#!/usr/bin/env bash
# Set up (idempotent), lint and type-check, then run the whole test suite against a real embedded database
# (or, with --fast, only the quick tier).
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests run in 2 pytest-xdist workers, each with its own embedded database; tests/conftest.py groups them
# (a module's tests stay on one worker, sharing its fixtures; those of a run-once session fixture, the SLURM
# cluster or the finished campaign, share one). --fast: the quick tier for every change (no set-up, lint or type
# check; no DFT, GNN, workers, notebooks or slow tests), on a venv set up before. Without it: everything, as CI.
XDIST=(-n 2 --dist loadgroup)
if [ "${1:-}" = "--fast" ]; then
    shift
    . .venv/bin/activate
    exec python -m pytest -q "${XDIST[@]}" -m "not (slow or dft or gnn or workers or notebooks)" "$@"
fi
bash scripts/setup.sh
. .venv/bin/activate
ruff check src tests
mypy
python -m pytest -q "${XDIST[@]}" "$@"
