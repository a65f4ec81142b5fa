"""``alloyscreen db init``: collections with ``$jsonSchema`` validators and indexes; idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pymongo.database import Database

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


def _apply_collection(database: Database, spec: CollectionSpec) -> dict[str, Any]:
    validator = {"$jsonSchema": mongo_json_schema(spec.model)}
    existing = {info["name"]: info for info in database.list_collections(filter={"name": spec.name})}
    if spec.name not in existing:
        database.create_collection(spec.name, validator=validator, validationLevel="strict", validationAction="error")
        action = "created"
    elif existing[spec.name].get("options", {}).get("validator") != validator:
        database.command("collMod", spec.name, validator=validator, validationLevel="strict", validationAction="error")
        action = "updated"
    else:
        action = "unchanged"
    collection = database[spec.name]
    present = set(collection.index_information())
    new_indexes = []
    for index in spec.indexes:
        if index.name not in present:
            collection.create_index(list(index.keys), unique=index.unique, name=index.name)
            new_indexes.append(index.name)
    return {"collection": spec.name, "validator": action, "new_indexes": new_indexes}


def init_database(database: Database) -> list[dict[str, Any]]:
    """Create or update every collection's validator and indexes; return what changed."""
    return [_apply_collection(database, spec) for spec in COLLECTIONS]
