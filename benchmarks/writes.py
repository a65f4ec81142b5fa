"""Document writes: a round's predictions and selections through the project's path against a raw ``insert_many``.

Prints JSON. The project's path builds the documents with their provenance
(:func:`alloyscreen.surrogates.records.prediction_documents` and
:func:`~alloyscreen.surrogates.records.selection_documents`, as a round stores
them) and inserts them with :func:`alloyscreen.db.documents.insert_many`; the
raw path inserts the same dicts with pymongo's ``insert_many`` into the same
validated collection. Both run interleaved on the embedded database, in a
throwaway data dir under /tmp; the collection is emptied (untimed) before each
write, and the best of ``--repeats`` is kept.

    python benchmarks/writes.py [--docs 2000] [--repeats 3] [--quick]

``--quick`` (a check of the script, not a figure): 50 documents, one repeat.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from scratch import scratch_database

from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_many
from alloyscreen.db.init import init_database
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.surrogates.records import Scored, prediction_documents, selection_documents
from alloyscreen.surrogates.selection import Batch

CAMPAIGN, MODEL, TARGET, ACQUISITION = "bench-campaign", "bench-model", "mixing_energy_per_atom", "ei"


def _scored(n: int) -> Scored:
    """A scored slice of ``n`` synthetic candidates."""
    rng = np.random.default_rng(0)
    mean = rng.normal(size=n)
    return Scored(np.array([f"c{i:07d}" for i in range(n)]), mean, rng.random(n), -mean)


def _batch(n: int) -> Batch:
    """A chosen batch of ``n`` synthetic candidates."""
    rng = np.random.default_rng(1)
    return Batch(np.arange(n), np.array([f"c{i:07d}" for i in range(n)]), rng.normal(size=n), ["best score"] * n)


def project_writers(n: int) -> dict[str, Callable[[Any], int]]:
    """Per collection, a function writing ``n`` documents through the project's path; returns how many were new."""
    scored, batch = _scored(n), _batch(n)

    def predictions(database) -> int:
        provenance = current_job_provenance(campaign_id=CAMPAIGN, parents=[MODEL])
        documents = prediction_documents(scored, CAMPAIGN, 1, MODEL, TARGET, ACQUISITION, top=n, provenance=provenance)
        return insert_many(database["predictions"], documents)

    def selections(database) -> int:
        provenance = current_job_provenance(campaign_id=CAMPAIGN, parents=[MODEL])
        documents = selection_documents(batch, CAMPAIGN, 1, ACQUISITION, MODEL, provenance=provenance)
        return insert_many(database["selections"], documents)

    return {"predictions": predictions, "selections": selections}


def timed(write: Callable[[], int], collection, expected: int) -> float:
    """Seconds ``write`` takes on the emptied ``collection``; checks it inserted ``expected`` documents."""
    collection.delete_many({})
    start = time.perf_counter()
    inserted = write()
    elapsed = time.perf_counter() - start
    assert inserted == expected == collection.count_documents({}), (inserted, expected)
    return elapsed


def raw_insert(collection, documents: list[dict]) -> int:
    """Insert ``documents`` with pymongo alone; return how many were inserted."""
    return len(collection.insert_many(documents, ordered=False).inserted_ids)


def compare(database, name: str, write: Callable[[Any], int], n: int, repeats: int) -> dict:
    """Best docs/s of the project's path and of a raw ``insert_many`` of the same dicts (as stored), and their ratio."""
    collection = database[name]
    project, raw = [], []
    for _ in range(repeats):
        project.append(timed(partial(write, database), collection, n))
        raw.append(timed(partial(raw_insert, collection, list(collection.find({}))), collection, n))
    collection.delete_many({})
    project_s, raw_s = min(project), min(raw)
    return {"collection": name, "docs": n, "project_docs_per_s": round(n / project_s),
            "raw_insert_many_docs_per_s": round(n / raw_s), "ratio": round(raw_s / project_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50 documents, one repeat")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(docs=50, repeats=1)  # what is given explicitly still counts
        args = parser.parse_args()

    with scratch_database("writes"):
        database = get_database()
        init_database(database)
        results = [compare(database, name, write, args.docs, args.repeats)
                   for name, write in project_writers(args.docs).items()]
    print(json.dumps({"benchmark": "writes", "repeats": args.repeats, "results": results}, indent=2))


if __name__ == "__main__":
    main()
