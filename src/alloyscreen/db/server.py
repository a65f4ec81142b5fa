"""The embedded database: SecantusDB's ``secantusd-py`` run as a separate process.

The server is never imported: it is a separate process spoken to over the
MongoDB wire protocol, with its WiredTiger storage in the data directory.
Its pid and port are recorded in ``server.json`` beside the storage. It reads
only the (empty) configuration file the project writes, never one found in the
working directory or home, and everything it writes is private to the user.

Authentication is optional (``alloyscreen db init --auth``, see ``enable_auth``):
once ``credentials.json`` (0600) exists in the embedded dir, the server runs
with ``--auth`` and its URI carries that user and password.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings, get_settings

EXECUTABLE = "secantusd-py"
HOST = "127.0.0.1"
CONFIG_TEXT = "# written by alloyscreen: the embedded server takes no settings from configuration files\n"
CREDENTIALS = "credentials.json"
AUTH_USER = "alloyscreen"
# admin-bound roles: read/write, indexes and collMod on any database (the project database,
# whatever ALLOYSCREEN_DB_NAME names, FireWorks' and jobflow's collections in it), and
# server monitoring; no user administration
AUTH_ROLES = ["readWriteAnyDatabase", "dbAdminAnyDatabase", "clusterMonitor"]
_USER_EXISTS = 51003


def read_credentials(root: Path) -> dict[str, str] | None:
    """Return ``{"user", "password"}`` from the embedded dir ``root``, or None when authentication is off."""
    try:
        credentials = json.loads((root / CREDENTIALS).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DatabaseError(f"unreadable credentials file {root / CREDENTIALS}: {error}") from None
    if not isinstance(credentials, dict) or not all(isinstance(credentials.get(k), str) for k in ("user", "password")):
        raise DatabaseError(f"credentials file {root / CREDENTIALS} lacks a user and a password")
    return {"user": credentials["user"], "password": credentials["password"]}


@dataclass
class ServerState:
    """What ``server.json`` records about a running embedded server."""

    pid: int
    port: int
    storage: str
    started_at: float

    @property
    def uri(self) -> str:
        """The MongoDB URI of the server; ``journal=true`` makes an acknowledged write survive ``kill -9``.

        With authentication on (a credentials file beside the storage) it carries the user and password:
        print it through ``client.redact`` only.
        """
        credentials = read_credentials(Path(self.storage).parent)
        if credentials is None:
            return f"mongodb://{HOST}:{self.port}/?directConnection=true&journal=true"
        login = f"{quote(credentials['user'], safe='')}:{quote(credentials['password'], safe='')}@"
        return f"mongodb://{login}{HOST}:{self.port}/?directConnection=true&journal=true&authSource=admin"

    @property
    def open_uri(self) -> str:
        """The URI without credentials (to provision the user before ``--auth``)."""
        return f"mongodb://{HOST}:{self.port}/?directConnection=true&journal=true"


class ServerPaths(NamedTuple):
    """The embedded server's directory and the files in it."""

    root: Path
    state: Path
    storage: Path
    log: Path
    lock: Path
    config: Path
    credentials: Path


def _paths(settings: Settings) -> ServerPaths:
    root = settings.embedded_dir.absolute()  # the server runs in it: a relative path would not do
    return ServerPaths(root, root / "server.json", root / "storage", root / "server.log", root / "server.lock",
                       root / "secantusd.toml", root / CREDENTIALS)


def _private_dirs(settings: Settings) -> ServerPaths:
    """Create the data dir 0700 when it is missing and make the embedded dir 0700; return the server's paths."""
    try:
        settings.data_dir.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass  # the user's directory: left as it is
    paths = _paths(settings)
    paths.root.mkdir(mode=0o700, exist_ok=True)
    paths.root.chmod(0o700)
    return paths


