"""Pareto ranking (non-dominated sorting) of candidates on two or more objectives.

Utilities are higher-is-better (see :class:`~alloyscreen.surrogates.acquisition.Objective`).
For spaces too large to sort at once, :func:`pareto_pool` keeps, chunk after
chunk, every candidate dominated by fewer than ``threshold`` others. That set is
closed under dominance (a candidate's dominators are dominated by fewer still),
so the fronts computed inside it are the fronts of the whole space, and merging
pools of disjoint chunks or shards and pooling again gives the pool of the union.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective

MAX_PARETO_CANDIDATES = 20_000
"""Largest set ranked at once (the dominance matrix is n x n); rank the top slice of big spaces."""
MAX_POOL = 5_000
"""Largest pool :func:`pareto_pool` keeps: beyond it the threshold is lowered (never below the Pareto front)."""
_BLOCK = 1024  # rows compared at a time: bounds the (block, n, m) temporaries
_DIRECT = 4096  # sets larger than this are pooled by halves


def dominance_matrix(utilities: np.ndarray) -> np.ndarray:
    """Return ``D`` with ``D[i, j]`` true when candidate ``i`` dominates ``j`` (all utilities maximised)."""
    u = np.asarray(utilities, dtype=float)
    ge = (u[:, None, :] >= u[None, :, :]).all(axis=-1)
    gt = (u[:, None, :] > u[None, :, :]).any(axis=-1)
    return np.asarray(ge & gt)


def dominance_counts(utilities: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each row of ``utilities``, how many rows of ``reference`` dominate it (blocked, O(n m) memory)."""
    counts = np.empty(len(utilities), dtype=np.int64)
    for start in range(0, len(utilities), _BLOCK):
        block = utilities[start:start + _BLOCK, None, :]
        ge = (reference[None, :, :] >= block).all(axis=-1)
        gt = (reference[None, :, :] > block).any(axis=-1)
        counts[start:start + _BLOCK] = (ge & gt).sum(axis=1)
    return counts


def pareto_fronts(utilities) -> np.ndarray:
    """Return the front of each row of ``utilities`` (n x m, higher is better): 0 for the Pareto front, 1 next ..."""
    utilities = np.asarray(utilities, dtype=float)
    n = utilities.shape[0]
    if n > MAX_PARETO_CANDIDATES:
        raise AlloyscreenError(
            f"Pareto ranking of {n} candidates needs an {n}x{n} matrix; "
            f"pass at most {MAX_PARETO_CANDIDATES} (the top slice, or pareto_pool of the space)"
        )
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
    return pareto_fronts(np.column_stack([obj.utility(values[:, k]) for k, obj in enumerate(objectives)]))


def _standard_sum(utilities: np.ndarray) -> np.ndarray:
    """Sum of standardised utilities: a dominator always has the larger sum (a tie-break within fronts)."""
    scale = utilities.std(axis=0)
    return ((utilities - utilities.mean(axis=0)) / np.where(scale > 0, scale, 1.0)).sum(axis=1)


def _counts_2d(utilities: np.ndarray, cap: int) -> np.ndarray:
    """Dominators of each row of ``(n, 2)`` utilities, exact below ``cap`` (``cap`` stands for ``cap`` or more).

    A sweep in decreasing first utility that keeps only the largest second
    utilities seen so far: O(n log cap) instead of O(n^2).
    """
    order = np.lexsort((-utilities[:, 1], -utilities[:, 0]))
    first, second = utilities[order, 0], utilities[order, 1]
    twin = np.r_[False, (first[1:] == first[:-1]) & (second[1:] == second[:-1])]
    position = np.arange(len(first))
    twins_before = position - np.maximum.accumulate(np.where(twin, 0, position))  # equal rows do not dominate
    keep = cap + int(twins_before.max(initial=0)) + 1
    counts = np.empty(len(first), dtype=np.int64)
    largest = np.empty(0)  # the `keep` largest second utilities seen so far, ascending
    for start in range(0, len(first), _BLOCK):
        block = second[start:start + _BLOCK]
        before = largest.size - np.searchsorted(largest, block, side="left")
        within = np.tril(block[None, :] >= block[:, None], k=-1).sum(axis=1)
        counts[start:start + _BLOCK] = before + within
        largest = np.sort(np.concatenate([largest, block]))[-keep:]
    out = np.empty_like(counts)
    out[order] = counts - twins_before
    return np.minimum(out, cap)


def _qualifying(utilities: np.ndarray, rows: np.ndarray, threshold: int,
                max_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``rows`` dominated by fewer than ``threshold`` of ``rows`` (increasing) and their dominance counts.

    At most ``max_size`` rows (see :func:`pareto_pool`); the counts are exact, as
    every dominator of a kept row is kept.

    Two objectives: a sweep (:func:`_counts_2d`). More: large sets are halved,
    each half pooled and the union pooled again (exact, as a pool holds every
    dominator of its members), after a cheap filter by the best-by-sum rows.
    """
    if utilities.shape[1] == 2:
        counts = _counts_2d(utilities[rows], threshold)
    else:
        if rows.size > _DIRECT:
            halves = (rows[:rows.size // 2], rows[rows.size // 2:])
            rows = np.concatenate([_qualifying(utilities, half, threshold, max_size)[0] for half in halves])
        leaders = rows[np.argsort(-_standard_sum(utilities[rows]), kind="stable")[:max(2 * threshold, 256)]]
        rows = rows[dominance_counts(utilities[rows], utilities[leaders]) < threshold]
        counts = dominance_counts(utilities[rows], utilities[rows])
    allowed = threshold
    if rows.size > max_size:  # counts < allowed: at most max_size rows, or the Pareto front alone
        allowed = min(threshold, max(int(np.sort(counts)[max_size]), 1))
    rows, counts = rows[counts < allowed], counts[counts < allowed]
    if rows.size > max_size:  # a Pareto front larger than the pool: cut it by the utility sum
        cut = np.argsort(-_standard_sum(utilities[rows]), kind="stable")[:max_size]
        rows, counts = rows[cut], counts[cut]
    order = np.argsort(rows)
    return rows[order], counts[order]


def pareto_pool(utilities, threshold: int, max_size: int = MAX_POOL) -> tuple[np.ndarray, np.ndarray]:
    """Keep the rows dominated by fewer than ``threshold`` others, best first; return them and their fronts.

    Rows with a non-finite utility are never kept. The pool holds at least
    ``min(threshold, finite rows)`` rows. When more than ``max_size`` rows
    qualify, the threshold is lowered (the pool stays closed under dominance);
    a Pareto front larger than ``max_size`` is cut to the rows with the largest
    standardised utility sum (then the pool is the best of what the parts of a
    large set kept, no longer exact). Order: front, then dominance count, then that sum.

    Returns
    -------
    rows, fronts
        Indices into ``utilities`` (best first) and the front of each.
    """
    utilities = np.asarray(utilities, dtype=float)
    rows, counts = _qualifying(utilities, np.flatnonzero(np.isfinite(utilities).all(axis=1)), threshold, max_size)
    if rows.size == 0:
        return rows, rows.copy()
    spread = _standard_sum(utilities[rows])
    fronts = pareto_fronts(utilities[rows])
    order = np.lexsort((-spread, counts, fronts))
    return rows[order], fronts[order]
