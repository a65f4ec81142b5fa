"""Random (Dirichlet) and quasi-random (Sobol) compositions on allowed element subsets.

Each draw picks an allowed subset uniformly, then fractions on it: Dirichlet(alpha)
from numpy's PCG64 generator, or a scrambled Sobol point (scipy.stats.qmc) mapped to
the simplex by normalised exponential spacings (-log(1 - u)), which is uniform on the
simplex. Draws that break a fraction bound are rejected. Draws are made in batches
of ``BATCH`` rows whatever chunk size is asked for, so the stream is the same for a
given seed and spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from scipy.stats import qmc

BATCH = 1 << 16  # a power of two keeps Sobol's balance properties


class SubsetSampler:
    """Draw compositions over ``n_pool`` columns on ``subsets`` with fraction bounds.

    Parameters
    ----------
    subsets : sequence of tuple of int
        Allowed sets of pool columns.
    lower, upper : np.ndarray
        (n_pool,) fraction bounds of each element when present.
    kind : {"dirichlet", "sobol"}
        Sampler.
    seed : int
        Seed.
    alpha : float
        Dirichlet concentration.
    """

    def __init__(self, subsets: Sequence[tuple[int, ...]], lower: np.ndarray, upper: np.ndarray,
                 kind: str, seed: int, alpha: float = 1.0):
        self.n_pool = len(lower)
        self.lower, self.upper = lower, upper
        self.kind, self.seed, self.alpha = kind, seed, alpha
        self.sizes = np.array([len(s) for s in subsets])
        self.width = int(self.sizes.max())
        self.members = np.zeros((len(subsets), self.width), dtype=np.int64)
        for row, subset in enumerate(subsets):
            self.members[row, : len(subset)] = subset

    def _batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (subset index, raw positive weights) for BATCH draws."""
        n_subsets = len(self.sizes)
        if self.kind == "dirichlet":
            rng = np.random.default_rng(self.seed)
            while True:
                yield rng.integers(n_subsets, size=BATCH), rng.gamma(self.alpha, size=(BATCH, self.width))
        sobol = qmc.Sobol(d=self.width + 1, scramble=True, seed=self.seed)
        while True:
            u = sobol.random(BATCH)
            yield np.minimum((u[:, 0] * n_subsets).astype(np.int64), n_subsets - 1), -np.log1p(-u[:, 1:])

    def draw(self, n: int) -> Iterator[np.ndarray]:
        """Yield dense (rows, n_pool) fraction arrays, ``n`` rows in all, in a stable order."""
        remaining = n
        for pick, weights in self._batches():
            if remaining <= 0:
                return
            dense = self._accepted(pick, weights)[:remaining]
            remaining -= len(dense)
            if len(dense):
                yield dense

    def acceptance(self) -> float:
        """Return the fraction of one batch of draws that meets the bounds."""
        pick, weights = next(self._batches())
        return len(self._accepted(pick, weights)) / BATCH

    def _accepted(self, pick: np.ndarray, weights: np.ndarray) -> np.ndarray:
        used = np.arange(self.width) < self.sizes[pick][:, None]
        weights = np.where(used, weights, 0.0)
        fractions = weights / weights.sum(axis=1, keepdims=True)
        columns = self.members[pick]
        inside = (fractions >= self.lower[columns]) & (fractions <= self.upper[columns]) & (fractions > 0)
        keep = np.flatnonzero(np.where(used, inside, True).all(axis=1))
        dense = np.zeros((len(keep), self.n_pool))
        rows = np.broadcast_to(np.arange(len(keep))[:, None], (len(keep), self.width))
        mask = used[keep]
        dense[rows[mask], columns[keep][mask]] = fractions[keep][mask]
        return dense