def _open_private(path: Path, flags: int) -> int:
    """Open ``path`` with ``flags``, creating it, and make it 0600 even if it existed with looser bits."""
    descriptor = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(descriptor, 0o600)
    return descriptor


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by this user only."""
    with os.fdopen(_open_private(path, os.O_WRONLY | os.O_TRUNC), "w") as handle:
        handle.write(text)


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


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _serving_port(pid: int, storage: Path) -> int | None:
    """Return the port of process ``pid`` when it is a secantusd on ``storage``, else None."""
    argv = _argv(pid)
    flags = dict(zip(argv, argv[1:], strict=False))
    if not any(Path(arg).name == EXECUTABLE for arg in argv[:2]) or flags.get("--storage-path") != str(storage):
        return None
    try:
        return int(flags["--port"])
    except (KeyError, ValueError):
        return None


def _started_at(pid: int) -> float:
    """Return when process ``pid`` started (epoch seconds), from /proc."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime "))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _find_process(storage: Path) -> ServerState | None:
    """Find this user's secantusd on ``storage`` by its command line (for a server whose server.json is gone)."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or entry.stat().st_uid != os.getuid():
                continue
            port = _serving_port(int(entry.name), storage)
            if port is not None:
                return ServerState(int(entry.name), port, str(storage), _started_at(int(entry.name)))
        except OSError:  # the process exited while we looked
            continue
    return None


def _live(recorded: ServerState | None, storage: Path) -> ServerState | None:
    """Return the secantusd running on ``storage``: the recorded one if it still is, else one found by scanning."""
    if recorded and _serving_port(recorded.pid, storage) == recorded.port:
        return recorded
    return _find_process(storage)


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
def _locked(lock_path: Path) -> Iterator[None]:
    descriptor = _open_private(lock_path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def read_state(settings: Settings | None = None) -> ServerState | None:
    """Return the state recorded in server.json, or None when nothing (readable) is recorded."""
    try:
        return ServerState(**json.loads(_paths(settings or get_settings()).state.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def find_server(settings: Settings | None = None) -> ServerState | None:
    """Return the live embedded server of the data dir, even when its server.json was deleted, or None."""
    settings = settings or get_settings()
    return _live(read_state(settings), _paths(settings).storage)


def running_state(settings: Settings | None = None) -> ServerState | None:
    """Return the state of a live, answering embedded server, or None."""
    state = find_server(settings)
    return state if state and _answers(state.uri) else None


def _spawn(settings: Settings, paths: ServerPaths, port: int) -> subprocess.Popen:
    """Start secantusd with the project's own config file only, in its directory, its files private to this user."""
    paths.storage.mkdir(mode=0o700, exist_ok=True)
    write_private(paths.config, CONFIG_TEXT)
    command = [
        _executable(), "--config", str(paths.config), "--host", HOST, "--port", str(port),
        "--storage-path", str(paths.storage), "--cache-size", settings.embedded_cache_size, "--log-level", "WARNING",
    ]
    if paths.credentials.exists():
        command.append("--auth")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SECANTUS_")}
    with os.fdopen(_open_private(paths.log, os.O_WRONLY | os.O_APPEND), "ab") as log:
        return subprocess.Popen(command, cwd=paths.root, env=environment, umask=0o077, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def _log_tail(paths: ServerPaths, lines: int = 3) -> str:
    try:
        tail = paths.log.read_text(errors="replace").strip().splitlines()[-lines:]
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in tail)


def _record(paths: ServerPaths, state: ServerState) -> None:
    write_private(paths.state, json.dumps(asdict(state)))


