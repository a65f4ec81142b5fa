import multiprocessing
import uuid

import pytest
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from alloyscreen.db.client import resolve_uri
from alloyscreen.db.collections import COLLECTIONS
from alloyscreen.db.documents import insert_document, insert_many
from alloyscreen.db.init import init_database
from alloyscreen.db.jsonschema import mongo_json_schema
from alloyscreen.errors import DatabaseError
from alloyscreen.schemas.campaign import CampaignDocument


def _campaign(identifier: str, **fields) -> CampaignDocument:
    return CampaignDocument(_id=identifier, name="c", spec={"seed": 1}, spec_hash=identifier, **fields)


def test_init_creates_every_collection_and_is_idempotent(database):
    names = set(database.list_collection_names())
    assert {spec.name for spec in COLLECTIONS} <= names
    again = init_database(database)
    assert all(change["validator"] == "unchanged" and not change["new_indexes"] for change in again)


def test_validator_rejects_a_bad_document_naming_the_field(database):
    with pytest.raises(DatabaseError) as error:
        insert_document(database["campaigns"], {"_id": "bad", "name": 42, "spec": {}, "spec_hash": "h"})
    message = str(error.value)
    assert "campaigns" in message and "name" in message and "\n" not in message
    assert database["campaigns"].count_documents({"_id": "bad"}) == 0


def test_validator_rejects_missing_and_unknown_fields(database):
    with pytest.raises(DatabaseError, match="spec_hash: missing"):
        insert_document(database["campaigns"], {"_id": "m", "name": "x", "spec": {}})
    with pytest.raises(DatabaseError, match="colour: not allowed"):
        insert_document(database["campaigns"], {"_id": "u", "name": "x", "spec": {}, "spec_hash": "h", "colour": 1})
    with pytest.raises(DatabaseError, match="status"):
        insert_document(database["campaigns"], _campaign("s").to_mongo() | {"status": "exploded"})


def test_valid_document_round_trips_and_ids_are_unique(database):
    document = _campaign("round-trip", iteration=3, budgets_spent={"qe_core_hours": 1.5})
    assert insert_document(database["campaigns"], document) is True
    assert insert_document(database["campaigns"], document) is False
    with pytest.raises(DuplicateKeyError):
        database["campaigns"].insert_one(document.to_mongo())
    stored = CampaignDocument.from_mongo(database["campaigns"].find_one({"_id": "round-trip"}))
    assert stored.budgets_spent == {"qe_core_hours": 1.5}
    assert stored.provenance.versions["alloyscreen"]


def test_insert_many_batches_and_skips_existing(database):
    documents = [_campaign(f"batch-{i}") for i in range(25)]
    assert insert_many(database["campaigns"], documents[:10], batch=4) == 10
    assert insert_many(database["campaigns"], documents, batch=4) == 15
    assert database["campaigns"].count_documents({"_id": {"$regex": "^batch-"}}) == 25


def _init_at_once(uri: str, name: str, barrier) -> None:
    barrier.wait(timeout=60)
    with MongoClient(uri) as client:
        init_database(client[name])


def test_concurrent_init_of_a_fresh_database_succeeds_everywhere(database):
    uri, name = resolve_uri(start=False), f"race_{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    workers = [context.Process(target=_init_at_once, args=(uri, name, barrier)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    with MongoClient(uri) as client:
        fresh = client[name]
        for spec in COLLECTIONS:
            options = next(fresh.list_collections(filter={"name": spec.name}))["options"]
            assert options["validator"] == {"$jsonSchema": mongo_json_schema(spec.model)}
            assert {index.name for index in spec.indexes} <= set(fresh[spec.name].index_information())
        assert all(change["validator"] == "unchanged" and not change["new_indexes"] for change in init_database(fresh))
        client.drop_database(name)
