import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from alloyscreen.db import server
from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings


@pytest.fixture
def settings(tmp_path):
    current = Settings(data_dir=tmp_path)
    yield current
    server.stop(current)


def _count(uri: str) -> int:
    with MongoClient(uri, serverSelectionTimeoutMS=3000) as client:
        return client.keep.things.count_documents({})


def test_start_stop_restart_keeps_data(settings):
    first = server.start(settings)
    assert server.start(settings) == first  # second start reuses the running server
    with MongoClient(first.uri) as client:
        client.keep.things.insert_many([{"n": i} for i in range(5)])
    assert server.stop(settings) == f"stopped embedded database (pid {first.pid}, port {first.port})"
    assert server.running_state(settings) is None
    second = server.start(settings)
    assert second.pid != first.pid
    assert _count(second.uri) == 5


def test_stale_pid_file_is_replaced(settings):
    state_file = settings.embedded_dir / "server.json"
    state_file.parent.mkdir(parents=True)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    state_file.write_text(json.dumps({"pid": dead, "port": 1, "storage": "x", "started_at": 0}))
    state = server.start(settings)
    assert state.pid != dead
    assert json.loads(state_file.read_text())["pid"] == state.pid


def test_server_that_died_is_detected_and_restarted(settings):
    state = server.start(settings)
    with MongoClient(state.uri) as client:
        client.keep.things.insert_one({"n": 1})
    os.kill(state.pid, signal.SIGKILL)
    time.sleep(0.5)
    assert server.running_state(settings) is None
    again = server.start(settings)
    assert again.pid != state.pid
    assert _count(again.uri) == 1


def test_taken_port_is_refused_with_the_port_named(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(DatabaseError, match=f"port {port} .* is taken"):
            server.start(settings, port=port)
    assert server.read_state(settings) is None


def test_config_files_in_the_working_directory_home_or_environment_are_ignored(settings, tmp_path, monkeypatch):
    stray = "[server]\nauth = true\nenable_test_commands = true\n"
    work, home = tmp_path / "work", tmp_path / "home"
    (home / ".secantus").mkdir(parents=True)
    work.mkdir()
    (work / "secantusd.toml").write_text(stray)
    (home / ".secantus" / "secantusd.toml").write_text(stray)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SECANTUS_TEST_FAST_STORAGE", "1")
    state = server.start(settings)
    with MongoClient(state.uri, serverSelectionTimeoutMS=3000) as client:
        client.list_database_names()  # no authentication asked
        with pytest.raises(OperationFailure) as error:
            client.admin.command("configureFailPoint", "failCommand", mode="off")
        assert "authentication" not in str(error.value)
    assert b"SECANTUS_" not in Path(f"/proc/{state.pid}/environ").read_bytes()
    assert Path(f"/proc/{state.pid}/cwd").resolve() == settings.embedded_dir.resolve()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_and_everything_the_server_writes_are_private(tmp_path):
    settings = Settings(data_dir=tmp_path / "fresh")
    try:
        state = server.start(settings)
        with MongoClient(state.uri) as client:
            client.keep.things.insert_one({"n": 1})
        assert "Umask:\t0077" in Path(f"/proc/{state.pid}/status").read_text()
        root = settings.embedded_dir
        assert _mode(settings.data_dir) == _mode(root) == 0o700
        for name in ("server.json", "server.log", "server.lock", "secantusd.toml"):
            assert _mode(root / name) == 0o600, name
        for directory, _, files in os.walk(root / "storage"):
            assert _mode(Path(directory)) == 0o700, directory
            assert all(_mode(Path(directory, name)) == 0o600 for name in files), files
    finally:
        server.stop(settings)


def test_stop_names_a_recorded_pid_that_is_not_our_server_and_leaves_it_alone(settings):
    state_file = settings.embedded_dir / "server.json"
    state_file.parent.mkdir(parents=True)
    other = subprocess.Popen(["sleep", "60"])
    try:
        state_file.write_text(json.dumps({"pid": other.pid, "port": 1, "storage": "x", "started_at": 0}))
        message = server.stop(settings)
        assert message.startswith(f"no embedded database was running: server.json named pid {other.pid}, another")
        assert other.poll() is None and not state_file.exists()
    finally:
        other.kill()
        other.wait()
    state_file.write_text(json.dumps({"pid": other.pid, "port": 1, "storage": "x", "started_at": 0}))
    assert "which has exited" in server.stop(settings)


def test_a_server_whose_state_file_was_deleted_is_found_by_start_and_stop(settings):
    first = server.start(settings)
    state_file = settings.embedded_dir / "server.json"
    state_file.unlink()
    again = server.start(settings)
    assert (again.pid, again.port) == (first.pid, first.port)
    assert json.loads(state_file.read_text())["pid"] == first.pid
    state_file.unlink()
    assert server.stop(settings) == f"stopped embedded database (pid {first.pid}, port {first.port})"
    assert not server.pid_alive(first.pid)
