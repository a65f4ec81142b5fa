#!/usr/bin/env bash
# Set up (idempotent) and run the main job: the demo campaign on the embedded database,
# then print its best candidates and write its HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
SPEC=${1:-flows/demo.yaml}
alloyscreen db start
alloyscreen db init
alloyscreen db status
CAMPAIGN=$(alloyscreen run "$SPEC")
alloyscreen status "$CAMPAIGN"
alloyscreen top "$CAMPAIGN"
alloyscreen report "$CAMPAIGN" -o "${CAMPAIGN}-report.html"
