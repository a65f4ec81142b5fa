"""Writing documents: schema violations become one line naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from alloyscreen.errors import DatabaseError
from alloyscreen.schemas.base import Document

VALIDATION_FAILED = 121
DUPLICATE_KEY = 11000


def _violations(details: Any, path: str = "") -> list[str]:
    """Collect ``field: reason`` strings from MongoDB's validation ``errInfo`` details."""
    found: list[str] = []
    if isinstance(details, dict):
        name = details.get("propertyName")
        here = f"{path}.{name}" if name and path else (name or path)
        if "reason" in details:
            found.append(f"{here or '(document)'}: {details['reason']}")
        operator = details.get("operatorName")
        prefix = f"{path}." if path else ""
        if operator == "required":
            found.extend(f"{prefix}{name}: missing" for name in details.get("missingProperties", []))
        if operator == "additionalProperties":
            found.extend(f"{prefix}{name}: not allowed" for name in details.get("additionalProperties", []))
        for key, value in details.items():
            if key != "specifiedAs" and isinstance(value, (dict, list)):
                found.extend(_violations(value, here))
    elif isinstance(details, list):
        for item in details:
            found.extend(_violations(item, path))
    return list(dict.fromkeys(found))


def validation_message(collection: str, error_details: Mapping[str, Any]) -> str:
    """One line naming the fields of a document the collection's validator rejected."""
    info = error_details.get("errInfo", {})
    fields = _violations(info.get("details", {})) or [error_details.get("errmsg", "failed validation")]
    return f"{collection} document {info.get('failingDocumentId')!r} rejected by schema: {'; '.join(fields)}"


def _as_raw(document: Document | dict[str, Any]) -> dict[str, Any]:
    return document.to_mongo() if isinstance(document, Document) else document


def insert_document(collection: Collection, document: Document | dict[str, Any]) -> bool:
    """Insert one document; return False when its ``_id`` already exists (content ids: same content)."""
    try:
        collection.insert_one(_as_raw(document))
    except DuplicateKeyError:
        return False
    except WriteError as error:
        if error.code == VALIDATION_FAILED:
            raise DatabaseError(validation_message(collection.name, error.details or {})) from None
        raise
    return True


def insert_many(collection: Collection, documents: Iterable[Document | dict[str, Any]], batch: int = 1000) -> int:
    """Insert documents in unordered batches, skipping existing ids; return how many were new."""
    inserted = 0
    chunk: list[dict[str, Any]] = []

    def flush() -> int:
        if not chunk:
            return 0
        try:
            return len(collection.insert_many(chunk, ordered=False).inserted_ids)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            rejected = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if rejected:
                raise DatabaseError(validation_message(collection.name, rejected[0])) from None
            return error.details.get("nInserted", 0)
        finally:
            chunk.clear()

    for document in documents:
        chunk.append(_as_raw(document))
        if len(chunk) >= batch:
            inserted += flush()
    return inserted + flush()
