"""Connections: one pymongo client per URI and process, clear errors when the database is away."""

from __future__ import annotations

import atexit
import os
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pymongo import MongoClient
from pymongo.common import MIN_HEARTBEAT_INTERVAL
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError
from pymongo.monitoring import (
    ServerHeartbeatFailedEvent,
    ServerHeartbeatListener,
    ServerHeartbeatStartedEvent,
    ServerHeartbeatSucceededEvent,
)
from pymongo.read_preferences import ReadPreference

from alloyscreen.db import server
from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings, get_settings

_CLIENTS: dict[tuple[int, str], MongoClient] = {}
_EMBEDDED_PORTS: dict[str, int] = {}  # embedded dir -> port of the server this process uses
AUTH_FAILED = 18


_SECRET_NAME = r"[^&;=,:%]*(?:password|secret|token)[^&;=,:%]*"
# an option named like a secret (tlsCertificateKeyFilePassword=...), and a secret inside
# authMechanismProperties (AWS_SESSION_TOKEN:..., its ':' and ',' possibly percent-encoded)
_SECRET_OPTION = re.compile(rf"(?i)((?:^|[&;]){_SECRET_NAME}=)[^&;]*")
_SECRET_PROPERTY = re.compile(rf"(?i)((?:=|,|%2C){_SECRET_NAME}(?::|%3A)).*?(?=%2C|[&;,]|$)")


def redact(uri: str) -> str:
    """Return ``uri`` with its password and every secret option (named with password, secret or token) as ``***``."""
    parts = urlsplit(uri)
    netloc = parts.netloc if parts.password is None else parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    query = _SECRET_PROPERTY.sub(r"\1***", _SECRET_OPTION.sub(r"\1***", parts.query))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def described(uri: str, settings: Settings | None = None) -> str:
    """Return ``uri`` redacted, with where it came from when it is the one the settings name."""
    settings = settings or get_settings()
    if uri == settings.mongo_uri:
        return f"{redact(uri)} (from {settings.source_of('mongo_uri')})"
    state = None if settings.mongo_uri else server.read_state(settings)
    if state is not None and uri == state.uri:
        return f"{redact(uri)} (the embedded server of {settings.embedded_dir}: ALLOYSCREEN_MONGO_URI is not set)"
    return redact(uri)


def write_concern(uri: str) -> dict[str, Any]:
    """Return client options for journaled, majority-acknowledged writes, unless ``uri`` chooses its own."""
    chosen = {name.lower() for name, _ in parse_qsl(urlsplit(uri).query.replace(";", "&"))}
    return {} if chosen & {"w", "journal", "j"} else {"w": "majority", "journal": True}


def _embedded_uri(settings: Settings, start: bool) -> str:
    """Return the embedded server's URI: started on demand for this process's first connection only.

    Once this process used a server, a dead or replaced one is an error: its
    open clients and stores still point at the old port.
    """
    storage = str(settings.embedded_dir)
    known = _EMBEDDED_PORTS.get(storage)
    if known is None:
        state = server.start(settings) if start else server.running_state(settings)
    else:
        state = server.find_server(settings)
        if state is None or state.port != known:
            raise DatabaseError(f"the embedded database at {server.HOST}:{known} went away; restart it with "
                                "`alloyscreen db start` and re-run to resume")
    if state is None:
        raise DatabaseError("the embedded database is not running: run `alloyscreen db start`")
    _EMBEDDED_PORTS[storage] = state.port
    return state.uri


class _Availability(ServerHeartbeatListener):
    """Since when a client's server checks fail (None once one succeeds); pymongo's monitors call it at once."""

    def __init__(self) -> None:
        self.failing_since: float | None = None

    def started(self, event: ServerHeartbeatStartedEvent) -> None:
        """Nothing to record."""

    def succeeded(self, event: ServerHeartbeatSucceededEvent) -> None:
        """A server answered."""
        self.failing_since = None

    def failed(self, event: ServerHeartbeatFailedEvent) -> None:
        """Note the first failed check since the last answer."""
        if self.failing_since is None:
            self.failing_since = time.monotonic()


