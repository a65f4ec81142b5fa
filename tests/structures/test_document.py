"""The structures document: id, round trip, keys safe for MongoDB."""

import json

from alloyscreen.hashing import content_hash
from alloyscreen.schemas.base import Document
from alloyscreen.schemas.structure import BulkGenerator, SlabGenerator, StructureDocument
from alloyscreen.structures.adsorption import find_sites, place_adsorbate
from alloyscreen.structures.bulk import special_quasirandom_structure
from alloyscreen.structures.slabs import make_slab


def _keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_bulk_document_round_trip_and_id():
    generated = special_quasirandom_structure({"Ni": 0.5, "Cr": 0.5}, "fcc", seed=2, iterations=5000)
    document = generated.to_document(candidate_id="cand1")
    assert isinstance(document, Document)
    raw = document.to_mongo()
    key = {"structure": raw["structure"], "generator": raw["generator"], "site": None}
    assert raw["_id"] == content_hash(key)
    assert raw["kind"] == "bulk-sqs" and raw["n_atoms"] == 32 and raw["candidate_id"] == "cand1"
    assert not [key for key in _keys(raw) if "." in key]
    back = StructureDocument.from_mongo(raw)
    assert isinstance(back.generator, BulkGenerator) and back == document


def test_slab_adsorbate_document():
    slab = make_slab({"Pt": 0.5, "Ni": 0.5}, "fcc", seed=1)
    site = find_sites(slab.structure)[0]
    placed = place_adsorbate(slab, site, "O").to_document()
    raw = placed.to_mongo()
    assert raw["kind"] == "slab-adsorbate" and raw["site"]["adsorbate"] == "O"
    assert raw["n_atoms"] == len(slab.structure) + 1
    assert not [key for key in _keys(raw) if "." in key]
    json.dumps(raw["structure"])  # plain JSON types only (no numpy arrays from ASE)
    back = StructureDocument.from_mongo(raw)
    assert isinstance(back.generator, SlabGenerator) and back.site == placed.site
    other_site = place_adsorbate(slab, find_sites(slab.structure)[1], "O").to_document()
    assert other_site.id != placed.id != slab.to_document().id


def test_structure_documents_pass_the_database_validator(database):
    from alloyscreen.db.documents import insert_document

    bulk = special_quasirandom_structure({"Ni": 0.5, "Cr": 0.5}, "fcc", seed=3, iterations=2000).to_document()
    slab = make_slab({"Pt": 0.5, "Ni": 0.5}, "fcc", seed=1)
    adsorbed = place_adsorbate(slab, find_sites(slab.structure)[0], "H").to_document()
    for document in (bulk, slab.to_document(), adsorbed):
        assert insert_document(database["structures"], document)
        stored = StructureDocument.from_mongo(database["structures"].find_one({"_id": document.id}))
        assert stored.kind == document.kind and stored.n_atoms == document.n_atoms
