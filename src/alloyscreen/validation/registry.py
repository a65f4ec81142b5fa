"""Calculator registry: name -> calculator."""

from __future__ import annotations

from alloyscreen.validation.base import Calculator, SettingsError
from alloyscreen.validation.chgnet import CHGNetCalculator
from alloyscreen.validation.emt import EMTCalculator
from alloyscreen.validation.gpaw import GPAWCalculator
from alloyscreen.validation.qe import QECalculator
from alloyscreen.validation.sevennet import SevenNetCalculator
from alloyscreen.validation.vasp import VaspCalculator

CALCULATORS = {
    calc.name: calc
    for calc in (EMTCalculator, CHGNetCalculator, QECalculator, VaspCalculator, SevenNetCalculator, GPAWCalculator)
}


def get_calculator(name: str) -> Calculator:
    """Return a calculator instance for ``name`` (emt, chgnet, qe, vasp, sevennet, gpaw)."""
    try:
        return CALCULATORS[name]()
    except KeyError:
        raise SettingsError(f"unknown calculator {name!r}; allowed: {', '.join(CALCULATORS)}") from None


def is_remote(name: str) -> bool:
    """True for a calculator that runs only as a workflow on a cluster (VASP), never in-process."""
    return get_calculator(name).remote


def local_calculators() -> list[str]:
    """Calculators that run in this process (all but the workflow-only ones)."""
    return [name for name in CALCULATORS if not is_remote(name)]


def universal_potentials() -> list[str]:
    """Calculators that are universal (pretrained, every element) potentials: the rankers of a campaign."""
    return [name for name, calc in CALCULATORS.items() if calc.universal]


def known_limits(name: str, elements: list[str]) -> dict[str, str]:
    """The elements of ``elements`` that calculator ``name`` treats but is known to get wrong: element -> evidence."""
    limits = get_calculator(name).known_limits
    return {element: limits[element] for element in elements if element in limits}


def fitting_calculators(element: str) -> list[str]:
    """Calculators with no known limit for ``element`` (those that may still refuse it by their element list)."""
    return [name for name in CALCULATORS if not known_limits(name, [element])]
