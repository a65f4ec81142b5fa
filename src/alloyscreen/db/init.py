"""``alloyscreen db init``: collections with ``$jsonSchema`` validators and indexes; idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure

from alloyscreen.db.collections import COLLECTIONS, CollectionSpec
from alloyscreen.db.jsonschema import mongo_json_schema


def schema_file_contents() -> dict[str, str]:
    """Return ``{file name: JSON text}`` of every collection's generated schema."""
    return {
        f"{spec.name}.json": json.dumps(mongo_json_schema(spec.model), indent=2, sort_keys=True) + "\n"
        for spec in COLLECTIONS
    }


def write_schema_files(directory: Path) -> list[Path]:
    """Write ``db_schemas/*.json``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_file_contents().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


NAMESPACE_EXISTS = 48


def _created(database: Database, name: str, options: dict[str, Any]) -> bool:
    """Create collection ``name``; False when it exists (another process may have created it just now)."""
    if next(database.list_collections(filter={"name": name}), None) is not None:
        return False
    try:
        database.create_collection(name, check_exists=False, **options)
    except OperationFailure as error:
        if error.code != NAMESPACE_EXISTS:
            raise
        return False
    return True


def _apply_validator(database: Database, spec: CollectionSpec) -> str:
    """Create the collection or bring its validator up to date; return "created", "updated" or "unchanged"."""
    options: dict[str, Any] = {
        "validator": {"$jsonSchema": mongo_json_schema(spec.model)}, "validationLevel": "strict",
        "validationAction": "error",
    }
    if _created(database, spec.name, options):
        return "created"
    info = next(database.list_collections(filter={"name": spec.name}), {})
    if all(info.get("options", {}).get(key) == value for key, value in options.items()):
        return "unchanged"
    database.command("collMod", spec.name, **options)  # idempotent: a concurrent collMod sets the same
    return "updated"


def _apply_collection(database: Database, spec: CollectionSpec) -> dict[str, Any]:
    action = _apply_validator(database, spec)
    collection = database[spec.name]
    present = set(collection.index_information())
    new_indexes = [index for index in spec.indexes if index.name not in present]
    for index in new_indexes:  # an identical index created meanwhile by another process makes this a no-op
        collection.create_index(list(index.keys), unique=index.unique, name=index.name)
    return {"collection": spec.name, "validator": action, "new_indexes": [index.name for index in new_indexes]}


def init_database(database: Database) -> list[dict[str, Any]]:
    """Create or update every collection's validator and indexes; return what changed.

    Safe when several processes initialise one database at once: a collection or
    index another process created meanwhile is taken as it is.
    """
    return [_apply_collection(database, spec) for spec in COLLECTIONS]
