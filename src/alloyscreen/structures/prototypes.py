"""Ordered intermetallic prototypes of a binary pair: competing phases for a convex hull.

Prototypes (Strukturbericht designations; Pearson symbol; cell built here)
-------------------------------------------------------------------------
- ``L1_2`` (Cu3Au, cP4): A3B on fcc, B at the cube corner, A at the face centres.
- ``L1_0`` (CuAu, tP2): AB on fcc, layers alternating along c; primitive tetragonal
  cell ``a_t = a/sqrt(2)``, ``c = a`` (ideal c/a = 1 of the conventional cell).
- ``B2`` (CsCl, cP2): AB on bcc.
- ``D0_19`` (Ni3Sn, hP8): A3B on hcp, 2x2x1 ordering at ideal ``c/a = sqrt(8/3)``;
  B on 2c, A on 6h with x = 5/6.
- ``D0_3`` (BiF3/Fe3Al, cF16): A3B on bcc; primitive fcc cell of 4 atoms, B on 4a.
- ``B32`` (NaTl, cF16): AB on bcc, two interpenetrating diamond sublattices; primitive 4 atoms.
- ``C15`` (MgCu2 Laves, cF24): AB2, the large atom A on the diamond sublattice 8a, the
  small atom B on 16d; primitive 6 atoms.

Each cell is built from lattice vectors and fractional coordinates and scaled
isotropically to the composition-weighted mean of the elemental atomic volumes
(:func:`alloyscreen.structures.lattice.atomic_volume`), so a relaxation starts
near the right volume.

C15 size window
---------------
C15 is built only when the ratio of the metallic (Goldschmidt) radii of the large
to the small atom lies in ``[1.05, 1.67]``. The window is a choice around the ideal
hard-sphere ratio ``sqrt(3/2) ≈ 1.225``; Laves phases are observed roughly from 1.05
to 1.7 (Stein & Leineweber, J. Mater. Sci. 56, 5321 (2021)). Radii are pymatgen's
``Element.metallic_radius``, else ``Element.atomic_radius``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from alloyscreen.structures.composition import StructureInputError
from alloyscreen.structures.lattice import IDEAL_C_OVER_A, atomic_volume

PROTOTYPES: tuple[str, ...] = ("L1_2", "L1_0", "B2", "D0_19", "D0_3", "B32", "C15")
C15_RADIUS_WINDOW = (1.05, 1.67)

_CUBIC = Lattice.cubic(1.0)
_FCC_PRIMITIVE = Lattice([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])
# prototype -> (lattice at unit scale, majority sites, minority sites); the volume is set afterwards
_CELLS: dict[str, tuple[Lattice, list[list[float]], list[list[float]]]] = {
    "L1_2": (_CUBIC, [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], [[0, 0, 0]]),
    "L1_0": (Lattice.tetragonal(1 / np.sqrt(2), 1.0), [[0, 0, 0]], [[0.5, 0.5, 0.5]]),
    "B2": (_CUBIC, [[0, 0, 0]], [[0.5, 0.5, 0.5]]),
    "D0_19": (
        Lattice.hexagonal(2.0, IDEAL_C_OVER_A),
        [[5 / 6, 2 / 3, 0.25], [1 / 3, 1 / 6, 0.25], [5 / 6, 1 / 6, 0.25],
         [1 / 6, 1 / 3, 0.75], [2 / 3, 5 / 6, 0.75], [1 / 6, 5 / 6, 0.75]],
        [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]],
    ),
    "D0_3": (_FCC_PRIMITIVE, [[0.25, 0.25, 0.25], [0.5, 0.5, 0.5], [0.75, 0.75, 0.75]], [[0, 0, 0]]),
    "B32": (_FCC_PRIMITIVE, [[0, 0, 0], [0.25, 0.25, 0.25]], [[0.5, 0.5, 0.5], [0.75, 0.75, 0.75]]),
    "C15": (
        _FCC_PRIMITIVE,
        [[0.625, 0.625, 0.625], [0.125, 0.625, 0.625], [0.625, 0.125, 0.625], [0.625, 0.625, 0.125]],
        [[0, 0, 0], [0.25, 0.25, 0.25]],
    ),
}


@dataclass(frozen=True)
class OrderedPhase:
    """An ordered intermetallic cell of a binary pair."""

    prototype: str
    composition: dict[str, float]
    structure: Structure

    @property
    def name(self) -> str:
        """Reduced formula and prototype, e.g. ``"Cu3Au L1_2"``."""
        return f"{self.structure.composition.reduced_formula} {self.prototype}"


def metallic_radius(symbol: str) -> float:
    """Return pymatgen's metallic radius of an element, else its atomic radius (Å)."""
    element = Element(_check_element(symbol))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns when it has no metallic radius; we fall back
        radius = element.metallic_radius or element.atomic_radius
    if radius is None:
        raise StructureInputError(f"element {symbol!r} has no radius in pymatgen; allowed: solid-forming elements")
    return float(radius)


