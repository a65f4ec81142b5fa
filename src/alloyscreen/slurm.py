"""The SLURM job this process runs in, and what the queue says of a job.

Outside a SLURM job (``SLURM_JOB_ID`` unset) :func:`job_id` and
:func:`allocated_cores` return None; without a working ``squeue``,
:func:`squeue` and :func:`job_gone` return None.
"""

from __future__ import annotations

import os
import re
import subprocess

ALIVE_STATES = frozenset({"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED"})
SQUEUE_TIMEOUT_S = 30.0
_COUNT = re.compile(r"\s*(\d+)")


def job_id() -> str | None:
    """Return the id of the SLURM job this process runs in (``SLURM_JOB_ID``), or None outside SLURM."""
    return os.environ.get("SLURM_JOB_ID") or None


def allocated_cores() -> int | None:
    """Return the CPU cores SLURM allocated to this process's job on this node, or None outside a SLURM job.

    ``SLURM_CPUS_ON_NODE``, else the first count of ``SLURM_JOB_CPUS_PER_NODE``
    (``"4(x2),2"`` -> 4); None when neither holds a positive count.
    """
    if job_id() is None:
        return None
    for name in ("SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"):
        count = _COUNT.match(os.environ.get(name, ""))
        if count and int(count.group(1)) > 0:
            return int(count.group(1))
    return None


def squeue(job: str, field: str) -> str | None:
    """Return ``squeue -h -j JOB -o FIELD``, stripped: "" when the queue does not know the job, None when it cannot say.

    None: no ``squeue``, no answer within ``SQUEUE_TIMEOUT_S``, or another error
    (no controller, no configuration).
    """
    try:
        answer = subprocess.run(["squeue", "-h", "-j", job, "-o", field], capture_output=True, text=True,
                                timeout=SQUEUE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    if answer.returncode == 0:
        return answer.stdout.strip()
    return "" if "Invalid job id" in answer.stderr else None


def job_gone(job: str) -> bool | None:
    """Return whether SLURM job ``job`` has ended (unknown to the queue, or not in ``ALIVE_STATES``), or None."""
    state = squeue(job, "%T")
    return None if state is None else state not in ALIVE_STATES
