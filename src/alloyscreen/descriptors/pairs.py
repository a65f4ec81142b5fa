"""Descriptors from computed binary formation enthalpies, and the single-phase criterion built on them.

Troparevsky et al. (Phys. Rev. X 5, 011041, 2015) predict a single-phase solid
solution when the formation enthalpy of every binary compound of the alloy's
elements lies inside a window: above ``−T·ΔS_mix`` (T the annealing
temperature, ΔS_mix the ideal configurational entropy; here the candidate's own,
which is ``k_B ln N`` at equal fractions) and below an upper bound, 37 meV/atom
in that paper (beyond it the pair tends to phase-separate). Each pair's
enthalpy is its lowest computed formation energy among the competing phases
(:class:`~alloyscreen.validation.phases.PhaseHull`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alloyscreen.descriptors.compositions import Compositions, ideal_mixing_entropy
from alloyscreen.descriptors.elementdata import atomic_numbers

BOLTZMANN = 8.617333262e-5
"""Boltzmann constant (eV/K), CODATA 2018."""
TROPAREVSKY_UPPER = 0.037
"""Upper bound of the binary formation enthalpies (eV/atom), Troparevsky et al. 2015."""


def _pair_scan(comps: Compositions, enthalpies: Mapping[tuple[str, str], float]):
    """Lowest and highest enthalpy (±inf without one) and the number of pairs with one, per composition."""
    present = comps.present
    low, high = np.full(len(comps), np.inf), np.full(len(comps), -np.inf)
    known = np.zeros(len(comps), dtype=int)
    for (a, b), value in enthalpies.items():
        za, zb = atomic_numbers([a, b])
        both = ((comps.z == za) & present).any(axis=1) & ((comps.z == zb) & present).any(axis=1)
        low[both], high[both] = np.minimum(low[both], value), np.maximum(high[both], value)
        known += both
    return low, high, known


def pair_enthalpy_range(comps: Compositions, enthalpies: Mapping[tuple[str, str], float]) -> np.ndarray:
    """(n, 2): the lowest and highest enthalpy (eV/atom) of the pairs in each composition; NaN without a pair."""
    low, high, known = _pair_scan(comps, enthalpies)
    return np.column_stack([np.where(known > 0, low, np.nan), np.where(known > 0, high, np.nan)])


def mixing_entropy(comps: Compositions) -> np.ndarray:
    """Ideal configurational entropy (eV/K per atom) of each composition."""
    return BOLTZMANN * ideal_mixing_entropy(comps.c)


def single_phase(comps: Compositions, enthalpies: Mapping[tuple[str, str], float], temperature: float,
                 upper: float = TROPAREVSKY_UPPER) -> np.ndarray:
    """Whether every pair of each composition lies in ``[−temperature·ΔS_mix, upper]`` (a pure element: True).

    A pair without an enthalpy (its phases all failed) fails the criterion: it cannot be shown to pass.
    """
    low, high, known = _pair_scan(comps, enthalpies)
    elements = comps.present.sum(axis=1)
    inside = (low >= -temperature * mixing_entropy(comps)) & (high <= upper)
    return (known == elements * (elements - 1) // 2) & ((known == 0) | inside)
