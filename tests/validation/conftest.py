"""Small structures shared by the validation tests."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure


def fcc_primitive(element: str, a: float) -> Structure:
    """One-atom fcc cell of lattice constant ``a`` (A)."""
    return Structure(Lattice.from_parameters(*(3 * [a / 2**0.5]), 60, 60, 60), [element], [[0, 0, 0]])


@pytest.fixture
def cu_fcc() -> Structure:
    return fcc_primitive("Cu", 3.61)


@pytest.fixture
def cu3au() -> Structure:
    """L1_2 Cu3Au, 4 atoms."""
    coords = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.cubic(3.75), ["Au", "Cu", "Cu", "Cu"], coords)
