"""Session fixtures: one real embedded database server for the whole test run."""

from __future__ import annotations

import os
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
