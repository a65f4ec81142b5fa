"""The model registry: serialized surrogates in GridFS, described in ``models``, loaded back by id."""

from __future__ import annotations

import gridfs
from bson import ObjectId
from pymongo.database import Database

from alloyscreen.db.documents import insert_document
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import ModelDocument
from alloyscreen.surrogates.registry import load_model

BUCKET = "model_files"


def store_model(database: Database, document: ModelDocument, blob: bytes) -> ModelDocument:
    """Store ``blob`` and its document once (the id is the hash of the bytes); return the stored document."""
    found = database["models"].find_one({"_id": document.id})
    if found is not None:
        return ModelDocument.from_mongo(found)
    file_id = gridfs.GridFS(database, BUCKET).put(blob, filename=document.id)
    stored = document.model_copy(update={"gridfs_id": str(file_id)})
    insert_document(database["models"], stored)
    return stored


def load_stored_model(database: Database, model_id: str):
    """Return the surrogate stored as ``model_id``, rebuilt from its bytes (predictions reproduce exactly)."""
    found = database["models"].find_one({"_id": model_id})
    if found is None:
        known = [doc["_id"] for doc in database["models"].find({}, {"_id": 1}).sort("provenance.created_at", -1)
                 .limit(5)]
        raise AlloyscreenError(f"no model with id {model_id!r}; latest: {', '.join(known) or 'none stored'}")
    blob = gridfs.GridFS(database, BUCKET).get(ObjectId(found["gridfs_id"])).read()
    return load_model(found["kind"], blob)
