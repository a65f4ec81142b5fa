"""Pareto ranking (non-dominated sorting) of candidates on two or more objectives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective

MAX_PARETO_CANDIDATES = 20_000
"""Largest set ranked at once (the dominance matrix is n x n); rank the top slice of big spaces."""


def dominance_matrix(utilities: np.ndarray) -> np.ndarray:
    """Return ``D`` with ``D[i, j]`` true when candidate ``i`` dominates ``j`` (all utilities maximised)."""
    u = np.asarray(utilities, dtype=float)
    ge = (u[:, None, :] >= u[None, :, :]).all(axis=-1)
    gt = (u[:, None, :] > u[None, :, :]).any(axis=-1)
    return np.asarray(ge & gt)


def pareto_ranks(values, objectives: Sequence[Objective]) -> np.ndarray:
    """Return the non-dominated front of each candidate: 0 for the Pareto front, 1 for the next ...

    Parameters
    ----------
    values
        Property values, shape ``(n, m)``, column ``k`` for ``objectives[k]``.
    objectives
        One :class:`Objective` per column (its direction decides better).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(objectives) or len(objectives) < 2:
        raise AlloyscreenError(
            f"Pareto ranking needs an (n, m) array with m = number of objectives >= 2; "
            f"got shape {values.shape} for {len(objectives)} objectives"
        )
    if not np.all(np.isfinite(values)):
        raise AlloyscreenError("Pareto ranking needs finite objective values; drop NaN or infinite rows")
    n = values.shape[0]
    if n > MAX_PARETO_CANDIDATES:
        raise AlloyscreenError(
            f"Pareto ranking of {n} candidates needs an {n}x{n} matrix; "
            f"pass at most {MAX_PARETO_CANDIDATES} (the top slice)"
        )
    utilities = np.column_stack([obj.utility(values[:, k]) for k, obj in enumerate(objectives)])
    dominates = dominance_matrix(utilities)
    dominated_by = dominates.sum(axis=0)
    ranks = np.full(n, -1, dtype=int)
    remaining = np.ones(n, dtype=bool)
    front = 0
    while remaining.any():
        current = remaining & (dominated_by == 0)
        ranks[current] = front
        remaining &= ~current
        dominated_by = dominated_by - dominates[current].sum(axis=0)
        front += 1
    return ranks
