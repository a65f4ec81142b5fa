"""Shards of a candidate space: addressed directly, and together the unsharded stream, chunk for chunk."""

from __future__ import annotations

import numpy as np
import pytest

from alloyscreen.candidates import CandidateSpace
from alloyscreen.candidates.grid import BoundedCompositions
from alloyscreen.errors import AlloyscreenError

PTPD = ["Pt", "Pd", "Fe", "Co", "Ni", "Cu"]
SPACES = {
    "grid, auto prototype": {"elements": PTPD, "n_components": 5, "required": ["Pt", "Pd"], "prototype": "auto",
                             "sampling": {"kind": "grid", "step": 0.1}},
    "grid, bounds and pairs": {"elements": PTPD + ["Al", "Ti"], "n_components": [2, 5], "required": ["Ni"],
                               "sampling": {"kind": "grid", "step": 1 / 12}, "excluded": ["Cu"],
                               "excluded_pairs": [["Al", "Ti"], ["Fe", "Co"]], "max_fraction": {"Ni": 0.5}},
    "dirichlet": {"elements": PTPD, "n_components": [2, 4], "max_fraction": {"Pt": 0.5},
                  "sampling": {"kind": "dirichlet", "n_samples": 5000, "seed": 3}},
    "sobol": {"elements": PTPD, "n_components": [3, 4], "sampling": {"kind": "sobol", "n_samples": 3000, "seed": 5}},
    "explicit": {"elements": PTPD, "prototype": "fcc", "sampling": {"kind": "explicit", "compositions": [
        "PtPd", "Pt3Fe", "FeCoNi", "PtPd", "CuNi", "Pd3Cu", "CoCu"]}},
    "windows": {"elements": PTPD, "n_components": [1, 4], "sampling": {"kind": "grid", "step": 0.1},
                "windows": {"vec": [8.5, None], "delta": [None, 0.05]}},
}


@pytest.mark.parametrize("lo, hi, total", [((1, 1, 1, 1), (20, 20, 20, 20), 20), ((2, 1, 3), (9, 4, 12), 16)])
def test_blocks_after_skip_are_the_rest_of_the_enumeration(lo, hi, total):
    enumerator = BoundedCompositions(lo, hi, total)
    full = np.concatenate(list(enumerator.blocks(7)))
    assert len(full) == enumerator.count()
    for skip in (0, 1, 6, 7, 50, len(full) - 1, len(full)):
        rest = list(BoundedCompositions(lo, hi, total).blocks(7, skip))
        assert all(len(block) <= 7 for block in rest)
        np.testing.assert_array_equal(np.concatenate(rest) if rest else full[:0], full[skip:])


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("chunk_size", [3, 64, 10**6])
def test_shards_together_are_the_stream_chunk_for_chunk(name, chunk_size):
    space = CandidateSpace(SPACES[name])
    whole = list(space.iter_chunks(chunk_size))
    for count in (2, 3, 5):
        shards = [list(space.iter_chunks(chunk_size, shard=(index, count))) for index in range(count)]
        union = sorted((chunk for shard in shards for chunk in shard), key=lambda chunk: chunk.start)
        assert [chunk.start for chunk in union] == [chunk.start for chunk in whole]
        for mine, theirs in zip(union, whole, strict=True):
            np.testing.assert_array_equal(mine.fractions, theirs.fractions)
            np.testing.assert_array_equal(mine.prototypes, theirs.prototypes)
    if name == "grid, bounds and pairs":
        assert [i for shard in shards for chunk in shard for i in chunk.ids()] == \
            [i for chunk in whole for i in chunk.ids()]


def test_a_grid_shard_prepares_only_its_own_part():
    space = CandidateSpace({"elements": ["Pt", "Pd", "Fe", "Co", "Ni", "Cu", "Cr", "Mn"], "n_components": 4,
                            "prototype": "auto", "sampling": {"kind": "grid", "step": 0.04}})
    whole = {chunk.start: chunk for chunk in space.iter_chunks(5000)}
    prepared = []
    finish = space._finish

    def counted(fractions):  # the prototype step featurizes every row it sees
        prepared.append(len(fractions))
        return finish(fractions)

    space._finish = counted
    for index in range(4):
        prepared.clear()
        chunks = list(space.iter_chunks(5000, shard=(index, 4)))
        rows = sum(len(chunk) for chunk in chunks)
        assert sum(prepared) == rows and abs(rows - space.size / 4) <= 5000
        assert [c.start for c in chunks] == list(range(chunks[0].start, chunks[0].start + 5000 * len(chunks), 5000))
        for chunk in chunks:
            np.testing.assert_array_equal(chunk.fractions, whole[chunk.start].fractions)
            np.testing.assert_array_equal(chunk.prototypes, whole[chunk.start].prototypes)


def test_bad_shard_is_one_line():
    with pytest.raises(AlloyscreenError, match="shard 3 of 3; allowed: 0 <= shard < count"):
        next(CandidateSpace(SPACES["explicit"]).iter_chunks(shard=(3, 3)))