def _check_element(symbol: str) -> str:
    if not Element.is_valid_symbol(symbol):
        raise StructureInputError(f"unknown element {symbol!r}; allowed: chemical symbols such as 'Fe', 'Ni'")
    return symbol


def _check_pair(a: str, b: str) -> None:
    _check_element(a)
    _check_element(b)
    if a == b:
        raise StructureInputError(f"the same element {a!r} twice; allowed: two different elements")


def _check_prototype(prototype: str) -> None:
    if prototype not in PROTOTYPES:
        raise StructureInputError(f"unknown prototype {prototype!r}; allowed: {', '.join(PROTOTYPES)}")


def radius_ratio(a: str, b: str) -> float:
    """Return the ratio of the larger to the smaller metallic radius of two elements."""
    small, large = sorted((metallic_radius(a), metallic_radius(b)))
    return large / small


def c15_fits(a: str, b: str) -> bool:
    """Return whether :func:`radius_ratio` of the pair lies in :data:`C15_RADIUS_WINDOW`."""
    return C15_RADIUS_WINDOW[0] <= radius_ratio(a, b) <= C15_RADIUS_WINDOW[1]


def ordered_phase(prototype: str, majority: str, minority: str) -> OrderedPhase:
    """Build one prototype with ``majority`` on the majority sublattice.

    For the AB prototypes ``majority`` is A. For C15 the order of the two
    elements is ignored: the larger atom goes on 8a (AB2, A large), and a pair
    outside :data:`C15_RADIUS_WINDOW` raises :class:`StructureInputError`.
    """
    _check_prototype(prototype)
    _check_pair(majority, minority)
    if prototype == "C15":
        if not c15_fits(majority, minority):
            raise StructureInputError(
                f"C15 for {majority}-{minority} with radius ratio {radius_ratio(majority, minority):.3f}; "
                f"allowed: a ratio in [{C15_RADIUS_WINDOW[0]}, {C15_RADIUS_WINDOW[1]}]"
            )
        majority, minority = sorted((majority, minority), key=metallic_radius)
    lattice, majority_sites, minority_sites = _CELLS[prototype]
    species = [majority] * len(majority_sites) + [minority] * len(minority_sites)
    structure = Structure(lattice, species, majority_sites + minority_sites)
    structure.scale_lattice(sum(atomic_volume(symbol) for symbol in species))
    composition = {symbol: species.count(symbol) / len(species) for symbol in (majority, minority)}
    return OrderedPhase(prototype, composition, structure)


def ordered_phases(a: str, b: str, prototypes: Sequence[str] = PROTOTYPES) -> list[OrderedPhase]:
    """Return every ordered phase of the pair ``a``-``b`` over ``prototypes``.

    Off-equiatomic prototypes (L1_2, D0_19, D0_3) give A3B and AB3; equiatomic
    ones (L1_0, B2, B32) give one phase; C15 gives the size-correct AB2 (large
    atom on 8a) and is skipped when the pair is outside the radius window.
    """
    for prototype in prototypes:
        _check_prototype(prototype)
    _check_pair(a, b)
    phases = []
    for prototype in prototypes:
        if prototype == "C15":
            if c15_fits(a, b):
                phases.append(ordered_phase(prototype, a, b))
        elif prototype in ("L1_0", "B2", "B32"):
            phases.append(ordered_phase(prototype, a, b))
        else:
            phases += [ordered_phase(prototype, a, b), ordered_phase(prototype, b, a)]
    return phases
