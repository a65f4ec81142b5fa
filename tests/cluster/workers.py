"""FireWorks' ``qlaunch`` workers on the local SLURM of ``scripts/slurm.sh``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from alloyscreen.db.client import get_database, resolve_uri
from alloyscreen.db.stores import write_launchpad_file
from alloyscreen.settings import get_settings

BIN = Path(sys.executable).parent


def user() -> str:
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


def squeue(*args: str) -> list[str]:
    """Lines of ``squeue -h`` for this user (job id first), with extra arguments."""
    result = subprocess.run(["squeue", "-h", "--user", user(), "-o", "%i %j %T", *args], capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout.split("\n")[:-1]


class QueueWorkers:
    """``qlaunch -r rapidfire`` processes, one per FireWorks worker (name -> category), on the local SLURM."""

    def __init__(self, root: Path, workers: dict[str, str], max_jobs_in_queue: int = 2, walltime: str = "00:10:00",
                 reserve: bool = True):
        self.root = root
        self.workers = workers
        self.max_jobs_in_queue = max_jobs_in_queue
        self.walltime = walltime
        self.reserve = reserve
        self.launchpad_file = write_launchpad_file(root / "my_launchpad.yaml")
        # qlaunch sleeps QUEUE_UPDATE_INTERVAL (default 5 s) after every submission: 1 s here, for a quick test.
        # A job killed while it holds FireWorks' workflow lock (checkout and completion refresh the workflow
        # under it) leaves the workflow locked: every other rlaunch of it then waits WFLOCK_EXPIRATION_SECS
        # (300 s) and fails, unless WFLOCK_EXPIRATION_KILL lets it take the lock over.
        self.fw_config = root / "FW_config.yaml"
        self.fw_config.write_text(yaml.safe_dump({"QUEUE_UPDATE_INTERVAL": 1, "WFLOCK_EXPIRATION_SECS": 10,
                                                  "WFLOCK_EXPIRATION_KILL": True}))
        self.processes: list[subprocess.Popen] = []

    def files(self, name: str) -> tuple[Path, Path]:
        """Write the fworker and queue adapter files of worker ``name``; return their paths."""
        settings = get_settings()
        directory = self.root / name
        directory.mkdir(exist_ok=True)
        fworker = directory / "my_fworker.yaml"
        fworker.write_text(yaml.safe_dump({"name": name, "category": self.workers[name], "query": "{}"}))
        qadapter = directory / "my_qadapter.yaml"
        qadapter.write_text(yaml.safe_dump({
            "_fw_name": "CommonAdapter", "_fw_q_type": "SLURM", "queue": "debug",
            "nodes": 1, "ntasks": 1, "walltime": self.walltime, "job_name": name,
            # Absolute paths: the job script runs `bash -l`, which resets PATH from /etc/profile.
            "rocket_launch": f"{BIN / 'rlaunch'} -l {self.launchpad_file} -w {fworker} singleshot",
            # The job names its database itself, as on a real cluster (a job without it would start its own).
            "pre_rocket": "\n".join([f"export ALLOYSCREEN_MONGO_URI='{resolve_uri(settings)}'",
                                     f"export ALLOYSCREEN_DB_NAME='{settings.db_name}'",
                                     f"export ALLOYSCREEN_DATA_DIR='{settings.data_dir}'",
                                     f"export FW_CONFIG_FILE='{self.fw_config}'",
                                     "export OMP_NUM_THREADS=1 PYTHONFAULTHANDLER=1"]),
        }))
        return fworker, qadapter

    def start(self, timeout: float) -> None:
        """Start one ``qlaunch [-r] rapidfire`` per worker, at most ``max_jobs_in_queue`` jobs queued."""
        env = {**os.environ, "FW_CONFIG_FILE": str(self.fw_config)}
        for name in self.workers:
            fworker, qadapter = self.files(name)
            log = (self.root / name / "qlaunch.log").open("a")
            self.processes.append(subprocess.Popen(
                [str(BIN / "qlaunch"), *(["-r"] if self.reserve else []), "-l", str(self.launchpad_file),
                 "-w", str(fworker), "-q", str(qadapter),
                 "--launch_dir", str(self.root / name), "rapidfire", "--nlaunches", "infinite",
                 "-m", str(self.max_jobs_in_queue), "--sleep", "1", "--timeout", str(int(timeout))],
                cwd=self.root / name, env=env, stdout=log, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        """Stop the qlaunch processes (jobs already in the queue keep running)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            process.wait(timeout=60)
        self.processes = []

    def cancel_jobs(self) -> None:
        """Cancel the SLURM jobs these workers submitted (each one a Firework's reservation) that still run."""
        jobs = get_database()["launches"].distinct("state_history.reservation_id")
        if jobs:
            subprocess.run(["scancel", *map(str, jobs)], capture_output=True, timeout=60)

    def submitted_jobs(self) -> int:
        """SLURM jobs submitted so far: one ``launcher_*`` directory each (qlaunch rapidfire makes one per job)."""
        return len(list(self.root.glob("*/block_*/launcher_*")))

    def stuck_jobs(self) -> str:
        """Where the jobs still running are: a SIGABRT makes Python print its stack (PYTHONFAULTHANDLER)."""
        jobs = [line.split()[0] for line in squeue() if line.split()[-1] == "RUNNING"]
        for job in jobs:
            subprocess.run(["scancel", "--full", "--signal=ABRT", job], capture_output=True, timeout=60)
        time.sleep(3)
        return f"jobs {jobs} aborted; their stderr:\n{self.job_logs(tail=25)}"

    def job_logs(self, tail: int = 3) -> str:
        """The last lines of every job's stderr, for a failure message."""
        lines = []
        for path in sorted(self.root.glob("*/block_*/launcher_*/*.error")):
            text = path.read_text().strip().splitlines()[-tail:]
            if text:
                lines.append(f"{path.parent.name}/{path.name}: " + " | ".join(text))
        return "\n".join(lines[-10:])


@contextmanager
def queue_workers(root: Path, workers: dict[str, str], **kwargs: Any) -> Iterator[QueueWorkers]:
    """``QueueWorkers`` whose qlaunch processes are stopped and jobs cancelled at the end, whatever happens."""
    handle = QueueWorkers(root, workers, **kwargs)
    try:
        yield handle
    finally:
        handle.stop()
        handle.cancel_jobs()


def wait_for_workflow(database, workers: QueueWorkers, timeout: float, states: tuple[str, ...] = ("COMPLETED",)) -> str:
    """Wait until the (only) workflow on the LaunchPad reaches one of ``states``; fail early when it FIZZLES."""
    deadline = time.monotonic() + timeout
    while True:
        state = database["workflows"].find_one({}, {"state": 1})["state"]
        if state in states:
            return state
        if state == "FIZZLED" or time.monotonic() > deadline:
            fireworks = [(fw["fw_id"], fw["name"], fw["state"], fw["spec"].get("_category"))
                         for fw in database["fireworks"].find({}, {"fw_id": 1, "name": 1, "state": 1,
                                                                   "spec._category": 1})]
            raise AssertionError(f"workflow {state} after {timeout:.0f} s at most: {fireworks}\n"
                                 f"queue: {squeue()}\n{workers.stuck_jobs()}")
        time.sleep(1)
