"""Lattice parameters of solid solutions from Vegard's law over elemental values.

Source of elemental data
------------------------
ASE's ``ase.data.reference_states`` (room-temperature ground-state lattices
from Kittel, *Introduction to Solid State Physics*). When an element's ground
state is the requested prototype its own lattice constant is used (``a``, and
``c/a`` for hcp). Otherwise the element is put on the requested lattice at its
own atomic volume: the volume comes from its ground state when ASE gives a
lattice with a known number of atoms per cell (fcc 4, bcc 2, hcp 2, diamond 8,
sc 1), else from pymatgen's ``Element.molar_volume`` (room-temperature molar
volume, e.g. alpha-Mn with 58 atoms per cell). Elements whose reference state
is a gas (``atom``/``diatom`` or none in ASE) are not supported.

Vegard's law
------------
``a_alloy = sum_i c_i a_i`` with ``a_i`` the element's lattice constant on the
requested prototype. For hcp, ``a`` and ``c`` are averaged separately, and an
element that is not hcp in its ground state takes the ideal ``c/a = sqrt(8/3)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase.data import atomic_numbers, reference_states

from alloyscreen.structures.composition import StructureInputError, check_composition, check_prototype

IDEAL_C_OVER_A = float(np.sqrt(8.0 / 3.0))
AVOGADRO = 6.02214076e23
ATOMS_PER_CUBIC_CELL = {"fcc": 4, "bcc": 2, "diamond": 8, "sc": 1}


def _reference(symbol: str) -> dict:
    state = reference_states[atomic_numbers[symbol]]
    if state is None or state["symmetry"] in ("atom", "diatom"):
        raise StructureInputError(
            f"element {symbol!r} has no solid reference state in ase.data.reference_states; "
            "allowed: elements that are solid at room temperature"
        )
    return state


def atomic_volume(symbol: str) -> float:
    """Return the room-temperature volume per atom of an element's ground state (Å^3)."""
    state = _reference(symbol)
    symmetry, a = state["symmetry"], state["a"]
    if symmetry in ATOMS_PER_CUBIC_CELL:
        return a**3 / ATOMS_PER_CUBIC_CELL[symmetry]
    if symmetry == "hcp":
        return np.sqrt(3.0) / 4.0 * a**3 * state["c/a"]
    from pymatgen.core import Element

    return float(Element(symbol).molar_volume) * 1e24 / AVOGADRO


def elemental_lattice(symbol: str, prototype: str) -> tuple[float, float | None]:
    """Return the lattice constants ``(a, c)`` of an element on ``prototype`` (Å).

    ``c`` is ``None`` for the cubic prototypes. See the module docstring for
    the source and the volume-conserving conversion.
    """
    check_prototype(prototype)
    state = _reference(symbol)
    if state["symmetry"] == prototype == "hcp":
        return state["a"], state["a"] * state["c/a"]
    if state["symmetry"] == prototype:
        return state["a"], None
    volume = atomic_volume(symbol)
    if prototype == "hcp":
        a = (4.0 * volume / (np.sqrt(3.0) * IDEAL_C_OVER_A)) ** (1.0 / 3.0)
        return float(a), float(a * IDEAL_C_OVER_A)
    return float((ATOMS_PER_CUBIC_CELL[prototype] * volume) ** (1.0 / 3.0)), None


def vegard_lattice(composition: Mapping[str, float], prototype: str) -> tuple[float, float | None]:
    """Return Vegard's-law lattice constants ``(a, c)`` of a solid solution (Å).

    Parameters
    ----------
    composition
        Element -> atomic fraction (summing to 1).
    prototype
        ``fcc``, ``bcc`` or ``hcp``; ``c`` is ``None`` unless hcp.
    """
    composition = check_composition(composition)
    constants = [elemental_lattice(symbol, prototype) for symbol in composition]
    fractions = np.array(list(composition.values()))
    a = float(fractions @ np.array([lattice[0] for lattice in constants]))
    if prototype != "hcp":
        return a, None
    return a, float(fractions @ np.array([lattice[1] for lattice in constants]))
