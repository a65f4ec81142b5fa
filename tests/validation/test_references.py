"""Elemental references: the ground-state crystal of each element, or the lowest of a search, recorded on the label."""

from __future__ import annotations

import pytest
from ase.data import atomic_numbers, reference_states

from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.elements import GROUND_STATES, elemental_crystals, ground_state_crystal
from alloyscreen.validation.references import elemental_references, reference_crystals

pytestmark = pytest.mark.gnn


def test_every_element_gets_fcc_bcc_hcp_and_its_ground_state():
    assert set(elemental_crystals("Si")) == {"diamond", "fcc", "bcc", "hcp"}
    assert set(elemental_crystals("Mn")) == {"fcc", "bcc", "hcp"}  # alpha-Mn (58 atoms) is not built
    assert len(elemental_crystals("Co")["hcp"]) == 2 and len(elemental_crystals("Fe")["bcc"]) == 1
    with pytest.raises(AlloyscreenError, match="'O' has no solid reference state"):
        elemental_crystals("O")


def test_the_ground_state_table_is_ashcroft_and_mermins_as_ase_carries_it():
    assert {element for element, crystal in GROUND_STATES.items() if crystal == "fcc"} >= {
        "Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Rh", "Ir", "Pb", "Ca"}
    assert {element for element, crystal in GROUND_STATES.items() if crystal == "bcc"} >= {
        "Fe", "Cr", "V", "Mo", "W", "Nb", "Ta", "Li", "Na", "K"}
    assert {element for element, crystal in GROUND_STATES.items() if crystal == "hcp"} >= {
        "Co", "Ru", "Os", "Ti", "Zr", "Hf", "Zn", "Cd", "Mg", "Sc", "Y", "Re"}
    differ = {element: crystal for element, crystal in GROUND_STATES.items()
              if reference_states[atomic_numbers[element]]["symmetry"] != crystal}
    assert differ == {}
    assert ground_state_crystal("Si") == "diamond"  # outside the metals' table: ASE's ground-state cell
    assert ground_state_crystal("Mn") is None  # alpha-Mn is not built: searched


def test_the_default_reference_is_one_crystal_and_search_keeps_every_candidate():
    assert set(reference_crystals("Cu", "emt", {})) == {"fcc"}
    assert set(reference_crystals("Co", "chgnet", {})) == {"hcp"}
    assert set(reference_crystals("V", "vasp", {})) == {"bcc"}
    assert set(reference_crystals("Cu", "emt", {}, references="search")) == {"fcc", "bcc", "hcp"}
    assert set(reference_crystals("Mn", "chgnet", {})) == {"fcc", "bcc", "hcp"}  # Mn's stand-in is the search
    with pytest.raises(AlloyscreenError, match=r"references 'lowest' is not known; allowed: ground_state, search"):
        reference_crystals("Cu", "emt", {}, references="lowest")  # type: ignore[arg-type]


def test_chgnet_references_of_mn_co_and_v(database):
    ground = elemental_references(["Mn", "Co", "V"], "chgnet", {}, database=database)
    assert {element: set(reference.energies_per_atom) for element, reference in ground.items()} == {
        "Co": {"hcp"}, "V": {"bcc"}, "Mn": {"fcc", "bcc", "hcp"}}
    searched = elemental_references(["Mn", "Co", "V"], "chgnet", {}, database=database, references="search")
    for element, reference in searched.items():
        energies = {name: e for name, e in reference.energies_per_atom.items() if e is not None}
        assert set(energies) == {"fcc", "bcc", "hcp"}, element
        assert reference.crystal == min(energies, key=energies.get)
        assert reference.calculation.energy_per_atom == energies[reference.crystal]
        assert reference.calculation.settings["mode"] == "vc-relax"
        assert energies[ground[element].crystal] == ground[element].calculation.energy_per_atom  # the same calculation
    assert searched["Co"].crystal in ("hcp", "fcc")  # close-packed (hcp in experiment; fcc within meV)
    assert searched["V"].crystal == "bcc"  # 0.18 eV/atom below hcp with CHGNet 0.3.0
    assert ground["Mn"].calculation.id == searched["Mn"].calculation.id


def test_emt_reference_of_cu_is_fcc_and_the_search_reuses_it(database):
    first = elemental_references(["Cu"], "emt", {}, database=database)["Cu"]
    assert first.crystal == "fcc" and set(first.energies_per_atom) == {"fcc"}
    count = database["calculations"].count_documents({})
    again = elemental_references(["Cu"], "emt", {}, database=database)["Cu"]
    assert again.calculation.id == first.calculation.id
    assert database["calculations"].count_documents({}) == count  # from the cache
    searched = elemental_references(["Cu"], "emt", {}, database=database, references="search")["Cu"]
    energies = searched.energies_per_atom
    assert searched.crystal == min(energies, key=energies.get) == "hcp"  # EMT puts hcp Cu below fcc (under 1 meV)
    assert energies["fcc"] == first.calculation.energy_per_atom
    assert database["calculations"].count_documents({}) <= count + 2  # fcc came from the cache


def test_spin_polarised_calculators_start_cr_antiferromagnetic_and_search_mn_cr_fe_both_ways():
    assert set(reference_crystals("Cr", "chgnet", {})) == {"bcc"}  # CHGNet takes no moments
    assert set(reference_crystals("Cr", "chgnet", {}, references="search")) == {"bcc", "fcc", "hcp"}
    assert set(reference_crystals("Cu", "vasp", {}, references="search")) == {"fcc", "bcc", "hcp"}
    ground = reference_crystals("Cr", "vasp", {})
    assert set(ground) == {"bcc-afm"} and ground["bcc-afm"].site_properties["magmom"] == [2.0, -2.0]
    assert set(reference_crystals("Fe", "vasp", {})) == {"bcc"}  # ferromagnetic: the calculator's default moments
    assert set(reference_crystals("Mn", "vasp", {})) == {"bcc", "fcc", "hcp", "bcc-afm", "fcc-afm"}
    crystals = reference_crystals("Cr", "vasp", {}, references="search")
    assert set(crystals) == {"bcc", "fcc", "hcp", "bcc-afm", "fcc-afm"}
    assert crystals["bcc-afm"].site_properties["magmom"] == [2.0, -2.0]
    assert sorted(crystals["fcc-afm"].site_properties["magmom"]) == [-2.0, -2.0, 2.0, 2.0]


def test_an_element_the_user_names_also_starts_antiferromagnetic():
    assert set(reference_crystals("Ni", "vasp", {})) == {"fcc"}
    named = reference_crystals("Ni", "vasp", {}, antiferromagnetic=["Ni"])
    assert set(named) == {"fcc", "fcc-afm"}  # its ground-state lattice, started both ways
    assert sorted(named["fcc-afm"].site_properties["magmom"]) == [-2.0, -2.0, 2.0, 2.0]
    searched = reference_crystals("Ni", "vasp", {}, antiferromagnetic=["Ni"], references="search")
    assert set(searched) == {"fcc", "bcc", "hcp", "bcc-afm", "fcc-afm"}
    assert searched["bcc-afm"].site_properties["magmom"] == [2.0, -2.0]
