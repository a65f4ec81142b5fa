"""Magpie statistics against matminer's ElementProperty.from_preset("magpie") itself."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

from alloyscreen.descriptors import COLUMNS, Compositions, featurize
from alloyscreen.descriptors.magpie import COLUMNS as MAGPIE_COLUMNS


def random_compositions(n: int, seed: int) -> list[dict[str, float]]:
    """Random compositions over Z = 1..94 (imputed elements included): 1-8 elements,
    Dirichlet fractions, every 4th equimolar (ties in the mode), every 7th on a 0.05 grid."""
    from pymatgen.core.periodic_table import Element

    rng = np.random.default_rng(seed)
    symbols = [Element.from_Z(z).symbol for z in range(1, 95)]
    out = []
    for i in range(n):
        k = int(rng.integers(1, 9))
        elements = rng.choice(symbols, k, replace=False)
        if i % 4 == 0:
            fractions = np.full(k, 1.0 / k)
        elif i % 7 == 0:
            fractions = rng.multinomial(20 - k, np.full(k, 1.0 / k)) + 1.0
        else:
            fractions = rng.dirichlet(np.ones(k))
        out.append(dict(zip(elements.tolist(), (fractions / fractions.sum()).tolist(), strict=True)))
    return out


@pytest.fixture(scope="module")
def compositions() -> list[dict[str, float]]:
    return random_compositions(1200, seed=7)


def test_labels_are_matminer_labels():
    assert list(MAGPIE_COLUMNS) == ElementProperty.from_preset("magpie").feature_labels()
    assert len(set(COLUMNS)) == len(COLUMNS)


def test_equal_to_matminer_on_random_compositions(compositions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        featurizer = ElementProperty.from_preset("magpie")
        expected = np.array([featurizer.featurize(Composition(c)) for c in compositions], dtype=float)
    table = featurize(Compositions.from_dicts(compositions), columns=list(MAGPIE_COLUMNS))
    assert table.values.shape == expected.shape == (1200, 132)
    np.testing.assert_allclose(table.values, expected, rtol=1e-6, atol=1e-10)


def test_column_subset_equals_full_set(compositions):
    comps = Compositions.from_dicts(compositions[:100])
    full = featurize(comps)
    wanted = ["MagpieData mode Electronegativity", "vec", "MagpieData avg_dev MeltingT"]
    subset = featurize(comps, columns=wanted)
    assert subset.columns == ("vec", "MagpieData avg_dev MeltingT", "MagpieData mode Electronegativity")
    for name in subset.columns:
        np.testing.assert_array_equal(subset.column(name), full.column(name))


def test_mode_picks_smallest_value_on_ties():
    # Fe (Z=26) and Ni (Z=28) equal, Cu less: mode of Number is 26; Ni dominant: 28
    table = featurize(Compositions.from_dicts([{"Fe": 0.4, "Ni": 0.4, "Cu": 0.2}, {"Fe": 0.3, "Ni": 0.5, "Cu": 0.2}]),
                      columns=["MagpieData mode Number", "MagpieData mean Number"])
    np.testing.assert_allclose(table.column("MagpieData mode Number"), [26, 28])
    means = [0.4 * 26 + 0.4 * 28 + 0.2 * 29, 0.3 * 26 + 0.5 * 28 + 0.2 * 29]
    np.testing.assert_allclose(table.column("MagpieData mean Number"), means)
