"""Static calculations of many structures in one batched model call: the same documents as one by one."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from tests.validation.conftest import fcc_primitive

from alloyscreen.validation.base import StructureError
from alloyscreen.validation.chgnet import CHGNetCalculator
from alloyscreen.validation.maker import prepare, validate, validate_many
from alloyscreen.validation.sevennet import SevenNetCalculator

pytestmark = pytest.mark.gnn

CALCULATORS = {"chgnet": CHGNetCalculator, "sevennet": SevenNetCalculator}
FCC = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]


def cells() -> list[Structure]:
    """Three 4-atom fcc cells; in the last one an atom is displaced (forces and shear stress)."""
    displaced = Structure(Lattice.cubic(3.85), ["Pd", "Ni", "Au", "Cu"], FCC)
    displaced.translate_sites([0], [0.03, 0.01, 0.0])
    return [Structure(Lattice.cubic(3.72), ["Cu", "Cu", "Ni", "Au"], FCC),
            Structure(Lattice.cubic(3.95), ["Pd", "Au", "Au", "Cu"], FCC), displaced]


@pytest.fixture
def batch_calls(monkeypatch) -> list[int]:
    """Sizes of the predict_batch calls of both potentials while the test runs."""
    sizes: list[int] = []
    for cls in CALCULATORS.values():
        def spy(self, structures, physics, real=cls.predict_batch):
            sizes.append(len(structures))
            return real(self, structures, physics)

        monkeypatch.setattr(cls, "predict_batch", spy)
    return sizes


def set_fields(document) -> set[str]:
    return {name for name, value in document.model_dump().items() if value is not None}


@pytest.mark.parametrize("batch_size", [1, 3])  # 1: the CPU default; 3: one model call for the whole batch
@pytest.mark.parametrize("calculator", ["chgnet", "sevennet"])
def test_batched_static_is_the_one_by_one_calculation(database, batch_calls, monkeypatch, calculator, batch_size):
    chosen: list[int] = []
    monkeypatch.setattr("alloyscreen.validation.ase_runner.default_batch_size",
                        lambda: chosen.append(batch_size) or batch_size)
    structures = cells()
    keys = [prepare(structure, calculator, {}, "static").key for structure in structures]
    database["calculations"].delete_many({"_id": {"$in": keys}})  # from the other batch size
    one_by_one = [validate(structure, calculator, {}, "static", database=database)[0] for structure in structures]
    assert batch_calls == []
    database["calculations"].delete_many({"_id": {"$in": [doc.id for doc in one_by_one[1:]]}})  # the first stays
    count = database["calculations"].count_documents({})

    batched = validate_many(structures, calculator, {}, "static", database=database, parents=[["a"], ["b"], ["c"]])
    assert batch_calls == [2] and chosen == [batch_size] and [reused for _, reused in batched] == [True, False, False]
    assert database["calculations"].count_documents({}) == count + 2
    for before, (after, _) in zip(one_by_one, batched, strict=True):
        assert after.id == before.id and after.status == "completed" and after.converged and after.n_ionic_steps == 1
        assert set_fields(after) == set_fields(before)
        assert after.energy_per_atom == pytest.approx(before.energy_per_atom, abs=1e-6)
        assert np.allclose(after.forces, before.forces, atol=1e-5)
        assert np.allclose(after.stress, before.stress, atol=1e-3)  # GPa
        assert after.final_structure == before.final_structure and after.settings == before.settings
        if before.magmoms is not None:
            assert np.allclose(after.magmoms, before.magmoms, atol=1e-5)
    assert np.abs(one_by_one[2].forces).max() > 0.05  # the displaced atom: the forces compared are not all zero
    assert [doc.provenance.parents for doc, _ in batched[1:]] == [["b"], ["c"]]

    again = validate_many(structures, calculator, {}, "static", database=database)
    assert batch_calls == [2] and all(reused for _, reused in again)  # nothing computed the second time
    assert [doc.id for doc, _ in again] == [doc.id for doc in one_by_one]
    assert database["calculations"].count_documents({}) == count + 2


def test_relaxations_and_other_calculators_go_one_by_one(database, batch_calls):
    ni, pd = fcc_primitive("Ni", 3.47), fcc_primitive("Pd", 3.93)  # cells of no other test: computed here
    emt = validate_many([ni, pd], "emt", {}, "relax", database=database)
    assert [reused for _, reused in emt] == [False, False]
    assert [doc.id for doc, _ in emt] == [validate(s, "emt", {}, "relax", database=database)[0].id for s in (ni, pd)]
    (relaxed, reused), = validate_many([ni], "chgnet", {}, "relax", database=database)
    assert relaxed.settings["mode"] == "relax" and relaxed.status == "completed" and not reused
    assert batch_calls == []


def test_a_refused_structure_stops_the_batch_before_anything_runs(database, batch_calls):
    overlapping = Structure(Lattice.cubic(3.6), ["Cu", "Ni"], [[0, 0, 0], [0.05, 0, 0]])
    count = database["calculations"].count_documents({})
    with pytest.raises(StructureError, match="apart; overlapping atoms are refused"):
        validate_many([*cells()[:2], overlapping], "chgnet", {}, "static", database=database)
    assert batch_calls == [] and database["calculations"].count_documents({}) == count
