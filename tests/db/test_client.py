import os
import signal
import subprocess
import time

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from alloyscreen.db import client as client_module
from alloyscreen.db import server
from alloyscreen.db.client import close_client, connect, get_client, get_database, redact
from alloyscreen.db.server import _free_port
from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings, get_settings


def test_unreachable_uri_fails_fast_naming_the_uri():
    started = time.monotonic()
    with pytest.raises(DatabaseError) as error:
        connect("mongodb://127.0.0.1:9/", timeout_ms=1500)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "mongodb://127.0.0.1:9/" in message and "\n" not in message


def test_invalid_uri_is_one_line():
    with pytest.raises(DatabaseError, match="invalid MongoDB URI mongo://nowhere: "):
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


@pytest.mark.parametrize(("uri", "shown"), [
    ("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=hunter2&w=1",
     "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***&w=1"),
    ("mongodb://ann:pw@h1:1,h2:2/db?apiTOKEN=t1;My_Secret=s2",
     "mongodb://ann:***@h1:1,h2:2/db?apiTOKEN=***;My_Secret=***"),
    ("mongodb+srv://c.example/?authMechanismProperties=AWS_SESSION_TOKEN:t3,SERVICE_NAME:x",
     "mongodb+srv://c.example/?authMechanismProperties=AWS_SESSION_TOKEN:***,SERVICE_NAME:x"),
    ("mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN%3At4%2CSERVICE_NAME%3Ax",
     "mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN%3A***%2CSERVICE_NAME%3Ax"),
    ("mongodb://127.0.0.1:1/?directConnection=true&journal=true",
     "mongodb://127.0.0.1:1/?directConnection=true&journal=true"),
])
def test_redact_hides_secret_query_options(uri, shown):
    assert redact(uri) == shown


@pytest.fixture
def own_clients(monkeypatch):
    """This test's clients and embedded-server memory, apart from the session's."""
    monkeypatch.setattr(client_module, "_CLIENTS", {})
    monkeypatch.setattr(client_module, "_EMBEDDED_PORTS", {})
    yield
    client_module.close_clients()


def test_user_uris_get_journaled_majority_writes_unless_they_choose(database, own_clients):
    port = server.read_state().port
    durable = get_client(Settings(mongo_uri=f"mongodb://127.0.0.1:{port}/?directConnection=true"))
    assert durable.write_concern.document == {"w": "majority", "j": True}
    durable.alloyscreen_wc.things.insert_one({"n": 1})
    chosen = get_client(Settings(mongo_uri=f"mongodb://127.0.0.1:{port}/?directConnection=true&w=1"))
    assert chosen.write_concern.document == {"w": 1}
    durable.drop_database("alloyscreen_wc")


def test_embedded_server_that_died_is_not_restarted_behind_the_process(tmp_path, own_clients):
    settings = Settings(data_dir=tmp_path, server_timeout_ms=500)  # closing a client of a dead server waits this long
    try:
        get_database(settings).things.insert_one({"n": 1})  # first connection: started on demand
        state = server.read_state(settings)
        os.kill(state.pid, signal.SIGKILL)
        while server.pid_alive(state.pid):
            time.sleep(0.05)
        with pytest.raises(DatabaseError, match=f"embedded database at 127.0.0.1:{state.port} went away") as error:
            get_database(settings)
        assert "\n" not in str(error.value) and "alloyscreen db start" in str(error.value)
        assert server.find_server(settings) is None
    finally:
        server.stop(settings)


