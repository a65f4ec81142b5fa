"""Adsorbates and their gas references: one registry entry each.

An adsorbate's adsorption energy on a site is taken against gas molecules
computed at the same settings as the slab (the computational hydrogen
electrode of Nørskov et al., J. Phys. Chem. B 108, 17886 (2004), for the
species made of H and O):

    ΔE = E(slab + adsorbate) - E(slab) - Σ_g ν_g E(g)

with the reference combination ``gas`` (e.g. *OH: H2O - ½ H2), and its free
energy ``ΔG = ΔE + correction`` with the zero-point and entropy correction
(ΔZPE - TΔS at 298.15 K, eV) of the entry's source:

- *H: 0.24 eV (Nørskov et al., J. Electrochem. Soc. 152, J23 (2005));
- *OH: 0.35 eV and *O: 0.05 eV (Nørskov et al. 2004, the values the HEA
  oxygen-reduction model of Batchelor et al., Joule 3, 834 (2019) uses);
- *CO: none: the CO2-reduction descriptor (Bagger et al., ChemPhysChem 18,
  3266 (2017); Pedersen et al., ACS Catal. 10, 2169 (2020)) compares
  adsorption energies ΔE of *CO and *H, so its label is ΔE_CO.

Geometry: the binding atom first, the others straight above it at ``bonds``
(Å; O-H 0.97, C-O 1.15 as adsorbed). Gas molecules sit in a cubic box of
``GAS_BOX_A`` at their experimental gas-phase geometry (NIST CCCBDB).
A new adsorbate (e.g. *COOH) is one :class:`Adsorbate` entry (and its gas
molecules, if new).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure

from alloyscreen.errors import AlloyscreenError

GAS_BOX_A = 10.0


@dataclass(frozen=True)
class GasMolecule:
    """A gas reference molecule: its species and Cartesian positions (Å) about its centre."""

    name: str
    species: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...]

    def structure(self) -> Structure:
        """The molecule centred in a periodic cubic box of ``GAS_BOX_A`` Å."""
        coords = np.array(self.positions) + GAS_BOX_A / 2
        return Structure(Lattice.cubic(GAS_BOX_A), list(self.species), coords, coords_are_cartesian=True)


_WATER_ANGLE = np.radians(104.5) / 2  # H-O-H 104.5°, O-H 0.958 Å
GAS_MOLECULES: dict[str, GasMolecule] = {
    "H2": GasMolecule("H2", ("H", "H"), ((0.0, 0.0, -0.3705), (0.0, 0.0, 0.3705))),
    "H2O": GasMolecule("H2O", ("O", "H", "H"), (
        (0.0, 0.0, 0.0), (0.958 * np.sin(_WATER_ANGLE), 0.0, 0.958 * np.cos(_WATER_ANGLE)),
        (-0.958 * np.sin(_WATER_ANGLE), 0.0, 0.958 * np.cos(_WATER_ANGLE)))),
    "CO": GasMolecule("CO", ("C", "O"), ((0.0, 0.0, -0.564), (0.0, 0.0, 0.564))),
}


@dataclass(frozen=True)
class Adsorbate:
    """One adsorbate: geometry, gas reference, free-energy correction and the label it gives.

    ``prop``: the label property of its most stable site (``delta_g_<name>``,
    or ``delta_e_<name>`` where the entry has no correction), in eV.
    ``site_kind``: the fcc(111) site kind the literature's site models use for it.
    """

    name: str
    species: tuple[str, ...]
    bonds: tuple[float, ...]
    gas: tuple[tuple[str, float], ...]
    correction_ev: float | None
    site_kind: str

    @property
    def prop(self) -> str:
        """The label property of the most stable site's energy (eV)."""
        return f"delta_{'g' if self.correction_ev is not None else 'e'}_{self.name.lower()}"

    @property
    def elements(self) -> set[str]:
        """The elements of the adsorbate and of its gas references."""
        return set(self.species) | {s for name, _ in self.gas for s in GAS_MOLECULES[name].species}

    def adsorption_energy(self, covered: float, clean: float, gases: dict[str, float]) -> float:
        """ΔE (eV) from the total energies (eV) of the covered and clean slabs and the gas molecules."""
        return covered - clean - sum(coefficient * gases[name] for name, coefficient in self.gas)

    def free_energy(self, delta_e: float) -> float:
        """ΔG (eV) of an adsorption energy ΔE (eV): ΔE plus the correction (ΔE itself where there is none)."""
        return delta_e + (self.correction_ev or 0.0)


ADSORBATES: dict[str, Adsorbate] = {
    "H": Adsorbate("H", ("H",), (), (("H2", 0.5),), 0.24, "fcc"),
    "OH": Adsorbate("OH", ("O", "H"), (0.97,), (("H2O", 1.0), ("H2", -0.5)), 0.35, "top"),
    "O": Adsorbate("O", ("O",), (), (("H2O", 1.0), ("H2", -1.0)), 0.05, "fcc"),
    "CO": Adsorbate("CO", ("C", "O"), (1.15,), (("CO", 1.0),), None, "top"),
}
ADSORPTION_PROPERTIES: dict[str, Adsorbate] = {adsorbate.prop: adsorbate for adsorbate in ADSORBATES.values()}


def get_adsorbate(name: str) -> Adsorbate:
    """The registry entry of ``name``; an unknown one fails in one line naming the registry's."""
    if name not in ADSORBATES:
        raise AlloyscreenError(f"unknown adsorbate {name!r}; allowed: {', '.join(ADSORBATES)}")
    return ADSORBATES[name]
