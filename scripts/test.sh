#!/usr/bin/env bash
# Set up (idempotent), lint and type-check, then run the whole test suite against a real embedded database
# (or, with --fast, only the quick tier).
set -euo pipefail
cd "$(dirname "$0")/.."
# --fast: the quick tier for every change (no set-up, lint or type check; no DFT, GNN, workers, notebooks or
# slow tests), on a venv set up before, in 2 pytest-xdist workers (each its own embedded database; a module's
# tests stay on one worker, sharing its fixtures). Without it: everything, in one process, as CI runs it.
if [ "${1:-}" = "--fast" ]; then
    shift
    . .venv/bin/activate
    exec python -m pytest -q -n 2 --dist loadgroup -m "not (slow or dft or gnn or workers or notebooks)" "$@"
fi
bash scripts/setup.sh
. .venv/bin/activate
ruff check src tests
mypy
python -m pytest -q "$@"