def test_each_setting_says_where_it_came_from(tmp_path, monkeypatch):
    config = tmp_path / "settings.yaml"
    config.write_text("embedded_cache_size: 256M\nserver_timeout_ms: 2000\n")
    monkeypatch.setenv("ALLOYSCREEN_CONFIG", str(config))
    monkeypatch.setenv("ALLOYSCREEN_SERVER_TIMEOUT_MS", "3000")  # the environment wins over the file
    for unset in ("ALLOYSCREEN_EMBEDDED_CACHE_SIZE", "ALLOYSCREEN_EMBEDDED_START_TIMEOUT_S"):
        monkeypatch.delenv(unset, raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.source_of("data_dir") == "the data_dir argument"
    assert settings.source_of("server_timeout_ms") == "environment variable ALLOYSCREEN_SERVER_TIMEOUT_MS"
    assert settings.source_of("embedded_cache_size") == f"embedded_cache_size in {config}"
    assert settings.source_of("embedded_start_timeout_s") == "its default"


def test_settings_are_read_again_when_the_environment_or_config_file_changes(tmp_path, monkeypatch):
    config = tmp_path / "settings.yaml"
    config.write_text("server_timeout_ms: 2000\n")
    monkeypatch.setenv("ALLOYSCREEN_CONFIG", str(config))
    for unset in ("ALLOYSCREEN_SERVER_TIMEOUT_MS", "ALLOYSCREEN_DATA_DIR"):
        monkeypatch.delenv(unset, raising=False)
    first = get_settings()
    assert first.server_timeout_ms == 2000 and get_settings() is first
    config.write_text("server_timeout_ms: 3000\n")  # same size, likely the same mtime: the bytes tell
    assert get_settings().server_timeout_ms == 3000
    monkeypatch.setenv("HOME", str(tmp_path))  # the default data_dir follows it
    assert get_settings().data_dir == tmp_path / ".alloyscreen"
    monkeypatch.setenv("alloyscreen_server_timeout_ms", "4000")  # read case-insensitively
    assert get_settings().server_timeout_ms == 4000
    assert get_settings(server_timeout_ms=100).server_timeout_ms == 100


def test_an_unreachable_uri_is_one_line_naming_it_and_where_it_was_set(tmp_path, monkeypatch, own_clients):
    port = _free_port()
    uri = f"mongodb://ann:secret@127.0.0.1:{port}/x"
    monkeypatch.setenv("ALLOYSCREEN_SERVER_TIMEOUT_MS", "1000")
    monkeypatch.setenv("ALLOYSCREEN_MONGO_URI", uri)
    with pytest.raises(DatabaseError) as from_environment:
        get_database()
    config = tmp_path / "settings.yaml"
    config.write_text(f"mongo_uri: {uri}\n")
    monkeypatch.delenv("ALLOYSCREEN_MONGO_URI")
    monkeypatch.setenv("ALLOYSCREEN_CONFIG", str(config))
    with pytest.raises(DatabaseError) as from_file:
        get_database()
    shown = f"cannot reach MongoDB at mongodb://ann:***@127.0.0.1:{port}/x"
    for error, source in [(from_environment, "environment variable ALLOYSCREEN_MONGO_URI"),
                          (from_file, f"mongo_uri in {config}")]:
        message = str(error.value)
        assert message.startswith(f"{shown} (from {source}) within 1000 ms: "), message
        assert "secret" not in message and "\n" not in message


@pytest.mark.slow
def test_a_database_that_stopped_answering_is_refused_at_once_after_one_timeout(tmp_path, spawn_server,
                                                                                 own_clients):
    port = _free_port()
    process = spawn_server(tmp_path, port)
    settings = Settings(mongo_uri=f"mongodb://127.0.0.1:{port}/?directConnection=true", server_timeout_ms=3000)
    get_database(settings).things.insert_one({"n": 1})
    process.kill()
    process.wait()
    with pytest.raises(PyMongoError):  # pymongo waits the server timeout for it to come back
        get_database(settings).things.find_one()
    started = time.monotonic()
    with pytest.raises(DatabaseError, match=f"127.0.0.1:{port}/.* within 3000 ms: no answer for "):
        get_database(settings)
    with pytest.raises(DatabaseError, match="no answer for"):
        connect(settings.mongo_uri, settings.server_timeout_ms, settings)
    assert time.monotonic() - started < 2  # not one more 3 s timeout each
    spawn_server(tmp_path, port)  # back, with its data: the client answers again
    deadline = time.monotonic() + 30
    while True:
        try:
            assert get_database(settings).things.count_documents({}) == 1
            break
        except DatabaseError:
            assert time.monotonic() < deadline, "the client did not see the database come back"
            time.sleep(0.2)


def test_a_client_of_a_database_that_went_away_closes_at_once(tmp_path, spawn_server):
    port = _free_port()
    process = spawn_server(tmp_path, port)
    client = connect(f"mongodb://127.0.0.1:{port}/?directConnection=true", timeout_ms=3000)
    with client.start_session() as first, client.start_session() as second:  # two sessions back in the pool
        client.db.things.find_one(session=first)
        client.db.things.find_one(session=second)
    process.kill()
    process.wait()
    with pytest.raises(PyMongoError):  # takes one session; pymongo now knows the server is gone
        client.db.things.find_one()
    started = time.monotonic()
    close_client(client)  # pymongo's close would wait 3 s to end the other session on the server
    assert time.monotonic() - started < 1.5