def _refuse_if_lost(uri: str, timeout_ms: int, settings: Settings | None) -> None:
    """Raise at once when this process's client of ``uri`` has had no answer for ``timeout_ms`` already.

    A database that went away mid-run then costs one timeout, not one per
    operation, connection or clean-up that follows. The first failed check
    comes up to pymongo's minimum check interval after the operation that
    found the server gone began its wait: that much is allowed for.
    """
    client = _CLIENTS.get((os.getpid(), uri))
    if client is None or client.topology_description.has_readable_server(ReadPreference.PRIMARY_PREFERRED):
        return
    availability = next(listener for listener in client.options.event_listeners if isinstance(listener, _Availability))
    if availability.failing_since is not None:
        silent_s = time.monotonic() - availability.failing_since
        if silent_s + MIN_HEARTBEAT_INTERVAL >= timeout_ms / 1000:
            raise DatabaseError(f"cannot reach MongoDB at {described(uri, settings)} within {timeout_ms} ms: "
                                f"no answer for {silent_s:.0f} s")


def resolve_uri(settings: Settings | None = None, start: bool = True) -> str:
    """Return the configured URI, or the embedded server's (started on demand when ``start``, see ``_embedded_uri``)."""
    settings = settings or get_settings()
    return settings.mongo_uri or _embedded_uri(settings, start)


def connect(uri: str, timeout_ms: int, settings: Settings | None = None) -> MongoClient:
    """Return a client for ``uri`` that answered a ping, or raise one clear DatabaseError.

    The error names the URI (redacted) and, when it is the one ``settings`` name, where it was set.
    """
    _refuse_if_lost(uri, timeout_ms, settings)
    try:
        client: MongoClient = MongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, tz_aware=True,
            event_listeners=[_Availability()], **write_concern(uri)
        )
    except ConfigurationError as error:
        raise DatabaseError(f"invalid MongoDB URI {described(uri, settings)}: {error}") from None
    try:
        client.admin.command("ping")
    except OperationFailure as error:
        close_client(client)
        if error.code == AUTH_FAILED:
            user = urlsplit(uri).username or "(none)"
            raise DatabaseError(f"authentication failed for user {user!r} at {described(uri, settings)}") from None
        raise DatabaseError(f"MongoDB at {described(uri, settings)} refused the connection: {error}") from None
    except PyMongoError as error:
        close_client(client)
        reason = str(error).split(",")[0].split(" (configured timeouts")[0]
        raise DatabaseError(f"cannot reach MongoDB at {described(uri, settings)} within {timeout_ms} ms: "
                            f"{reason}") from None
    return client


def get_client(settings: Settings | None = None) -> MongoClient:
    """Return this process's client for the database in use (refused at once once it stopped answering)."""
    settings = settings or get_settings()
    uri = resolve_uri(settings)
    key = (os.getpid(), uri)
    if key in _CLIENTS:
        _refuse_if_lost(uri, settings.server_timeout_ms, settings)
    else:
        _CLIENTS[key] = connect(uri, settings.server_timeout_ms, settings)
    return _CLIENTS[key]


def get_database(settings: Settings | None = None) -> Database:
    """Return the project database (``ALLOYSCREEN_DB_NAME``) on the database in use."""
    settings = settings or get_settings()
    return get_client(settings)[settings.db_name]


def close_client(client: MongoClient) -> None:
    """Close ``client`` at once, also when its database went away.

    pymongo's ``close`` first ends the client's pooled sessions on the server,
    waiting up to the server selection timeout for one to answer; when none is
    known to answer, the sessions are dropped instead (the server expires them;
    pymongo has no public call for this).
    """
    if not client.topology_description.has_readable_server(ReadPreference.PRIMARY_PREFERRED):
        client._topology.pop_all_sessions()
    client.close()


def close_clients() -> None:
    """Close every cached client and forget the embedded server used (after it stops, for instance)."""
    for client in _CLIENTS.values():
        close_client(client)
    _CLIENTS.clear()
    _EMBEDDED_PORTS.clear()


atexit.register(close_clients)  # no "Unclosed MongoClient" at exit
