"""Ordered intermetallic prototypes: stoichiometry, symmetry, distances, volume, C15 size window, bad input."""

import numpy as np
import pytest
from pymatgen.core import Element
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.composition import StructureInputError
from alloyscreen.structures.lattice import atomic_volume
from alloyscreen.structures.prototypes import (
    PROTOTYPES,
    metallic_radius,
    ordered_phase,
    ordered_phases,
    radius_ratio,
)

STOICHIOMETRY = {"L1_2": 3, "L1_0": 1, "B2": 1, "D0_19": 3, "D0_3": 3, "B32": 1, "C15": 2}  # majority : 1
SPACE_GROUP = {
    "L1_2": "Pm-3m", "L1_0": "P4/mmm", "B2": "Pm-3m", "D0_19": "P6_3/mmc", "D0_3": "Fm-3m", "B32": "Fd-3m",
    "C15": "Fd-3m",
}
PAIRS = [("Cu", "Au"), ("Au", "Ni"), ("Cu", "Ni"), ("Mg", "Cu")]
C15_PAIR = ("Au", "Ni")  # radius ratio 1.44 / 1.24 = 1.16, inside the window


def _all_phases():
    return [phase for pair in PAIRS for phase in ordered_phases(*pair)]


def test_phase_list_of_cu_au():
    names = [phase.name for phase in ordered_phases("Cu", "Au")]
    assert names == [
        "Cu3Au L1_2", "CuAu3 L1_2", "CuAu L1_0", "CuAu B2", "Cu3Au D0_19", "CuAu3 D0_19",
        "Cu3Au D0_3", "CuAu3 D0_3", "CuAu B32", "Cu2Au C15",
    ]
    assert [phase.prototype for phase in ordered_phases("Cu", "Au", ["B2", "L1_2"])] == ["B2", "L1_2", "L1_2"]


@pytest.mark.parametrize("phase", ordered_phases("Cu", "Au"), ids=lambda phase: phase.name)
def test_composition_matches_stoichiometry_and_structure(phase):
    assert set(phase.composition) == {"Cu", "Au"}
    assert sum(phase.composition.values()) == pytest.approx(1.0, abs=1e-12)
    major, minor = sorted(phase.composition.values(), reverse=True)
    assert major / minor == pytest.approx(STOICHIOMETRY[phase.prototype])
    structure_fractions = phase.structure.composition.fractional_composition.get_el_amt_dict()
    assert structure_fractions == pytest.approx(phase.composition)
    assert len(phase.structure) <= 24


@pytest.mark.parametrize("phase", ordered_phases("Cu", "Au"), ids=lambda phase: phase.name)
def test_space_group(phase):
    symbol = SpacegroupAnalyzer(phase.structure, symprec=1e-3).get_space_group_symbol()
    assert symbol == SPACE_GROUP[phase.prototype]


def test_majority_goes_on_majority_sublattice():
    phase = ordered_phase("L1_2", "Ni", "Al")
    assert phase.composition == {"Ni": 0.75, "Al": 0.25}
    assert phase.structure.composition.get_el_amt_dict() == {"Ni": 3, "Al": 1}
    assert ordered_phase("B2", "Fe", "Al").structure[0].specie == Element("Fe")


@pytest.mark.parametrize("phase", _all_phases(), ids=lambda phase: phase.name)
def test_no_overlapping_atoms(phase):
    a, b = phase.composition
    contact = metallic_radius(a) + metallic_radius(b)  # mean of the two elements' 2 * radius
    distances = phase.structure.get_neighbor_list(r=2.0 * contact)[3]  # includes periodic images of each atom
    assert 0.8 * contact <= distances.min() <= 1.2 * contact


@pytest.mark.parametrize("phase", _all_phases(), ids=lambda phase: phase.name)
def test_volume_is_weighted_atomic_volume(phase):
    expected = sum(fraction * atomic_volume(symbol) for symbol, fraction in phase.composition.items())
    assert phase.structure.volume / len(phase.structure) == pytest.approx(expected, rel=1e-6)


