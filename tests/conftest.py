"""Session fixtures: one real embedded database server for the whole test run."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one thread each (set before torch, BLAS load)
    for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient

from alloyscreen.db import server
from alloyscreen.db.client import close_clients, get_database
from alloyscreen.db.init import init_database
from alloyscreen.settings import get_settings

# Session fixtures that must exist once per test run: the tests using them share one pytest-xdist worker.
_SHARED_ONCE = ("slurm", "finished_campaign")
# Modules of long tests that share nothing: each test is a group of its own, so both workers take them.
_EACH_ALONE = ("tests/test_benchmarks.py", "tests/test_flows.py")


def pytest_collection_modifyitems(items):
    """Group tests for ``--dist loadgroup``: by the run-once session fixture they use, else by module."""
    for item in items:
        module = item.nodeid.split("::")[0]
        group = next((name for name in _SHARED_ONCE if name in item.fixturenames),
                     item.nodeid if module in _EACH_ALONE else module)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def database_env(tmp_path_factory):
    """Point the settings at a fresh data dir and database; start the embedded server."""
    data_dir = tmp_path_factory.mktemp("alloyscreen-data")
    keys = ("ALLOYSCREEN_DATA_DIR", "ALLOYSCREEN_DB_NAME", "ALLOYSCREEN_MONGO_URI")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ["ALLOYSCREEN_DATA_DIR"] = str(data_dir)
    os.environ["ALLOYSCREEN_DB_NAME"] = f"test_{uuid.uuid4().hex[:8]}"
    os.environ.pop("ALLOYSCREEN_MONGO_URI", None)
    server.start(get_settings())
    yield get_settings()
    close_clients()
    server.stop(get_settings())
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def database(database_env):
    """The project database on the embedded server, initialised with validators and indexes."""
    db = get_database()
    init_database(db)
    return db


@pytest.fixture
def spawn_server():
    """Start stand-alone secantusd servers (storage, port, extra flags); all are stopped after the test."""
    started: list[subprocess.Popen] = []

    def spawn(storage: Path, port: int, *extra: str) -> subprocess.Popen:
        executable = Path(sys.executable).parent / "secantusd-py"
        process = subprocess.Popen([str(executable), "--port", str(port), "--storage-path", str(storage), *extra],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        for _ in range(150):
            try:
                with MongoClient(uri, serverSelectionTimeoutMS=200) as client:
                    client.admin.command("ping")
                return process
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"secantusd did not start on port {port}")

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture(autouse=True)
def _outside_slurm(monkeypatch):
    """Run each test as outside a SLURM job, even under ``sbatch``: core-hours follow the program's cores."""
    for name in ("SLURM_JOB_ID", "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"):
        monkeypatch.delenv(name, raising=False)


_SQUEUE = """#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
if [ -e "$dir/down" ]; then echo "squeue: error: Unable to contact slurm controller" >&2; exit 1; fi
[ "$1 $2 $4 $5" = "-h -j -o %T" ] || exit 2
if [ ! -e "$dir/jobs/$3" ]; then echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
cat "$dir/jobs/$3"
"""


class FakeQueue:
    """A ``squeue`` first on PATH that answers ``squeue -h -j ID -o %T`` with the state a test set for job ID."""

    def __init__(self, directory: Path):
        self.directory = directory
        (directory / "jobs").mkdir(parents=True)
        script = directory / "squeue"
        script.write_text(_SQUEUE)
        script.chmod(0o755)

    def set(self, job: str, state: str) -> None:
        """Job ``job`` is in ``state`` ("" for a job that ended, which squeue lists no more)."""
        (self.directory / "jobs" / job).write_text(f"{state}\n" if state else "")

    def forget(self, job: str) -> None:
        """The queue no longer knows job ``job`` (squeue: invalid job id)."""
        (self.directory / "jobs" / job).unlink()

    def down(self) -> None:
        """The controller does not answer: every squeue fails."""
        (self.directory / "down").touch()

    @property
    def calls(self) -> list[str]:
        """The arguments of each squeue call so far."""
        calls = self.directory / "calls"
        return calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def fake_squeue(tmp_path, monkeypatch) -> FakeQueue:
    """A fake ``squeue`` on PATH (:class:`FakeQueue`)."""
    queue = FakeQueue(tmp_path / "queue")
    monkeypatch.setenv("PATH", f"{queue.directory}{os.pathsep}{os.environ['PATH']}")
    return queue
