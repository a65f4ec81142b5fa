"""The compiled one-pass kernel against the numpy reference (which the matminer tests hold to matminer)."""

from __future__ import annotations

import numpy as np
import pytest

from alloyscreen.descriptors import COLUMNS, Compositions, featurize
from alloyscreen.descriptors.elementdata import symbols
from alloyscreen.descriptors.hea import COLUMNS as HEA_COLUMNS
from alloyscreen.errors import AlloyscreenError


@pytest.fixture(scope="module")
def comps() -> Compositions:
    """3000 compositions over H..Pu (imputed element data included): 1-8 elements; every 3rd equimolar
    (ties in the mode), every 5th on a 0.05 grid, the rest Dirichlet."""
    rng = np.random.default_rng(11)
    n, pool = 3000, list(symbols()[1:95])
    k = rng.integers(1, 9, size=n)
    chosen = np.argsort(rng.random((n, len(pool))), axis=1) < k[:, None]
    amounts = np.where(np.arange(n)[:, None] % 3 == 0, 1.0, rng.gamma(1.0, size=(n, len(pool))))
    amounts = np.where(np.arange(n)[:, None] % 5 == 1, np.ceil(amounts * 10) / 20, amounts)
    return Compositions.from_dense(pool, np.where(chosen, amounts, 0.0))


def assert_same(ours: np.ndarray, reference: np.ndarray) -> None:
    """Equal to 1e-12 relative (1e-13 absolute near zero), NaN where the reference has NaN."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-13)


def test_every_column_equals_the_numpy_reference(comps):
    fused, reference = featurize(comps), featurize(comps, engine="numpy")
    assert fused.columns == reference.columns == COLUMNS
    assert_same(fused.values, reference.values)


def test_column_subsets_equal_the_full_set_bit_for_bit(comps):
    full = featurize(comps)
    for wanted in (["vec"], ["MagpieData mode Number", "omega"], list(HEA_COLUMNS), ["MagpieData range GSmagmom"]):
        subset = featurize(comps, columns=wanted)
        for name in subset.columns:
            np.testing.assert_array_equal(subset.column(name), full.column(name))


def test_known_columns_are_taken_as_given(comps):
    given = np.arange(len(comps), dtype=float)
    table = featurize(comps, known={"vec": given, "MagpieData mean Number": given})
    np.testing.assert_array_equal(table.column("vec"), given)
    np.testing.assert_array_equal(table.column("MagpieData mean Number"), given)
    np.testing.assert_array_equal(table.column("omega"), featurize(comps).column("omega"))


def test_padding_slots_change_nothing():
    # the same compositions in a wider padded form (zero fractions, padding repeating the first element)
    narrow = Compositions.from_dicts([{"Pt": 0.5, "Ni": 0.5}, {"Fe": 0.2, "Co": 0.3, "Cr": 0.5}, {"Cu": 1.0}])
    z = np.concatenate([narrow.z, np.repeat(narrow.z[:, :1], 4, axis=1)], axis=1)
    c = np.concatenate([narrow.c, np.zeros((3, 4))], axis=1)
    assert_same(featurize(Compositions(z=z, c=c)).values, featurize(narrow).values)


def test_non_contiguous_and_narrow_integer_input(comps):
    z, c = np.asfortranarray(comps.z.astype(np.int16)), np.asfortranarray(comps.c)
    np.testing.assert_array_equal(featurize(Compositions(z=z, c=c)).values[:50], featurize(comps).values[:50])


def test_unknown_engine_is_refused(comps):
    with pytest.raises(AlloyscreenError, match="engine 'numba'; allowed: fused, numpy"):
        featurize(comps, engine="numba")


@pytest.mark.parametrize("engine", ["fused", "numpy"])
def test_mode_takes_the_smaller_value_on_a_near_tie(engine):
    # Ni's 0.1 + 0.2 is one rounding above Fe's 0.3: tied within numpy.isclose, as matminer's mode sees it
    comps = Compositions.from_dense(["Ni", "Fe", "Cu"], np.array([[0.1 + 0.2, 0.3, 0.2], [0.35, 0.3, 0.35]]))
    table = featurize(comps, columns=["MagpieData mode Number"], engine=engine)
    np.testing.assert_array_equal(table.column("MagpieData mode Number"), [26, 28])


def test_from_dense_packs_present_elements_in_column_order():
    """The compiled packing against the sort it replaced (stable argsort of the absent entries)."""
    rng = np.random.default_rng(2)
    pool = list(symbols()[20:42])
    dense = np.where(rng.random((2000, len(pool))) < 0.25, rng.random((2000, len(pool))), 0.0)
    dense[np.arange(2000), rng.integers(0, len(pool), 2000)] = 0.5  # every row holds an element
    comps = Compositions.from_dense(pool, dense)
    present = dense > 0
    order = np.argsort(~present, axis=1, kind="stable")[:, :present.sum(axis=1).max()]
    c = np.take_along_axis(dense, order, axis=1)
    c = c / c.sum(axis=1, keepdims=True)
    z = np.array([symbols().index(e) for e in pool])[order]
    np.testing.assert_array_equal(comps.c, c)
    np.testing.assert_array_equal(comps.z, np.where(c > 0, z, z[:, :1]))
