"""Bulk structures: counts, Vegard lattice, determinism, SQS quality, bad input."""

import numpy as np
import pytest
from ase.data import atomic_numbers, reference_states

from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.bulk import choose_supercell, random_solid_solution, special_quasirandom_structure
from alloyscreen.structures.composition import CheckedComposition, check_composition, integer_counts
from alloyscreen.structures.lattice import atomic_volume, elemental_lattice, vegard_lattice
from alloyscreen.structures.sro import sro_objective, warren_cowley

CANTOR = {"Co": 0.2, "Cr": 0.2, "Fe": 0.2, "Mn": 0.2, "Ni": 0.2}


def test_a_composition_is_checked_once_and_trusted_below():
    checked = check_composition({"Ni": 0.25, "Cu": 0.75})
    assert isinstance(checked, CheckedComposition) and list(checked) == ["Cu", "Ni"]
    assert check_composition(checked) is checked  # below the boundary: no second check, no copy
    with pytest.raises(AlloyscreenError, match="fractions sum to 0.9; allowed: a sum of 1"):
        check_composition({"Cu": 0.6, "Ni": 0.3})


def test_integer_counts_largest_remainder():
    counts, error = integer_counts({"Al": 0.1, "Co": 0.3, "Ni": 0.6}, 32)
    assert counts == {"Al": 3, "Co": 10, "Ni": 19}
    assert sum(counts.values()) == 32
    assert error == pytest.approx(max(abs(3 / 32 - 0.1), abs(10 / 32 - 0.3), abs(19 / 32 - 0.6)))


@pytest.mark.parametrize("prototype", ["fcc", "bcc", "hcp"])
def test_random_solution_counts_and_error(prototype):
    result = random_solid_solution(CANTOR, prototype, seed=3)
    n = len(result.structure)
    assert result.structure.composition.get_el_amt_dict() == pytest.approx(result.counts)
    assert sum(result.counts.values()) == n
    expected = max(abs(count / n - CANTOR[el]) for el, count in result.counts.items())
    assert result.composition_error == pytest.approx(expected)
    assert result.composition_error <= 0.02


def test_vegard_cuni_from_ase_reference_states():
    a, c = vegard_lattice({"Cu": 0.5, "Ni": 0.5}, "fcc")
    assert c is None
    assert a == pytest.approx((3.61 + 3.52) / 2)  # Cu 3.61 Å, Ni 3.52 Å in ase.data.reference_states


def test_vegard_converts_other_ground_states_by_volume():
    a_fe_fcc, _ = elemental_lattice("Fe", "fcc")  # bcc Fe, a = 2.87 Å, 2 atoms per cell
    assert a_fe_fcc == pytest.approx((4 * 2.87**3 / 2) ** (1 / 3))
    a_co, c_co = elemental_lattice("Co", "hcp")
    assert (a_co, c_co) == pytest.approx((2.51, 2.51 * 1.622))
    a_cu, c_cu = elemental_lattice("Cu", "hcp")
    assert np.sqrt(3) / 4 * a_cu**2 * c_cu == pytest.approx(3.61**3 / 4)
    assert c_cu / a_cu == pytest.approx(np.sqrt(8 / 3))
    assert reference_states[atomic_numbers["Mn"]]["symmetry"] == "cubic"
    assert atomic_volume("Mn") == pytest.approx(7.35e24 / 6.02214076e23)  # pymatgen molar volume


def test_structure_lattice_is_vegard():
    result = random_solid_solution({"Cu": 0.5, "Ni": 0.5}, "fcc", supercell=(2, 2, 2))
    assert result.structure.lattice.abc == pytest.approx((2 * 3.565,) * 3)
    assert result.generator.a == pytest.approx(3.565)


