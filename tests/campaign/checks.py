"""Assertions shared by the campaign tests."""

from __future__ import annotations

from collections import Counter

from pymatgen.core import Composition

REFERENCE_CRYSTALS = 3  # fcc, bcc and hcp of an element without another ground state in ASE


def assert_each_structure_validated_once(formulas: list[str]) -> None:
    """Every alloy formula calculated once; every element at most once per reference crystal."""
    alloys = [formula for formula in formulas if len(Composition(formula)) > 1]
    assert len(alloys) == len(set(alloys)), Counter(alloys).most_common(3)
    elements = Counter(formula for formula in formulas if len(Composition(formula)) == 1)
    assert all(count <= REFERENCE_CRYSTALS for count in elements.values()), elements
