#!/usr/bin/env bash
# Set up (idempotent), lint and type-check, then run the whole test suite against a real embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check src tests
mypy
python -m pytest -q "$@"
