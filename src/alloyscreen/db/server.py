"""The embedded database: SecantusDB's ``secantusd-py`` run as a separate process.

The server is never imported: it is a separate process spoken to over the
MongoDB wire protocol, with its WiredTiger storage in the data directory.
Its pid and port are recorded in ``server.json`` beside the storage.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings, get_settings

EXECUTABLE = "secantusd-py"
HOST = "127.0.0.1"


@dataclass
class ServerState:
    """What ``server.json`` records about a running embedded server."""

    pid: int
    port: int
    storage: str
    started_at: float

    @property
    def uri(self) -> str:
        """The MongoDB URI of the server; ``journal=true`` makes an acknowledged write survive ``kill -9``."""
        return f"mongodb://{HOST}:{self.port}/?directConnection=true&journal=true"


def _paths(settings: Settings) -> tuple[Path, Path, Path, Path]:
    root = settings.embedded_dir
    return root / "server.json", root / "storage", root / "server.log", root / "server.lock"


def _executable() -> str:
    beside_python = Path(sys.executable).parent / EXECUTABLE
    found = str(beside_python) if beside_python.exists() else shutil.which(EXECUTABLE)
    if found is None:
        raise DatabaseError(f"{EXECUTABLE} not found: pip install SecantusDB, or set ALLOYSCREEN_MONGO_URI")
    return found


def pid_alive(pid: int) -> bool:
    """Tell whether process ``pid`` runs on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as dead
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _is_server(state: ServerState) -> bool:
    """Tell whether ``state.pid`` is a live secantusd process on the recorded storage."""
    if not pid_alive(state.pid):
        return False
    try:
        command = Path(f"/proc/{state.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return EXECUTABLE in command and state.storage in command


def _answers(uri: str, timeout_ms: int = 1000) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


@contextmanager
def _locked(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state(settings: Settings | None = None) -> ServerState | None:
    """Return the recorded server state, or None when no server was recorded."""
    state_path = _paths(settings or get_settings())[0]
    try:
        return ServerState(**json.loads(state_path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def running_state(settings: Settings | None = None) -> ServerState | None:
    """Return the state of a live, answering embedded server, or None."""
    state = read_state(settings)
    if state and _is_server(state) and _answers(state.uri):
        return state
    return None


def _spawn(settings: Settings, port: int) -> subprocess.Popen:
    _, storage, log_path, _ = _paths(settings)
    storage.mkdir(parents=True, exist_ok=True)
    command = [
        _executable(), "--host", HOST, "--port", str(port), "--storage-path", str(storage),
        "--cache-size", settings.embedded_cache_size, "--log-level", "WARNING",
    ]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _log_tail(settings: Settings, lines: int = 3) -> str:
    log_path = _paths(settings)[2]
    try:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-lines:]
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in tail)


def start(settings: Settings | None = None, port: int | None = None) -> ServerState:
    """Start the embedded server (or return the one already running).

    A stale ``server.json`` (dead pid, or a pid that no longer answers) is
    replaced. A taken ``port`` is refused with a clear message; without a
    port a free one is chosen.
    """
    settings = settings or get_settings()
    state_path, storage, _, lock_path = _paths(settings)
    with _locked(lock_path):
        live = running_state(settings)
        if live:
            return live
        stale = read_state(settings)
        if stale and _is_server(stale):  # alive but not answering: a hung server
            _terminate(stale.pid)
        state_path.unlink(missing_ok=True)
        if port is not None and _port_taken(port):
            raise DatabaseError(f"port {port} on {HOST} is taken: choose another or leave it unset for a free one")
        chosen = port or _free_port()
        process = _spawn(settings, chosen)
        state = ServerState(pid=process.pid, port=chosen, storage=str(storage), started_at=time.time())
        deadline = time.monotonic() + settings.embedded_start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DatabaseError(
                    f"embedded server on port {chosen} exited with code {process.returncode}: {_log_tail(settings)}"
                )
            if _answers(state.uri, timeout_ms=500):
                state_path.write_text(json.dumps(asdict(state)))
                return state
            time.sleep(0.2)
        _terminate(process.pid)
        raise DatabaseError(
            f"embedded server did not answer on port {chosen} within {settings.embedded_start_timeout_s} s"
        )


def _terminate(pid: int, timeout_s: float = 15.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(settings: Settings | None = None) -> ServerState | None:
    """Stop the embedded server by its recorded pid; return the state it had, or None."""
    settings = settings or get_settings()
    state_path, _, _, lock_path = _paths(settings)
    with _locked(lock_path):
        state = read_state(settings)
        if state is None:
            return None
        if _is_server(state):
            _terminate(state.pid)
        state_path.unlink(missing_ok=True)
        return state
