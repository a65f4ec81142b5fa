"""jobflow's JobStore and FireWorks' LaunchPad, built from the project settings.

The stores resolve the URI and database from the settings when they connect,
not when they are made: a flow serialised into FireWorks carries no URI, and
each worker connects to the database its own settings name (the embedded
server is started on demand there too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fireworks import LaunchPad
from jobflow import JobStore
from maggma.stores import GridFSStore, MongoStore
from pymongo import MongoClient

from alloyscreen.db.client import close_client, connect, resolve_uri, write_concern
from alloyscreen.db.identity import campaign_database_uri
from alloyscreen.db.server import write_private
from alloyscreen.settings import Settings, get_settings

OUTPUTS = "jobflow_outputs"
DATA = "jobflow_data"


class _SettingsConnection:
    """Mixin: take URI and database from the settings at connect time.

    With a ``database_id`` (a submitted campaign's) the settings must name that
    database, and no embedded server is started (:mod:`alloyscreen.db.identity`).
    """

    uri: str | None
    database_id: str | None
    _coll: Any
    _collection: Any

    def connect(self, force_reset: bool = False) -> None:
        settings = get_settings()
        if self.database_id is None:
            self.uri = resolve_uri(settings)
        else:
            self.uri = campaign_database_uri(self.database_id, settings)
        self.database = settings.db_name
        self.mongoclient_kwargs = {**_client_options(self.uri, settings), "tz_aware": True}
        super().connect(force_reset=force_reset)  # type: ignore[misc]

    def close(self) -> None:
        """Close the store's client at once, also when the database went away (see ``client.close_client``)."""
        if self._coll is not None:
            close_client(self._client())
        self._coll = None

    def _client(self) -> MongoClient:
        return self._collection.database.client


class SettingsMongoStore(_SettingsConnection, MongoStore):
    """maggma MongoStore on the alloyscreen database."""

    def __init__(self, collection_name: str, database_id: str | None = None, **kwargs):
        self.database_id = database_id
        super().__init__(database="alloyscreen", collection_name=collection_name, **kwargs)


class SettingsGridFSStore(_SettingsConnection, GridFSStore):
    """maggma GridFSStore on the alloyscreen database."""

    def __init__(self, collection_name: str, database_id: str | None = None, **kwargs):
        self.database_id = database_id
        super().__init__(database="alloyscreen", collection_name=collection_name, **kwargs)

    def _client(self) -> MongoClient:
        return self._files_collection.database.client


def _client_options(uri: str, settings: Settings) -> dict[str, Any]:
    """Client options for the stores and the LaunchPad: the settings' timeout and durable writes."""
    return {"serverSelectionTimeoutMS": settings.server_timeout_ms, **write_concern(uri)}


def get_job_store(database_id: str | None = None) -> JobStore:
    """Return the jobflow JobStore: documents in MongoDB, large data (``data=``) in GridFS.

    ``database_id``: the database a submitted campaign lives on; its jobs run on no other.
    """
    return JobStore(SettingsMongoStore(OUTPUTS, database_id),
                    additional_stores={"data": SettingsGridFSStore(DATA, database_id)})


def get_launchpad(settings: Settings | None = None) -> LaunchPad:
    """Return a FireWorks LaunchPad on the project database."""
    settings = settings or get_settings()
    uri = resolve_uri(settings)
    close_client(connect(uri, settings.server_timeout_ms, settings))  # one clear line if unreachable
    launchpad = LaunchPad(host=uri, uri_mode=True, name=settings.db_name, strm_lvl="WARNING",
                          mongoclient_kwargs=_client_options(uri, settings))
    if launchpad.fw_id_assigner.count_documents({}) == 0:  # a new database: initialise, as `lpad reset` would
        launchpad.fw_id_assigner.insert_one({"next_fw_id": 1, "next_launch_id": 1})
        launchpad.tuneup()  # as reset() does: same index options, so a later reset does not conflict
    return launchpad


def uri_store_spec(collection: str, kind: str = "MongoStore", settings: Settings | None = None) -> dict[str, Any]:
    """A maggma store in jobflow's ``type`` form (``kind``: MongoStore or GridFSStore) on the database in use.

    For config files that other programs read (jobflow-remote's project): the
    URI is written out, with the same client options as the LaunchPad's.
    """
    settings = settings or get_settings()
    uri = resolve_uri(settings)
    return {"type": kind, "uri": uri, "database": settings.db_name, "collection_name": collection,
            "mongoclient_kwargs": _client_options(uri, settings)}


def write_launchpad_file(path: Path, settings: Settings | None = None) -> Path:
    """Write ``my_launchpad.yaml`` for the database in use, for ``lpad``, ``rlaunch`` and ``qlaunch``.

    The file may hold a password: it is made readable by this user only (0600), also when it existed.
    """
    settings = settings or get_settings()
    uri = resolve_uri(settings)
    config = {
        "host": uri,
        "uri_mode": True,
        "name": settings.db_name,
        "logdir": None,
        "strm_lvl": "INFO",
        "mongoclient_kwargs": _client_options(uri, settings),
    }
    write_private(path, yaml.safe_dump(config, sort_keys=False))
    return path
