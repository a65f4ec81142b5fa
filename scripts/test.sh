#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite against a real embedded database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest -q "$@"
