"""Asking for some columns gives the values of the full computation; the numpy engine computes only those."""

from __future__ import annotations

import numpy as np
import pytest

from alloyscreen.descriptors import COLUMNS, Compositions, featurize, hea, magpie

POOL = ["Al", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zr", "Nb", "Mo", "Pd", "Ag", "Hf", "Ta", "W", "Pt", "Au"]


@pytest.fixture(scope="module")
def comps() -> Compositions:
    """300 compositions of 1-9 elements; every 5th equimolar (ties in the mode)."""
    rng = np.random.default_rng(5)
    dense = np.zeros((300, len(POOL)))
    for row in dense:
        chosen = rng.choice(len(POOL), int(rng.integers(1, 10)), replace=False)
        row[chosen] = 1.0 if rng.random() < 0.2 else rng.dirichlet(np.ones(len(chosen)))
    return Compositions.from_dense(POOL, dense)


@pytest.mark.parametrize("engine", ["fused", "numpy"])
def test_every_column_alone_and_random_subsets_equal_the_full_computation(comps, engine):
    full = featurize(comps, engine=engine)
    rng = np.random.default_rng(0)
    subsets = [[name] for name in COLUMNS] + [list(rng.choice(COLUMNS, 12, replace=False)) for _ in range(10)]
    for wanted in subsets:
        table = featurize(comps, wanted, engine=engine)
        assert set(table.columns) == set(wanted)
        for name in wanted:
            np.testing.assert_array_equal(table.column(name), full.column(name), err_msg=name)


@pytest.fixture
def unused(monkeypatch):
    """Make the costly parts of other columns fail when called; record the magpie properties read."""

    def fail(*_args, **_kwargs):
        raise AssertionError("computed a part no asked column needs")

    for module, name in ((hea, "_packing_efficiency"), (hea, "mixing_enthalpy"), (magpie, "_mode")):
        monkeypatch.setattr(module, name, fail)
    read: list[tuple[str, ...]] = []
    table = magpie.property_table

    def recorded(properties):
        read.append(properties)
        return table(properties)

    monkeypatch.setattr(magpie, "property_table", recorded)
    return read


def test_unrequested_groups_are_not_computed_by_the_numpy_engine(comps, unused):
    table = featurize(comps, ["vec", "delta", "MagpieData mean MeltingT", "MagpieData range Number"], engine="numpy")
    assert table.values.shape == (300, 4)
    assert set(unused) == {("Number", "MeltingT")}
    with pytest.raises(AssertionError, match="no asked column"):
        featurize(comps, ["omega"], engine="numpy")
    with pytest.raises(AssertionError, match="no asked column"):
        featurize(comps, ["MagpieData mode Row"], engine="numpy")
