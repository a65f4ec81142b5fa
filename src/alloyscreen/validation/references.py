"""Elemental references of mixing energies: the lowest-energy relaxed crystal of each element.

Each candidate crystal (:func:`alloyscreen.structures.elements.elemental_crystals`)
is an ordinary cached calculation with the stage's calculator and settings, so
a campaign computes each once and every label reuses them; which crystal won,
and the energies of the others, go on the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.structures.elements import ANTIFERROMAGNETIC_MOMENTS, antiferromagnetic_crystals, elemental_crystals
from alloyscreen.validation.base import StructureError
from alloyscreen.validation.maker import validate
from alloyscreen.validation.registry import get_calculator


class ElementReference(BaseModel):
    """The reference of one element: the lowest-energy candidate crystal, and what the others gave."""

    element: str = Field(description="element symbol")
    crystal: str = Field(description="winning crystal (fcc, bcc, hcp or the ASE ground state, e.g. diamond)")
    calculation: CalculationDocument = Field(description="the winning vc-relaxed calculation")
    energies_per_atom: dict[str, float | None] = Field(
        description="crystal -> relaxed energy per atom (eV/atom); None where the calculation failed")

    def summary(self) -> dict[str, Any]:
        """What a label keeps of this reference."""
        return {"crystal": self.crystal, "calculation_id": self.calculation.id,
                "energy_per_atom": self.calculation.energy_per_atom, "candidates": self.energies_per_atom}


def element_reference(element: str, calculator: str, settings: dict[str, Any], database=None,
                      structure: Structure | None = None) -> ElementReference:
    """Relax every candidate crystal of ``element`` (or only ``structure``); return the lowest in energy.

    Raises
    ------
    StructureError
        Every candidate crystal failed (the reasons are named).
    """
    crystals = reference_crystals(element, calculator, settings, structure)
    return choose_reference(element, {name: validate(crystal, calculator, settings, "vc-relax", database=database)[0]
                                      for name, crystal in crystals.items()})


def reference_crystals(element: str, calculator: str, settings: dict[str, Any], structure: Structure | None = None,
                       antiferromagnetic: Sequence[str] = ()) -> dict[str, Structure]:
    """Return the crystals whose lowest relaxed energy is the reference of ``element`` (or only ``structure``).

    A spin-polarised calculator also starts Cr, Mn, Fe and the elements named
    in ``antiferromagnetic`` antiferromagnetic (bcc and fcc); their other
    crystals start ferromagnetic.
    """
    if structure is not None:
        return {"given": structure}
    crystals = elemental_crystals(element)
    calc = get_calculator(calculator)
    named = element in ANTIFERROMAGNETIC_MOMENTS or element in antiferromagnetic
    if named and calc.spin_polarised(calc.resolve_pool([element], dict(settings))):
        crystals.update(antiferromagnetic_crystals(element))
    return crystals


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
                         reference_structures: dict[str, Structure] | None = None) -> dict[str, ElementReference]:
    """Return element -> reference (cached calculations: computed once per calculator and settings)."""
    given = reference_structures or {}
    return {element: element_reference(element, calculator, settings, database, given.get(element))
            for element in sorted(set(elements))}
