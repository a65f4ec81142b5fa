"""Elemental references of mixing energies: each element's ground-state crystal, or the lowest of a search.

``ground_state`` (the default): one crystal per element, its experimental
ground state (:func:`alloyscreen.structures.elements.ground_state_crystal`:
Ashcroft & Mermin's tables, the source cited there), with the magnetic start
it needs (ferromagnetic Fe, Co, Ni; antiferromagnetic Cr where spin-polarised).
Mn, whose alpha-Mn cell is not built, and any element without a ground-state
cell are searched instead. ``search``: every candidate crystal
(:func:`alloyscreen.structures.elements.elemental_crystals`: fcc, bcc, hcp, the
ASE ground state and, spin-polarised, the antiferromagnetic starts) is relaxed
and the lowest wins: what a hull needs, where the calculator's lowest elemental
energy matters (the stability labels always search).

Each crystal is an ordinary cached calculation with the stage's calculator and
settings, so a campaign computes each once and every label reuses them; which
crystal won, and the energies of the others, go on the label, and the choice
enters the label's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.structures.elements import (
    ANTIFERROMAGNETIC_GROUND_STATES,
    ANTIFERROMAGNETIC_MOMENTS,
    antiferromagnetic_crystals,
    elemental_crystals,
    ground_state_crystal,
)
from alloyscreen.validation.base import SettingsError, StructureError
from alloyscreen.validation.maker import validate
from alloyscreen.validation.registry import get_calculator

ReferenceChoice = Literal["ground_state", "search"]
REFERENCE_CHOICES: tuple[str, ...] = get_args(ReferenceChoice)


class ElementReference(BaseModel):
    """The reference of one element: the lowest-energy of its reference crystals, and what the others gave."""

    element: str = Field(description="element symbol")
    crystal: str = Field(description="winning crystal (fcc, bcc, hcp, bcc-afm or the ASE ground state, "
                                       "e.g. diamond)")
    calculation: CalculationDocument = Field(description="the winning vc-relaxed calculation")
    energies_per_atom: dict[str, float | None] = Field(
        description="crystal -> relaxed energy per atom (eV/atom); None where the calculation failed")

    def summary(self) -> dict[str, Any]:
        """What a label keeps of this reference."""
        return {"crystal": self.crystal, "calculation_id": self.calculation.id,
                "energy_per_atom": self.calculation.energy_per_atom, "candidates": self.energies_per_atom}


def element_reference(element: str, calculator: str, settings: dict[str, Any], database=None,
                      structure: Structure | None = None,
                      references: ReferenceChoice = "ground_state") -> ElementReference:
    """Relax the reference crystals of ``element`` (:func:`reference_crystals`); return the lowest in energy.

    Raises
    ------
    StructureError
        Every candidate crystal failed (the reasons are named).
    """
    crystals = reference_crystals(element, calculator, settings, structure, references=references)
    return choose_reference(element, {name: validate(crystal, calculator, settings, "vc-relax", database=database)[0]
                                      for name, crystal in crystals.items()})


def reference_crystals(element: str, calculator: str, settings: dict[str, Any], structure: Structure | None = None,
                       antiferromagnetic: Sequence[str] = (),
                       references: ReferenceChoice = "ground_state") -> dict[str, Structure]:
    """Return the crystals whose lowest relaxed energy is the reference of ``element`` (or only ``structure``).

    ``search``: fcc, bcc, hcp and the ASE ground state; a spin-polarised
    calculator also starts Cr, Mn, Fe and the elements named in
    ``antiferromagnetic`` antiferromagnetic (bcc and fcc), their other crystals
    ferromagnetic. ``ground_state``: the ground-state crystal alone (Cr, spin-
    polarised: ``bcc-afm``), an element named in ``antiferromagnetic`` started
    both ways on its ground-state lattice where an antiferromagnetic cell of it
    is built (bcc, fcc); the search where no ground-state cell is built (Mn).

    Raises
    ------
    SettingsError
        ``references`` is not one of :data:`REFERENCE_CHOICES` (one line).
    """
    if references not in REFERENCE_CHOICES:
        raise SettingsError(f"references {references!r} is not known; allowed: {', '.join(REFERENCE_CHOICES)}")
    if structure is not None:
        return {"given": structure}
    crystals = elemental_crystals(element)
    calc = get_calculator(calculator)
    named = element in ANTIFERROMAGNETIC_MOMENTS or element in antiferromagnetic
    if named and calc.spin_polarised(calc.resolve_pool([element], dict(settings))):
        crystals.update(antiferromagnetic_crystals(element))
    ground = ground_state_crystal(element) if references == "ground_state" else None
    if ground is None:
        return crystals
    if f"{ground}-afm" not in crystals:  # not spin-polarised, or not started antiferromagnetic
        names = [ground]
    elif element in antiferromagnetic:  # the user's choice: both magnetic starts, the lowest wins
        names = [ground, f"{ground}-afm"]
    else:
        names = [ANTIFERROMAGNETIC_GROUND_STATES.get(element, ground)]
    return {name: crystals[name] for name in names}


def choose_reference(element: str, calculations: dict[str, CalculationDocument]) -> ElementReference:
    """Return the lowest-energy completed calculation of ``element``'s crystals as its reference.

    Raises
    ------
    StructureError
        Every candidate crystal failed (the reasons are named).
    """
    done = {name: doc for name, doc in calculations.items() if doc.status == "completed"}
    if not done:
        errors = "; ".join(f"{name}: {doc.error}" for name, doc in calculations.items())
        raise StructureError(f"every reference calculation of {element} failed ({errors})")
    best = min(done, key=lambda name: float(done[name].energy_per_atom or 0.0))
    energies = {name: (done[name].energy_per_atom if name in done else None) for name in calculations}
    return ElementReference(element=element, crystal=best, calculation=done[best], energies_per_atom=energies)


def elemental_references(elements: list[str], calculator: str, settings: dict[str, Any], database=None,
                         reference_structures: dict[str, Structure] | None = None,
                         references: ReferenceChoice = "ground_state") -> dict[str, ElementReference]:
    """Return element -> reference (cached calculations: computed once per calculator and settings)."""
    given = reference_structures or {}
    return {element: element_reference(element, calculator, settings, database, given.get(element), references)
            for element in sorted(set(elements))}
