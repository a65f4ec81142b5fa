"""Connections: one pymongo client per URI and process, clear errors when the database is away."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from alloyscreen.db import server
from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings, get_settings

_CLIENTS: dict[tuple[int, str], MongoClient] = {}
AUTH_FAILED = 18


def redact(uri: str) -> str:
    """Return ``uri`` with any password replaced by ``***``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def resolve_uri(settings: Settings | None = None, start: bool = True) -> str:
    """Return the configured URI, or the embedded server's (started on demand when ``start``)."""
    settings = settings or get_settings()
    if settings.mongo_uri:
        return settings.mongo_uri
    state = server.start(settings) if start else server.running_state(settings)
    if state is None:
        raise DatabaseError("the embedded database is not running: run `alloyscreen db start`")
    return state.uri


def connect(uri: str, timeout_ms: int) -> MongoClient:
    """Return a client for ``uri`` that answered a ping, or raise one clear DatabaseError."""
    try:
        client: MongoClient = MongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, tz_aware=True
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
    """Close every cached client (after the embedded server stops, for instance)."""
    for client in _CLIENTS.values():
        client.close()
    _CLIENTS.clear()
