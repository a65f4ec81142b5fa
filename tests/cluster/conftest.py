"""A one-node SLURM cluster for the session (``scripts/slurm.sh``).

Without SLURM installed the cluster tests are skipped, saying so; with SLURM
installed (``scripts/setup.sh`` installs it, so CI has it) a cluster that does
not start fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def slurm() -> Iterator[dict[str, str]]:
    """Start SLURM (or use the one ``scripts/slurm.sh start`` left running); yield the environment to reach it."""
    if shutil.which("slurmctld") is None and not Path("/usr/sbin/slurmctld").exists():
        pytest.skip("SLURM is not installed (no slurmctld on PATH): `bash scripts/setup.sh` installs Debian's "
                    "slurmctld, slurmd, slurm-client and munge")
    started = time.monotonic()
    result = subprocess.run(["bash", str(REPO / "scripts" / "slurm.sh"), "start"], capture_output=True, text=True,
                            timeout=180)
    if result.returncode != 0:
        line = (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}").splitlines()[0]
        pytest.fail(f"SLURM is installed but scripts/slurm.sh start failed: {line}", pytrace=False)
    conf = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("SLURM_CONF="))
    print(f"\nSLURM up in {time.monotonic() - started:.1f} s: {result.stdout.splitlines()[0]}")
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    yield {"SLURM_CONF": conf}
    if "already running" not in result.stdout:  # leave a cluster someone else started
        subprocess.run(["bash", str(REPO / "scripts" / "slurm.sh"), "stop"], capture_output=True, timeout=120)
    if saved is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = saved

