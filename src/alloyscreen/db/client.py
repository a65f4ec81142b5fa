"""Connections: one pymongo client per URI and process, clear errors when the database is away."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

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


def resolve_uri(settings: Settings | None = None, start: bool = True) -> str:
    """Return the configured URI, or the embedded server's (started on demand when ``start``, see ``_embedded_uri``)."""
    settings = settings or get_settings()
    return settings.mongo_uri or _embedded_uri(settings, start)


def connect(uri: str, timeout_ms: int) -> MongoClient:
    """Return a client for ``uri`` that answered a ping, or raise one clear DatabaseError."""
    try:
        client: MongoClient = MongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, tz_aware=True, **write_concern(uri)
        )
    except ConfigurationError as error:
        raise DatabaseError(f"invalid MongoDB URI {redact(uri)!r}: {error}") from None
    try:
        client.admin.command("ping")
    except OperationFailure as error:
        client.close()
        if error.code == AUTH_FAILED:
            user = urlsplit(uri).username or "(none)"
            raise DatabaseError(f"authentication failed for user {user!r} at {redact(uri)}") from None
        raise DatabaseError(f"MongoDB at {redact(uri)} refused the connection: {error}") from None
    except PyMongoError as error:
        client.close()
        reason = str(error).split(",")[0].split(" (configured timeouts")[0]
        raise DatabaseError(f"cannot reach MongoDB at {redact(uri)} within {timeout_ms} ms: {reason}") from None
    return client


def get_client(settings: Settings | None = None) -> MongoClient:
    """Return this process's client for the database in use."""
    settings = settings or get_settings()
    uri = resolve_uri(settings)
    key = (os.getpid(), uri)
    if key not in _CLIENTS:
        _CLIENTS[key] = connect(uri, settings.server_timeout_ms)
    return _CLIENTS[key]


def get_database(settings: Settings | None = None) -> Database:
    """Return the project database (``ALLOYSCREEN_DB_NAME``) on the database in use."""
    settings = settings or get_settings()
    return get_client(settings)[settings.db_name]


def close_clients() -> None:
    """Close every cached client and forget the embedded server used (after it stops, for instance)."""
    for client in _CLIENTS.values():
        client.close()
    _CLIENTS.clear()
    _EMBEDDED_PORTS.clear()
