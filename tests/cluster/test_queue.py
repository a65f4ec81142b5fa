"""What the real queue of ``scripts/slurm.sh`` says of jobs, and the cores it allocates."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from alloyscreen.slurm import job_gone

pytestmark = pytest.mark.workers


def test_the_queue_says_a_job_is_gone_once_cancelled_and_a_job_step_sees_its_allocation(slurm):
    job = subprocess.run(["sbatch", "--parsable", "-o", "/dev/null", "--wrap", "sleep 120"], capture_output=True,
                         text=True, timeout=60, check=True).stdout.strip().split(";")[0]
    try:
        assert job_gone(job) is False  # PENDING or RUNNING
    finally:
        subprocess.run(["scancel", job], check=True, timeout=60)
    deadline = time.monotonic() + 30
    while not job_gone(job) and time.monotonic() < deadline:  # COMPLETING for a moment
        time.sleep(0.2)
    assert job_gone(job) is True
    assert job_gone("999999999") is True  # never known: "Invalid job id specified"
    cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, timeout=60,
                          check=True).stdout.split()[0]  # the node's CPUs: the whole node for one job step
    step = subprocess.run(["srun", "-c", cpus, "--time", "1", sys.executable, "-c",
                           "from alloyscreen.slurm import allocated_cores; print(allocated_cores())"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert step.stdout.strip() == cpus
