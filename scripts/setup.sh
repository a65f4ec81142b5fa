#!/usr/bin/env bash
# Install everything alloyscreen needs on a fresh Debian machine: Quantum ESPRESSO, GPAW, a local SLURM (for the
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
# GPAW (calculator "gpaw", run as `gpaw python` beside the venv: GPL-3, never imported) and its PAW setups.
command -v gpaw >/dev/null 2>&1 && [ -d /usr/share/gpaw-setups ] || apt_install gpaw gpaw-data
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
# jobflow-remote (`alloyscreen submit --engine jobflow-remote`): every release pins pymongo<4.11, the project pins
# pymongo 4.16 (constraints.txt). It runs on 4.16 (measured: submit, runner, `jf` CLI on the embedded server),
# so it and its own dependencies go in without pip's resolver; fabric's invoke and paramiko come with maggma
# (constraints.txt) above.
python -m pip install -q --no-deps jobflow-remote==1.0.1 fabric==3.2.3 flufl.lock==9.2.0 atpublic==9.0.0 \
    qtoolkit==0.1.7 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 schedule==1.2.2 supervisor==4.3.0 \
    tomlkit==0.15.2 typer==0.29.2 shellingham==1.5.4 decorator==5.3.1 deprecated==1.3.1 annotated-doc==0.0.7 \
    wrapt==2.5.2
