"""Bounded integer compositions: counting (exact, Python integers) and blocked lexicographic enumeration.

A grid candidate with fraction step ``1/total`` is a vector of positive integers
``x`` over its elements with ``sum(x) == total`` and ``lo <= x <= hi`` per element.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import combinations

import numpy as np

_CACHE_ROWS = 4096  # sub-enumerations up to this many rows are kept for reuse


def count_space(
    bounds: Sequence[tuple[int, int]],
    required: Sequence[bool],
    n_components: range,
    total: int,
    excluded_pairs: Sequence[tuple[int, int]] = (),
) -> int:
    """Return the number of grid compositions, without enumerating them.

    Stars and bars with per-element bounds by dynamic programming over elements (generating
    function prod_e (1 + y sum_{x=lo_e}^{hi_e} t^x), coefficient of y^k t^total), and
    inclusion-exclusion over the excluded pairs (each term forces a set of pairs present).

    Parameters
    ----------
    bounds : sequence of (int, int)
        Integer bounds of each pool element when present (lo >= 1).
    required : sequence of bool
        Element must be present.
    n_components : range
        Allowed numbers of present elements.
    total : int
        Sum of the integer amounts (1 / step).
    excluded_pairs : sequence of (int, int)
        Pool indices of pairs that may not be present together.
    """
    result = 0
    pairs = list(excluded_pairs)
    for size in range(len(pairs) + 1):
        for chosen in combinations(pairs, size):
            forced = {i for pair in chosen for i in pair}
            flags = [req or i in forced for i, req in enumerate(required)]
            result += (-1) ** size * _count(tuple(bounds), tuple(flags), n_components, total)
    return result


def _count(bounds: tuple[tuple[int, int], ...], required: tuple[bool, ...], ks: range, total: int) -> int:
    kmax = max(ks)
    dp = [[0] * (total + 1) for _ in range(kmax + 1)]
    dp[0][0] = 1
    for (lo, hi), needed in zip(bounds, required, strict=True):
        new = [[0] * (total + 1) for _ in range(kmax + 1)] if needed else [row[:] for row in dp]
        if lo > hi:  # the bounds never let this element be present
            dp = new
            continue
        for k in range(kmax):
            prefix = [0]
            for value in dp[k]:
                prefix.append(prefix[-1] + value)
            target = new[k + 1]
            for t in range(lo, total + 1):
                target[t] += prefix[t - lo + 1] - prefix[max(t - hi, 0)]
        dp = new
    return sum(dp[k][total] for k in ks if k <= kmax)


class BoundedCompositions:
    """Integer vectors with ``sum == total`` and ``lo <= x <= hi``, in lexicographic order."""

    def __init__(self, lo: Sequence[int], hi: Sequence[int], total: int):
        self.lo, self.hi, self.total = tuple(lo), tuple(hi), total
        self.k = len(self.lo)
        self._rows: dict[tuple[int, int], np.ndarray] = {}
        self._counts: dict[tuple[int, int], int] = {}

    def count(self, depth: int = 0, total: int | None = None) -> int:
        """Return the number of vectors for the parts ``depth..k-1`` summing to ``total``."""
        total = self.total if total is None else total
        key = (depth, total)
        if key not in self._counts:
            lo, hi = self.lo[depth], self.hi[depth]
            if depth == self.k - 1:
                self._counts[key] = int(lo <= total <= hi)
            else:
                self._counts[key] = sum(self.count(depth + 1, total - x) for x in range(lo, min(hi, total) + 1))
        return self._counts[key]

    def _all(self, depth: int, total: int) -> np.ndarray:
        key = (depth, total)
        if key in self._rows:
            return self._rows[key]
        if depth == self.k - 1:
            rows = np.array([[total]], dtype=np.int32)
        else:
            rows = np.concatenate([
                _prepend(x, self._all(depth + 1, total - x))
                for x in range(self.lo[depth], min(self.hi[depth], total) + 1)
                if self.count(depth + 1, total - x)
            ])
        if len(rows) <= _CACHE_ROWS:
            self._rows[key] = rows
        return rows

    def blocks(self, limit: int, skip: int = 0, depth: int = 0, total: int | None = None) -> Iterator[np.ndarray]:
        """Yield (rows, k - depth) int32 blocks of at most ``limit`` rows, in lexicographic order.

        The first ``skip`` rows are left out without being enumerated (whole
        sub-trees are passed over by their counts).
        """
        total = self.total if total is None else total
        n = self.count(depth, total)
        if n <= skip:
            return
        if n <= limit or depth == self.k - 1:
            yield self._all(depth, total)[skip:]
            return
        for x in range(self.lo[depth], min(self.hi[depth], total) + 1):
            below = self.count(depth + 1, total - x)
            if skip >= below:
                skip -= below
                continue
            for block in self.blocks(limit, skip, depth + 1, total - x):
                yield _prepend(x, block)
            skip = 0


def _prepend(value: int, rows: np.ndarray) -> np.ndarray:
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.int32)
    out[:, 0] = value
    out[:, 1:] = rows
    return out


@lru_cache(maxsize=32)
def compositions_for(lo: tuple[int, ...], hi: tuple[int, ...], total: int) -> BoundedCompositions:
    """Return the (cached) enumerator for one bounds signature."""
    return BoundedCompositions(lo, hi, total)
