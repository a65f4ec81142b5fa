import subprocess
import time

import pytest
from pymongo import MongoClient

from alloyscreen.db.client import connect, redact
from alloyscreen.db.server import _free_port
from alloyscreen.errors import DatabaseError


def test_unreachable_uri_fails_fast_naming_the_uri():
    started = time.monotonic()
    with pytest.raises(DatabaseError) as error:
        connect("mongodb://127.0.0.1:9/", timeout_ms=1500)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "mongodb://127.0.0.1:9/" in message and "\n" not in message


def test_invalid_uri_is_one_line():
    with pytest.raises(DatabaseError, match="invalid MongoDB URI 'mongo://nowhere'"):
        connect("mongo://nowhere", timeout_ms=500)


def test_redact_hides_password():
    assert redact("mongodb://ann:secret@db.example:27017/x") == "mongodb://ann:***@db.example:27017/x"


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server: SIGTERM, and SIGKILL if it has not gone in 15 s (its shutdown can hang)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_wrong_credentials_are_reported(tmp_path, spawn_server):
    port = _free_port()
    process = spawn_server(tmp_path, port)
    with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true&journal=true") as client:
        client.admin.command("createUser", "ann", pwd="right", roles=["root"], writeConcern={"w": 1, "j": True})
    stop_server(process)
    process = spawn_server(tmp_path, port, "--auth")
    try:
        good = connect(f"mongodb://ann:right@127.0.0.1:{port}/?directConnection=true", timeout_ms=3000)
        good.close()
        with pytest.raises(DatabaseError, match="authentication failed for user 'ann'") as error:
            connect(f"mongodb://ann:wrong@127.0.0.1:{port}/?directConnection=true", timeout_ms=3000)
        assert "wrong" not in str(error.value)
    finally:
        stop_server(process)


def test_calculations_run_on_the_scratch_dir_when_one_is_set(tmp_path, monkeypatch):
    from alloyscreen.settings import get_settings

    monkeypatch.setenv("ALLOYSCREEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ALLOYSCREEN_SCRATCH_DIR", raising=False)
    assert get_settings().runs_dir == tmp_path / "data" / "runs"
    monkeypatch.setenv("ALLOYSCREEN_SCRATCH_DIR", str(tmp_path / "scratch"))
    assert get_settings().runs_dir == tmp_path / "scratch"
