"""Candidate spaces: exact size without enumeration, stable chunked stream, constraints, samplers."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from alloyscreen.candidates import CandidateSpace
from alloyscreen.descriptors import featurize

PTPD = ["Pt", "Pd", "Fe", "Co", "Ni", "Cu"]


def stream(space: CandidateSpace, chunk_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(space.iter_chunks(chunk_size))
    assert [c.start for c in chunks] == [i * chunk_size for i in range(len(chunks))]
    assert all(len(c) == chunk_size for c in chunks[:-1])
    return np.concatenate([c.fractions for c in chunks]), np.concatenate([c.prototypes for c in chunks])


SMALL_SPACES = [
    {"elements": PTPD, "n_components": 5, "required": ["Pt", "Pd"], "sampling": {"kind": "grid", "step": 0.05}},
    {"elements": PTPD, "n_components": [1, 4], "sampling": {"kind": "grid", "step": 0.1},
     "min_fraction": {"Pt": 0.2, "Cu": 0.15}, "max_fraction": {"Fe": 0.3, "Pd": 0.5}},
    {"elements": PTPD + ["Al", "Ti"], "n_components": [2, 5], "sampling": {"kind": "grid", "step": 1 / 12},
     "required": ["Ni"], "excluded": ["Cu"], "excluded_pairs": [["Al", "Ti"], ["Fe", "Co"], ["Al", "Pt"]],
     "max_fraction": {"Ni": 0.5}, "prototype": "fcc"},
    {"elements": ["Fe", "Co", "Ni"], "n_components": [1, 3], "sampling": {"kind": "grid", "step": 0.25},
     "prototype": "bcc"},
    {"elements": ["Fe", "Co", "Ni", "Cr"], "n_components": [2, 3], "sampling": {"kind": "grid", "step": 0.1},
     "max_fraction": {"Cr": 0.05}, "min_fraction": {"Fe": 0.75}, "prototype": "hcp"},
]


@pytest.mark.parametrize("spec", SMALL_SPACES)
def test_size_equals_enumerated_count_and_constraints_hold(spec):
    space = CandidateSpace(spec)
    fractions, prototypes = stream(space, chunk_size=777)
    assert space.size == len(fractions) == space.count()
    assert len(np.unique(fractions.round(12), axis=0)) == len(fractions)
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0)
    step = spec["sampling"]["step"]
    np.testing.assert_allclose(fractions / step, np.round(fractions / step), atol=1e-9)
    present = fractions > 0
    lo, hi = np.atleast_1d(spec["n_components"])[[0, -1]]
    assert ((present.sum(1) >= lo) & (present.sum(1) <= hi)).all()
    column = {e: i for i, e in enumerate(spec["elements"])}
    for element in spec.get("required", []):
        assert present[:, column[element]].all()
    for element in spec.get("excluded", []):
        assert not present[:, column[element]].any()
    for a, b in spec.get("excluded_pairs", []):
        assert not (present[:, column[a]] & present[:, column[b]]).any()
    for element, low in spec.get("min_fraction", {}).items():
        assert (fractions[present[:, column[element]], column[element]] >= low - 1e-12).all()
    for element, high in spec.get("max_fraction", {}).items():
        assert (fractions[:, column[element]] <= high + 1e-12).all()
    assert set(prototypes) <= {"fcc", "bcc", "hcp"}


def test_ptpd_family_size_is_stars_and_bars():
    space = CandidateSpace(SMALL_SPACES[0])
    assert space.size == comb(4, 3) * comb(19, 4)


def test_huge_space_size_is_computed_not_enumerated():
    elements = ["Al", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag", "Hf",
                "Ta", "W", "Re", "Os", "Ir", "Pt", "Au"]
    space = CandidateSpace({"elements": elements, "n_components": [2, 6], "sampling": {"kind": "grid", "step": 0.01}})
    assert space.size == sum(comb(24, k) * comb(99, k - 1) for k in range(2, 7))
    assert space.size > 1e12


def test_stream_is_stable_across_chunk_sizes_and_runs():
    spec = SMALL_SPACES[2]
    first, _ = stream(CandidateSpace(spec), chunk_size=50)
    second, _ = stream(CandidateSpace(spec), chunk_size=4096)
    np.testing.assert_array_equal(first, second)
    # grid order: by number of components, then subsets, then lexicographic integer vectors
    counts = (first > 0).sum(axis=1)
    assert (np.diff(counts) >= 0).all()


@pytest.mark.parametrize("kind", ["dirichlet", "sobol"])
def test_samplers_are_seeded_bounded_and_sized(kind):
    spec = {"elements": PTPD, "required": ["Pt"], "n_components": [3, 4], "max_fraction": {"Pt": 0.3},
            "min_fraction": {"Fe": 0.05}, "sampling": {"kind": kind, "n_samples": 5000, "seed": 11}}
    space = CandidateSpace(spec)
    assert space.size == 5000
    fractions, _ = stream(space, chunk_size=999)
    again, _ = stream(CandidateSpace(spec), chunk_size=4096)
    np.testing.assert_array_equal(fractions, again)
    other, _ = stream(CandidateSpace({**spec, "sampling": {**spec["sampling"], "seed": 12}}))
    assert not np.array_equal(fractions, other)
    assert len(fractions) == 5000
    present = fractions > 0
    assert present[:, 0].all() and (fractions[:, 0] <= 0.3).all()
    assert (fractions[present[:, 2], 2] >= 0.05).all()
    assert set(present.sum(axis=1)) == {3, 4}
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0)


def test_auto_prototype_follows_vec_rule():
    formulas = ["CoCrFeMnNi", "AlCoCrFeNi", "MoNbTaW", "Cu"]
    spec = {"sampling": {"kind": "explicit", "compositions": formulas}}
    fractions, prototypes = stream(CandidateSpace(spec))
    assert list(prototypes) == ["fcc", "bcc", "bcc", "fcc"]  # VEC 8.0, 7.2, 5.5, 11
    _, mixed_fcc = stream(CandidateSpace({**spec, "mixed_prototype": "fcc"}))
    assert list(mixed_fcc) == ["fcc", "fcc", "bcc", "fcc"]


def test_descriptor_windows_filter_the_stream():
    spec = {**SMALL_SPACES[1], "windows": {"vec": [8.5, None], "delta": [None, 0.05]}}
    space = CandidateSpace(spec)
    assert not space.size_is_exact
    fractions, _ = stream(space, chunk_size=100)
    table = featurize(next(space.iter_chunks(10**6)).compositions(), columns=["vec", "delta"])
    assert 0 < len(fractions) == space.count() < space.size
    assert (table.column("vec") >= 8.5).all() and (table.column("delta") <= 0.05).all()


def test_explicit_list_is_filtered_and_deduplicated():
    spec = {"elements": PTPD, "required": ["Pt"], "n_components": [2, 3], "prototype": "fcc",
            "sampling": {"kind": "explicit", "compositions": [
                "PtPd", {"Pt": 2, "Pd": 2}, "Pt0.5Pd0.5", "FeCo", "PtFeCoNi", {"Pt": 1, "Cu": 3}]}}
    space = CandidateSpace(spec)
    assert space.size == 2
    chunk = next(space.iter_chunks())
    assert [chunk.formula(i) for i in range(2)] == ["Pd0.5Pt0.5", "Cu0.75Pt0.25"]


def test_chunks_carry_the_descriptors_computed_while_made_and_scoring_uses_them():
    spec = {**SMALL_SPACES[1], "prototype": "auto", "windows": {"delta": [None, 0.05]}}
    chunks = list(CandidateSpace(spec).iter_chunks(100))  # windows drop rows: chunks join several blocks
    assert len(chunks) > 2
    for chunk in chunks:
        fresh = featurize(chunk.compositions(), columns=["vec", "delta"])
        assert set(chunk.descriptors) == {"vec", "delta"}
        np.testing.assert_array_equal(chunk.descriptors["vec"], fresh.column("vec"))
        np.testing.assert_array_equal(chunk.descriptors["delta"], fresh.column("delta"))
        whole = featurize(chunk.compositions())
        reused = featurize(chunk.compositions(), None, chunk.descriptors)
        assert reused.columns == whole.columns
        np.testing.assert_array_equal(reused.values, whole.values)
    marked = featurize(chunks[0].compositions(), ["vec", "delta"], {"vec": np.full(len(chunks[0]), -1.0)})
    assert (marked.column("vec") == -1.0).all()  # a known column is taken, not computed again
    assert not (marked.column("delta") == -1.0).any()
