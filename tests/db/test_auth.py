import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from alloyscreen.db import client, server
from alloyscreen.db.stores import get_launchpad
from alloyscreen.settings import Settings

BIN = Path(sys.executable).parent


@pytest.fixture
def auth_env(tmp_path, monkeypatch):
    """A fresh data dir for the CLI (environment) and in-process code (explicit settings); stopped after."""
    settings = Settings(data_dir=tmp_path / "data", db_name=f"auth_{uuid.uuid4().hex[:8]}")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ALLOYSCREEN_")}
    env.update(ALLOYSCREEN_DATA_DIR=str(settings.data_dir), ALLOYSCREEN_DB_NAME=settings.db_name)
    monkeypatch.setattr(client, "_CLIENTS", {})  # this test's clients only, the session's are left alone
    monkeypatch.setattr(client, "_EMBEDDED_PORTS", {})
    yield settings, env
    for opened in client._CLIENTS.values():
        opened.close()
    server.stop(settings)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "alloyscreen"), *args], env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_db_init_auth_requires_credentials_which_every_project_client_uses(auth_env):
    settings, env = auth_env
    first = _cli(env, "db", "init", "--auth")
    assert first.returncode == 0, first.stderr
    assert "created user 'alloyscreen'" in first.stdout
    credentials_file = settings.embedded_dir / "credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    credentials = json.loads(credentials_file.read_text())
    assert credentials["user"] == "alloyscreen" and len(credentials["password"]) >= 32

    state = server.find_server(settings)
    assert state is not None and "--auth" in Path(f"/proc/{state.pid}/cmdline").read_text()
    with MongoClient(state.open_uri, serverSelectionTimeoutMS=3000) as anonymous:
        with pytest.raises(OperationFailure):
            anonymous[settings.db_name].campaigns.find_one()

    database = client.get_database(settings)  # the project's client authenticates
    assert "campaigns" in database.list_collection_names()  # db init created the collections under auth
    database.scratch.insert_one({"n": 1})
    assert database.scratch.count_documents({}) == 1
    launchpad = get_launchpad(settings)
    assert launchpad.fireworks.count_documents({}) == 0

    status = _cli(env, "db", "status")
    assert status.returncode == 0, status.stderr
    assert credentials["password"] not in status.stdout + status.stderr
    assert "alloyscreen:***@" in status.stdout

    again = _cli(env, "db", "init", "--auth")  # idempotent: the credentials are kept
    assert again.returncode == 0, again.stderr
    assert "already on" in again.stdout and credentials["password"] not in again.stdout
    assert json.loads(credentials_file.read_text()) == credentials


def test_db_init_auth_is_refused_with_a_user_uri(auth_env):
    _, env = auth_env
    result = _cli({**env, "ALLOYSCREEN_MONGO_URI": "mongodb://u:secret@127.0.0.1:1/"}, "db", "init", "--auth")
    assert result.returncode != 0
    assert "ALLOYSCREEN_MONGO_URI" in result.stderr and "secret" not in result.stderr + result.stdout
