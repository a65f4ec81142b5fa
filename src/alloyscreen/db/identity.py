"""Which database a campaign lives on: an id kept in the database itself, checked where its jobs run.

A FireWorks worker whose environment names no database (it would start an
embedded server of its own) or another one would otherwise write part of a
campaign elsewhere. A submitted campaign's job store carries the id of the
database it was submitted to, and its jobs refuse to run on any other.
"""

from __future__ import annotations

import uuid

from pymongo.database import Database

from alloyscreen.db.client import described, get_client, resolve_uri
from alloyscreen.errors import DatabaseError
from alloyscreen.settings import Settings, get_settings

COLLECTION = "meta"
KEY = {"_id": "database"}


def database_id(database: Database) -> str:
    """The id of ``database`` (made at its first use; concurrent callers get the same)."""
    database[COLLECTION].update_one(KEY, {"$setOnInsert": {"uuid": uuid.uuid4().hex}}, upsert=True)
    return database[COLLECTION].find_one(KEY, {"uuid": 1})["uuid"]  # type: ignore[index]  # upserted above


def campaign_database_uri(expected: str, settings: Settings | None = None) -> str:
    """The URI of the database with id ``expected``, as this process's settings name it; no server is started.

    Raises
    ------
    DatabaseError
        The settings name no database here, or one with another id: one line saying what is expected.
    """
    settings = settings or get_settings()
    allowed = ("allowed: the ALLOYSCREEN_MONGO_URI and ALLOYSCREEN_DB_NAME the campaign was submitted with, in "
               "the worker's environment (e.g. the queue adapter's pre_rocket)")
    try:
        uri = resolve_uri(settings, start=False)
    except DatabaseError:
        raise DatabaseError(f"no database for this campaign's job (database id {expected}): ALLOYSCREEN_MONGO_URI "
                            f"is not set here and no embedded server runs in {settings.embedded_dir}; "
                            f"{allowed}") from None
    found = (get_client(settings)[settings.db_name][COLLECTION].find_one(KEY) or {}).get("uuid")
    if found != expected:
        raise DatabaseError(f"database {settings.db_name!r} (from {settings.source_of('db_name')}) at "
                            f"{described(uri, settings)} is not this campaign's: its id is {found}, the "
                            f"campaign's {expected}; {allowed}")
    return uri
