"""Canonical identity: normalised composition, formula, stable content-hash id, documents."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pydantic import ValidationError

from alloyscreen.candidates import CandidateSpace, candidate_id, canonical_composition, formula, prototype_from_vec
from alloyscreen.descriptors import FEATURE_SET, featurize
from alloyscreen.schemas.candidate import CandidateDocument


def test_same_composition_same_id_whatever_the_route():
    grid = CandidateSpace({"elements": ["Pt", "Pd", "Ni"], "n_components": 3, "prototype": "fcc",
                           "sampling": {"kind": "grid", "step": 0.25}})
    chunk = next(grid.iter_chunks())
    by_formula = {chunk.formula(i): chunk.ids([i])[0] for i in range(len(chunk))}
    explicit = CandidateSpace({"prototype": "fcc", "sampling": {"kind": "explicit", "compositions": [
        {"Ni": 2, "Pt": 1, "Pd": 1}]}})
    other = next(explicit.iter_chunks())
    assert other.ids() == [by_formula["Ni0.5Pd0.25Pt0.25"]]
    assert candidate_id(other.composition(0), "bcc") != other.ids()[0]


def test_id_is_the_content_hash_of_canonical_composition_and_prototype():
    composition = canonical_composition(("Pt", "Pd", "Fe"), np.array([2.0, 1.0, 1.0]))
    assert composition == {"Fe": 0.25, "Pd": 0.25, "Pt": 0.5}
    assert formula(composition) == "Fe0.25Pd0.25Pt0.5"
    canonical = b'{"composition":{"Fe":0.25,"Pd":0.25,"Pt":0.5},"prototype":"fcc"}'
    assert candidate_id(composition, "fcc") == hashlib.sha256(canonical).hexdigest()[:24] == "1d6da7bf5e7babdb3043d3e7"
    assert candidate_id({"Fe": 0.25, "Pd": 0.25, "Pt": 0.5 + 1e-13}, "fcc") == candidate_id(composition, "fcc")


def test_documents_carry_identity_and_descriptors():
    space = CandidateSpace({"elements": ["Co", "Cr", "Fe", "Mn", "Ni"], "n_components": 5,
                            "sampling": {"kind": "grid", "step": 0.2}})
    chunk = next(space.iter_chunks())
    table = featurize(chunk.compositions(), columns=["vec", "delta_h_mix"])
    (doc,) = chunk.documents(descriptors=table, campaign_id="c1")
    stored = doc.to_mongo()
    assert stored["_id"] == chunk.ids()[0] and stored["prototype"] == "fcc"
    assert stored["formula"] == "Co0.2Cr0.2Fe0.2Mn0.2Ni0.2" and stored["n_components"] == 5
    assert stored["descriptors"]["vec"] == pytest.approx(8.0) and stored["feature_set"] == FEATURE_SET
    assert CandidateDocument.from_mongo(stored) == doc


def test_document_rejects_dotted_keys():
    with pytest.raises(ValidationError):
        CandidateDocument(id="x", composition={"Pt.1": 1.0}, formula="Pt", prototype="fcc", elements=["Pt"],
                          n_components=1)


def test_vec_rule_boundaries():
    vec = np.array([8.0, 7.99, 7.435, 7.43, 6.87, 6.869])
    assert list(prototype_from_vec(vec)) == ["fcc", "fcc", "fcc", "bcc", "bcc", "bcc"]
    assert list(prototype_from_vec(vec, "fcc")) == ["fcc"] * 5 + ["bcc"]
    assert list(prototype_from_vec(vec, "bcc")) == ["fcc"] + ["bcc"] * 5