def test_seed_determinism():
    first = special_quasirandom_structure(CANTOR, "fcc", seed=5, iterations=20_000)
    again = special_quasirandom_structure(CANTOR, "fcc", seed=5, iterations=20_000)
    other = special_quasirandom_structure(CANTOR, "fcc", seed=6, iterations=20_000)
    assert first.structure == again.structure
    assert first.to_document().id == again.to_document().id
    assert first.to_document().id != other.to_document().id
    binary = [special_quasirandom_structure({"Cr": 0.5, "Ni": 0.5}, "fcc").structure for _ in range(3)]
    assert binary[0] == binary[1] == binary[2]  # many ties at objective 0: still one answer
    assert random_solid_solution(CANTOR, "bcc", seed=1).structure == random_solid_solution(
        CANTOR, "bcc", seed=1).structure
    assert random_solid_solution(CANTOR, "bcc", seed=1).structure != random_solid_solution(
        CANTOR, "bcc", seed=2).structure


@pytest.mark.parametrize("prototype", ["fcc", "bcc", "hcp"])
def test_sqs_closer_to_random_than_random_solution(prototype):
    seeds = range(4)
    sqs = [special_quasirandom_structure(CANTOR, prototype, seed=s).generator.sro_objective for s in seeds]
    rss = [random_solid_solution(CANTOR, prototype, seed=s).generator.sro_objective for s in seeds]
    assert np.mean(sqs) < 0.8 * np.mean(rss)


def test_warren_cowley_of_ordered_l12_and_b2():
    ordered = random_solid_solution({"Cu": 0.75, "Au": 0.25}, "fcc", supercell=(1, 1, 1))
    cell = ordered.structure.copy()
    for index, site in enumerate(cell):  # L1_2 Cu3Au: Au on the cube corners
        cell.replace(index, "Au" if np.allclose(site.frac_coords, 0) else "Cu")
    symbols, alpha = warren_cowley(cell * (2, 2, 2), n_shells=2)
    au, cu = symbols.index("Au"), symbols.index("Cu")
    assert alpha[0, au, au] == pytest.approx(1.0)  # no Au-Au nearest neighbours
    assert alpha[0, au, cu] == pytest.approx(-1 / 3)
    assert alpha[1, au, au] == pytest.approx(-3.0)  # all second neighbours of Au are Au
    assert sro_objective(alpha) > 1.0


def test_choose_supercell_grows_for_dilute_elements():
    small = choose_supercell({"Ni": 0.5, "Al": 0.5}, "fcc")
    dilute = {"Al": 0.01, "Co": 0.49, "Ni": 0.5}
    n_dilute = 4 * int(np.prod(choose_supercell(dilute, "fcc")))
    assert 4 * np.prod(small) == 32
    assert n_dilute == 72  # 32 and 48 atoms leave Al without an atom
    counts, error = integer_counts(dilute, n_dilute)
    assert counts["Al"] == 1 and error <= 0.02


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"composition": {"Cu": 1.0}, "prototype": "bct"}, ["'bct'", "fcc, bcc, hcp"]),
        ({"composition": {"Cu": 0.5, "Xx": 0.5}, "prototype": "fcc"}, ["'Xx'", "chemical symbols"]),
        ({"composition": {"Cu": 0.5, "Ni": 0.6}, "prototype": "fcc"}, ["1.1", "sum of 1"]),
        ({"composition": {"Cu": 0.5, "N": 0.5}, "prototype": "fcc"}, ["'N'", "solid"]),
        (
            {"composition": {"Cu": 0.99, "Ni": 0.01}, "prototype": "fcc", "supercell": (1, 1, 1)},
            ["Ni", "at least"],
        ),
        (
            {"composition": {"Cu": 0.6, "Ni": 0.4}, "prototype": "fcc", "supercell": (1, 1, 1)},
            ["0.1", "larger"],
        ),
    ],
)
def test_bad_input_one_line(kwargs, words):
    with pytest.raises(AlloyscreenError) as info:
        random_solid_solution(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_sqs_in_a_cell_too_small_for_its_shells_is_one_clear_error():
    import pytest

    from alloyscreen.errors import AlloyscreenError
    from alloyscreen.structures.bulk import special_quasirandom_structure

    with pytest.raises(AlloyscreenError, match=r"no SQS in a 4-site cell \(1, 1, 1\).*method 'random'"):
        special_quasirandom_structure({"Cu": 0.5, "Au": 0.5}, "fcc", supercell=(1, 1, 1), seed=0)