def start(settings: Settings | None = None, port: int | None = None) -> ServerState:
    """Start the embedded server (or return the one already running).

    A server running without its server.json is found by its command line and
    recorded again. A stale ``server.json`` (dead pid, or a server that no
    longer answers) is replaced. A taken ``port`` is refused with a clear
    message; without a port a free one is chosen.
    """
    settings = settings or get_settings()
    paths = _private_dirs(settings)
    with _locked(paths.lock):
        recorded = read_state(settings)
        found = _live(recorded, paths.storage)
        if found and _answers(found.uri):
            if found != recorded:
                _record(paths, found)
            return found
        if found:  # alive but not answering: a hung server
            _terminate(found.pid)
        paths.state.unlink(missing_ok=True)
        if port is not None and _port_taken(port):
            raise DatabaseError(f"port {port} on {HOST} is taken: choose another or leave it unset for a free one")
        chosen = port or _free_port()
        process = _spawn(settings, paths, chosen)
        state = ServerState(pid=process.pid, port=chosen, storage=str(paths.storage), started_at=time.time())
        deadline = time.monotonic() + settings.embedded_start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DatabaseError(
                    f"embedded server on port {chosen} exited with code {process.returncode}: {_log_tail(paths)}"
                )
            if _answers(state.uri, timeout_ms=500):
                _record(paths, state)
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


def stop(settings: Settings | None = None) -> str:
    """Stop the embedded server of the data dir (found even without its server.json); return one line on what was done.

    A server.json naming a process that is not this data dir's server is removed;
    that process is left alone.
    """
    settings = settings or get_settings()
    paths = _private_dirs(settings)
    with _locked(paths.lock):
        recorded = read_state(settings)
        found = _live(recorded, paths.storage)
        paths.state.unlink(missing_ok=True)
        if found:
            _terminate(found.pid)
            return f"stopped embedded database (pid {found.pid}, port {found.port})"
        if recorded is None:
            return "no embedded database was running"
        what = "another process, left alone" if pid_alive(recorded.pid) else "which has exited"
        return f"no embedded database was running: server.json named pid {recorded.pid}, {what}; removed server.json"



def _runs_with_auth(pid: int) -> bool:
    return "--auth" in _argv(pid)


def _provision_user(uri: str, password: str, timeout_ms: int) -> None:
    """Create the project's user (or reset its password and roles when it exists) on a server running without auth."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        try:
            client.admin.command("createUser", AUTH_USER, pwd=password, roles=AUTH_ROLES)
        except OperationFailure as error:
            if error.code != _USER_EXISTS:  # e.g. a server already under --auth without our credentials file
                raise
            client.admin.command("updateUser", AUTH_USER, pwd=password, roles=AUTH_ROLES)
    except PyMongoError as error:
        raise DatabaseError(f"cannot create database user {AUTH_USER!r}: {error}") from None
    finally:
        client.close()


def enable_auth(settings: Settings | None = None) -> str:
    """Turn on authentication for the embedded server; return one line on what was done.

    The first call creates the user with a random password, keeps ``{"user", "password"}``
    in the 0600 ``credentials.json`` of the embedded dir and restarts the server with
    ``--auth``. Later calls keep the credentials and only make sure the server runs with
    ``--auth``. Clients of this process that used the server before must be closed
    (``client.close_clients``): the restarted server listens on another port.
    """
    settings = settings or get_settings()
    paths = _private_dirs(settings)
    if read_credentials(paths.root) is not None:
        state = start(settings)
        if _runs_with_auth(state.pid):
            return f"authentication already on (credentials in {paths.credentials})"
        stop(settings)  # started before the credentials file was written: restart with --auth
        start(settings)
        return f"authentication on: restarted with --auth (credentials in {paths.credentials})"
    state = start(settings)
    if _runs_with_auth(state.pid):
        raise DatabaseError(f"the embedded server runs with --auth but {paths.credentials} is missing")
    password = secrets.token_urlsafe(32)
    _provision_user(state.open_uri, password, settings.server_timeout_ms)
    write_private(paths.credentials, json.dumps({"user": AUTH_USER, "password": password}))
    stop(settings)
    start(settings)
    return f"authentication on: created user {AUTH_USER!r}, password in {paths.credentials} (0600)"
