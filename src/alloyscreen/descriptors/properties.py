"""Properties known exactly from a composition, for objectives that need no calculation.

- ``cost``: raw-material price of the alloy (USD/kg), the mass-weighted element
  prices of pymatgen's ``costdb_elements.csv`` (2013 quotes; the same table as
  ``pymatgen.analysis.cost``);
- ``hhi_production``, ``hhi_reserve``: Herfindahl-Hirschman index of the
  elements' production and reserves (supply concentration, 0-10000, lower is
  better), mass-weighted as ``pymatgen.analysis.hhi`` does (Gaultois et al.,
  Chem. Mater. 25, 2911 (2013));
- ``density``: estimated density (g/cm^3) by ideal mixing of the elements'
  molar volumes, from the densities of the solid elements (pymatgen's
  ``Element.density_of_solid``): exact for a pure metal, within a few percent
  for solid solutions whose volume follows Vegard's law;
- any descriptor column (``alloyscreen.descriptors.COLUMNS``), e.g. the HEA
  parameters ``"delta_h_mix"`` or ``"omega"``, or ``"MagpieData mean MeltingT"``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from functools import cache
from importlib.resources import files

import numpy as np

from alloyscreen.descriptors.compositions import Compositions
from alloyscreen.descriptors.elementdata import N_Z, symbol_to_z, symbols
from alloyscreen.descriptors.featurizer import COLUMNS, featurize
from alloyscreen.errors import AlloyscreenError


@cache
def _atomic_masses() -> np.ndarray:
    """g/mol by Z."""
    from pymatgen.core.periodic_table import Element

    return np.array([np.nan] + [float(Element.from_Z(z).atomic_mass) for z in range(1, N_Z)])


@cache
def _solid_densities() -> np.ndarray:
    """g/cm^3 by Z (NaN where pymatgen has none)."""
    from pymatgen.core.periodic_table import Element

    densities = [Element.from_Z(z).density_of_solid for z in range(1, N_Z)]
    return np.array([np.nan] + [np.nan if d is None else float(d) / 1000.0 for d in densities])


def _table(filename: str, column: int) -> np.ndarray:
    """Values of one column of a pymatgen element table, indexed by Z (NaN: not tabulated)."""
    values = np.full(N_Z, np.nan)
    z_of = symbol_to_z()
    with files("pymatgen.analysis").joinpath(filename).open(encoding="utf-8") as handle:
        for row in csv.reader(line for line in handle if not line.startswith("#")):
            if row and row[0] in z_of:
                values[z_of[row[0]]] = float(row[column])
    return values


@cache
def element_values(name: str) -> np.ndarray:
    """Per-element values behind property ``name``, indexed by Z (NaN where the table has none).

    For ``density`` these are the molar volumes of the solid elements (cm^3/mol).
    """
    if name == "density":
        return _atomic_masses() / _solid_densities()
    sources = {"cost": ("costdb_elements.csv", 1), "hhi_production": ("hhi_data.csv", 1),
               "hhi_reserve": ("hhi_data.csv", 2)}
    return _table(*sources[name])


def _mass_weighted(name: str) -> Callable[[Compositions], np.ndarray]:
    def compute(comps: Compositions) -> np.ndarray:
        mass = comps.c * _atomic_masses()[comps.z]
        return (mass * element_values(name)[comps.z]).sum(axis=1) / mass.sum(axis=1)

    return compute


def _density(comps: Compositions) -> np.ndarray:
    volume = (comps.c * element_values("density")[comps.z]).sum(axis=1)  # cm^3 per mol of atoms
    return (comps.c * _atomic_masses()[comps.z]).sum(axis=1) / volume


# name -> (unit, function of the compositions)
COMPUTED: dict[str, tuple[str, Callable[[Compositions], np.ndarray]]] = {
    "cost": ("USD/kg", _mass_weighted("cost")),
    "density": ("g/cm^3", _density),
    "hhi_production": ("HHI", _mass_weighted("hhi_production")),
    "hhi_reserve": ("HHI", _mass_weighted("hhi_reserve")),
}


def is_composition_property(name: str) -> bool:
    """True for a property computed from the composition alone (see the module docstring)."""
    return name in COMPUTED or name in COLUMNS


def property_unit(name: str) -> str:
    """Unit of a composition property ('' for descriptor columns, whose units are in their documentation)."""
    return COMPUTED[name][0] if name in COMPUTED else ""


def untabulated(name: str, elements: Iterable[str]) -> list[str]:
    """The elements of ``elements`` that the table of property ``name`` lacks (none for descriptor columns)."""
    if name not in COMPUTED:
        return []
    values, z_of = element_values(name), symbol_to_z()
    return [element for element in elements if element in z_of and np.isnan(values[z_of[element]])]


def composition_properties(names: list[str], comps: Compositions) -> np.ndarray:
    """Values ``(n, len(names))`` of composition properties of ``comps``."""
    unknown = [name for name in names if not is_composition_property(name)]
    if unknown:
        raise AlloyscreenError(f"unknown composition property {unknown[0]!r}; allowed: {', '.join(COMPUTED)} "
                               "or a descriptor column such as 'delta_h_mix'")
    table = featurize(comps, [name for name in names if name not in COMPUTED])
    return np.column_stack([COMPUTED[name][1](comps) if name in COMPUTED else table.column(name)
                            for name in names]).reshape(len(comps), len(names))


def tabulated_elements(name: str) -> list[str]:
    """Elements with a value of property ``name``, in order of atomic number."""
    values = element_values(name)
    return [symbols()[z] for z in range(1, N_Z) if not np.isnan(values[z])]
