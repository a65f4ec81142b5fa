"""Competing phases, the hull they make, the stability labels derived from it, and the single-phase criterion."""

import numpy as np
import pytest

from alloyscreen.descriptors import Compositions
from alloyscreen.descriptors.pairs import BOLTZMANN, pair_enthalpy_range, single_phase
from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.bulk import random_solid_solution
from alloyscreen.validation.maker import ValidationMaker, call_here
from alloyscreen.validation.phases import (
    FREE_ENERGY_PROPERTY,
    HULL_PROPERTY,
    PhaseEnergy,
    PhaseHull,
    StabilityMaker,
    pool_hull,
)
from alloyscreen.validation.targets import MixingEnergyMaker

CUAU = PhaseHull(["Cu", "Au"], [PhaseEnergy("CuAu L1_0", "L1_0", {"Cu": 0.5, "Au": 0.5}, -0.10),
                                PhaseEnergy("Cu3Au L1_2", "L1_2", {"Cu": 0.75, "Au": 0.25}, -0.02)])


def test_energy_above_the_hull_is_measured_from_the_tie_lines():
    entropy = -BOLTZMANN * (0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    assert CUAU.energy_above_hull({"Cu": 0.75, "Au": 0.25}, -0.02) == pytest.approx(0.03)  # hull: -0.05 there
    assert CUAU.stabilization_temperature({"Cu": 0.75, "Au": 0.25}, -0.02) == pytest.approx(0.03 / entropy)
    assert CUAU.energy_above_hull({"Cu": 0.5, "Au": 0.5}, -0.13) == pytest.approx(-0.03)  # below: decomposition
    assert CUAU.stabilization_temperature({"Cu": 0.5, "Au": 0.5}, -0.13) == 0.0
    assert CUAU.stable() == ["CuAu L1_0"] and CUAU.pair_enthalpies() == {("Au", "Cu"): -0.10}


def test_the_single_phase_window_of_troparevsky():
    table = {("Cu", "Ni"): 0.01, ("Au", "Cu"): -0.3, ("Au", "Ni"): 0.05}
    comps = Compositions.from_dicts([{"Cu": 0.5, "Ni": 0.5}, {"Cu": 0.5, "Au": 0.5}, {"Au": 0.5, "Ni": 0.5},
                                     {"Cu": 1.0}, {"Cu": 0.4, "Ni": 0.3, "Au": 0.3}])
    bounds = pair_enthalpy_range(comps, table)
    assert bounds[4] == pytest.approx([-0.3, 0.05]) and np.isnan(bounds[3]).all()
    # lower bound at 1000 K for CuAu: -1000 k_B ln 2 = -0.060 eV/atom > -0.3; AuNi is above 0.037
    assert single_phase(comps, table, 1000.0).tolist() == [True, False, False, True, False]
    assert single_phase(comps, table, 6000.0).tolist() == [True, True, False, True, False]  # -0.36 < -0.3
    assert single_phase(comps, table, 6000.0, upper=0.06).tolist() == [True, True, True, True, True]


@pytest.fixture(scope="module")
def emt_hull(database):
    return pool_hull(MixingEnergyMaker(validation=ValidationMaker(calculator="emt")), ["Cu", "Pt"])


def test_emt_competing_phases_of_cu_pt_order_below_the_elements(emt_hull):
    names = {phase.name for phase in emt_hull.phases}
    assert {"CuPt L1_0", "Cu3Pt L1_2", "CuPt3 L1_2", "CuPt B2"} <= names  # the radii of Cu and Pt do not fit C15
    assert all(phase.label_id for phase in emt_hull.phases)
    assert min(emt_hull.pair_enthalpies().values()) < -0.05  # Cu-Pt orders (L1_1 CuPt and L1_2 Cu3Pt are known)


def test_the_hull_label_cites_the_phases_and_equals_mixing_minus_hull(database, emt_hull):
    structure = random_solid_solution({"Cu": 0.5, "Pt": 0.5}, "fcc", supercell=(1, 1, 1), seed=0).structure
    validation = ValidationMaker(calculator="emt")
    searched = MixingEnergyMaker(validation=validation, pool=["Cu", "Pt"], references="search")
    mixing = call_here(searched.make(structure, "cand-cupt"))
    stable = call_here(StabilityMaker(validation=validation, pool=["Cu", "Pt"]).make(structure, "cand-cupt"))
    assert stable.value == pytest.approx(emt_hull.energy_above_hull({"Cu": 0.5, "Pt": 0.5}, mixing.value))
    label = database["labels"].find_one({"_id": stable.label_id})
    assert label["property"] == HULL_PROPERTY and label["details"]["mixing_label_id"] == mixing.label_id
    phase_calculations = {c for phase in database["labels"].find(
        {"_id": {"$in": [p.label_id for p in emt_hull.phases]}}) for c in phase["calculation_ids"]}
    assert phase_calculations <= set(label["reference_calculation_ids"])
    free = call_here(StabilityMaker(validation=validation, pool=["Cu", "Pt"], prop="mixing_free_energy_per_atom",
                                    temperature=1200.0).make(structure, "cand-cupt"))
    assert free.value == pytest.approx(mixing.value - 1200.0 * BOLTZMANN * np.log(2))


def test_the_hull_and_its_phases_search_every_crystal_of_the_elements(database, emt_hull):
    structure = random_solid_solution({"Cu": 0.5, "Pt": 0.5}, "fcc", supercell=(1, 1, 1), seed=0).structure
    validation = ValidationMaker(calculator="emt")
    ground = call_here(MixingEnergyMaker(validation=validation, pool=["Cu", "Pt"]).make(structure, "cand-cupt"))
    assert _reference_candidates(database, ground.label_id) == {"Cu": {"fcc"}, "Pt": {"fcc"}}
    for prop, extra in ((HULL_PROPERTY, {}), (FREE_ENERGY_PROPERTY, {"temperature": 800.0})):
        maker = StabilityMaker(validation=validation, pool=["Cu", "Pt"], prop=prop, **extra)
        stable = call_here(maker.make(structure, "cand-cupt"))
        mixing_label = database["labels"].find_one({"_id": stable.label_id})["details"]["mixing_label_id"]
        assert mixing_label != ground.label_id
        assert _reference_candidates(database, mixing_label) == {"Cu": {"fcc", "bcc", "hcp"},
                                                                 "Pt": {"fcc", "bcc", "hcp"}}, prop
    for phase in emt_hull.phases:  # the competing phases' formation energies too
        assert set(_reference_candidates(database, phase.label_id)["Cu"]) == {"fcc", "bcc", "hcp"}, phase.name
    with pytest.raises(AlloyscreenError, match=r"energy_above_hull_per_atom compares against a hull: its references "
                                               r"'ground_state' must be searched; allowed: search"):
        StabilityMaker(validation=validation, references="ground_state")


def _reference_candidates(database, label_id: str | None) -> dict[str, set[str]]:
    references = database["labels"].find_one({"_id": label_id})["details"]["references"]
    return {element: set(reference["candidates"]) for element, reference in references.items()}


def test_a_hull_label_builds_its_own_hull_in_a_fresh_process(database, monkeypatch):
    monkeypatch.setattr("alloyscreen.validation.phases._HULLS", {})
    structure = random_solid_solution({"Cu": 0.75, "Au": 0.25}, "fcc", supercell=(1, 1, 1), seed=0).structure
    stable = call_here(StabilityMaker(validation=ValidationMaker(calculator="emt"), pool=["Au", "Cu"],
                                      prototypes=["L1_2"]).make(structure, "cand-cuau"))
    label = database["labels"].find_one({"_id": stable.label_id})
    assert label["details"]["phases_computed"] == 2 and stable.value is not None


def test_a_pair_without_enthalpy_fails_the_criterion_and_outside_the_pool_is_one_line():
    comps = Compositions.from_dicts([{"Cu": 0.5, "Ni": 0.5}, {"Cu": 0.5, "Pt": 0.5}])
    assert single_phase(comps, {("Cu", "Ni"): 0.0}, 1000.0).tolist() == [True, False]
    with pytest.raises(AlloyscreenError, match=r"is outside the hull of \['Au', 'Cu'\]; allowed"):
        CUAU.energy_above_hull({"Cu": 0.5, "Pt": 0.5}, 0.0)