def test_c15_puts_larger_atom_on_8a():
    assert 1.05 <= radius_ratio(*C15_PAIR) <= 1.67
    assert metallic_radius("Au") > metallic_radius("Ni")
    phases = [phase for phase in ordered_phases(*C15_PAIR) if phase.prototype == "C15"]
    assert len(phases) == 1
    phase = phases[0]
    assert phase.name == "Ni2Au C15"  # pymatgen orders by electronegativity
    assert phase.composition == pytest.approx({"Ni": 2 / 3, "Au": 1 / 3})
    conventional = SpacegroupAnalyzer(phase.structure, symprec=1e-3).get_conventional_standard_structure()
    assert conventional.composition.get_el_amt_dict() == {"Au": 8, "Ni": 16}
    wyckoff = SpacegroupAnalyzer(conventional, symprec=1e-3).get_symmetrized_structure()
    letters = {site.specie.symbol: symbol for site, symbol in zip(
        (sites[0] for sites in wyckoff.equivalent_sites), wyckoff.wyckoff_symbols, strict=True)}
    # spglib may pick the origin at (1/2, 1/2, 1/2): 8b + 16c is then the same arrangement as 8a + 16d
    assert (letters["Au"], letters["Ni"]) in {("8a", "16d"), ("8b", "16c")}
    a = conventional.lattice.a
    centres, neighbours, _, distances = phase.structure.get_neighbor_list(r=0.45 * a)
    species = np.array([site.specie.symbol for site in phase.structure])
    for centre, symbol in enumerate(species):
        like = distances[(centres == centre) & (species[neighbours] == symbol)]
        if symbol == "Au":  # diamond sublattice: 4 Au at sqrt(3)/4 a
            assert np.allclose(like, np.sqrt(3) / 4 * a)
            assert len(like) == 4
        else:  # 16d network of corner-sharing tetrahedra: 6 Ni at sqrt(2)/4 a
            assert np.allclose(like, np.sqrt(2) / 4 * a)
            assert len(like) == 6
    swapped = ordered_phase("C15", "Au", "Ni")
    assert swapped.composition == phase.composition
    assert np.allclose(swapped.structure.frac_coords, phase.structure.frac_coords)


def test_c15_skipped_outside_size_window():
    assert radius_ratio("Cu", "Ni") == pytest.approx(1.28 / 1.24)
    assert "C15" not in {phase.prototype for phase in ordered_phases("Cu", "Ni")}
    assert len(ordered_phases("Cu", "Ni")) == 9
    assert "MgCu2 C15" in {phase.name for phase in ordered_phases("Mg", "Cu")}


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: ordered_phase("L12", "Cu", "Au"), r"unknown prototype 'L12'; allowed: " + ", ".join(PROTOTYPES)),
        (lambda: ordered_phases("Cu", "Au", ["B2", "bcc"]), r"unknown prototype 'bcc'; allowed: L1_2, "),
        (lambda: ordered_phase("B2", "Cu", "Xx"), r"unknown element 'Xx'; allowed: chemical symbols"),
        (lambda: ordered_phases("cu", "Au"), r"unknown element 'cu'; allowed: chemical symbols"),
        (lambda: metallic_radius("Kr"), r"element 'Kr' has no radius in pymatgen; allowed: "),
        (lambda: ordered_phases("Cu", "Cu"), r"the same element 'Cu' twice; allowed: two different elements"),
        (lambda: ordered_phase("C15", "Cu", "Ni"), r"C15 for Cu-Ni with radius ratio 1\.032; allowed: .*1\.05.*1\.67"),
    ],
)
def test_bad_input_raises_one_line(call, pattern):
    with pytest.raises(StructureInputError, match=pattern) as failure:
        call()
    assert isinstance(failure.value, AlloyscreenError)
    assert "\n" not in str(failure.value)
