import json
import os
import signal
import socket
import time

import pytest
from pymongo import MongoClient

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
    assert server.stop(settings).pid == first.pid
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
