"""Warren–Cowley short-range-order parameters over coordination shells.

For shell ``s`` and species ``i, j``: ``alpha_s(i, j) = 1 - P_s(j | i) / c_j``,
with ``P_s(j | i)`` the fraction of the shell-``s`` neighbours of ``i`` atoms
that are ``j`` and ``c_j`` the concentration of ``j``. A perfectly random
alloy has ``alpha = 0``; SQS aim at it. Shells are found from the distances of
the (unrelaxed) structure: distances closer than ``SHELL_TOLERANCE`` times the
nearest-neighbour distance belong to the same shell.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

SHELL_TOLERANCE = 0.05
DEFAULT_SHELL_WEIGHTS = {1: 1.0, 2: 0.5, 3: 1.0 / 3.0}


def neighbor_shells(structure: Structure, n_shells: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``(centers, neighbors)`` index arrays of each of the first ``n_shells`` shells."""
    nn = float(np.min(structure.distance_matrix + np.eye(len(structure)) * 1e9))
    radius = nn * (1.0 + 0.6 * n_shells)
    while True:
        centers, neighbors, _, distances = structure.get_neighbor_list(radius)
        levels = np.unique(np.round(distances / (SHELL_TOLERANCE * nn)))
        if len(levels) > n_shells:
            break
        radius *= 1.5
    bins = np.round(distances / (SHELL_TOLERANCE * nn))
    return [(centers[bins == level], neighbors[bins == level]) for level in levels[:n_shells]]


def warren_cowley(structure: Structure, n_shells: int = 3) -> tuple[list[str], np.ndarray]:
    """Compute Warren–Cowley parameters.

    Returns
    -------
    symbols, alpha
        Sorted element symbols and ``alpha`` of shape ``(n_shells, n_el, n_el)``.
    """
    species = np.array([site.specie.symbol for site in structure])
    symbols, codes = np.unique(species, return_inverse=True)
    n_el = len(symbols)
    concentration = np.bincount(codes, minlength=n_el) / len(codes)
    alpha = np.empty((n_shells, n_el, n_el))
    for s, (centers, neighbors) in enumerate(neighbor_shells(structure, n_shells)):
        pairs = np.zeros((n_el, n_el))
        np.add.at(pairs, (codes[centers], codes[neighbors]), 1.0)
        probability = pairs / pairs.sum(axis=1, keepdims=True)
        alpha[s] = 1.0 - probability / concentration[None, :]
    return symbols.tolist(), alpha


def sro_objective(alpha: np.ndarray, weights: dict[int, float] | None = None) -> float:
    """Return ``sum_s w_s mean_{i<=j} |alpha_s(i, j)|``: 0 for an ideal random alloy."""
    weights = DEFAULT_SHELL_WEIGHTS if weights is None else weights
    upper = np.triu_indices(alpha.shape[1])
    return float(sum(weights.get(s + 1, 0.0) * np.abs(shell[upper]).mean() for s, shell in enumerate(alpha)))
