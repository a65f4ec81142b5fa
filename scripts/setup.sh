#!/usr/bin/env bash
# Install everything alloyscreen needs on a fresh Debian machine: Quantum ESPRESSO, a local SLURM (for the
# cluster tests, scripts/slurm.sh) and a Python venv.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=""
apt_install() {  # apt_install PACKAGE...: install with apt (one `apt-get update` per run)
    [ -n "$APT_UPDATED" ] || { $SUDO apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
command -v pw.x >/dev/null 2>&1 || apt_install quantum-espresso
# A one-node SLURM for tests and trials (scripts/slurm.sh start): controller, node daemon, client, munge.
missing=""
for package in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing="$missing $package"
done
[ -z "$missing" ] || apt_install $missing

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch first: an unpinned torch would pull several GB of CUDA packages.
python -m pip install -q torch==2.13.0
python -m pip install -q -c constraints.txt -e ".[dev]"
