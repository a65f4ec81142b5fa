"""A scoring cascade for screens: one ensemble member scores every candidate, the whole ensemble only a few.

The bound. Let the ensemble have ``M`` prediction rows (members; a forest's trees
or CatBoost's virtual members count one each) with raw spread ``σ`` (the
standard deviation of the rows, ``ddof=1``, before calibration, which leaves the
mean alone), and let ``p`` be the mean of the ``g`` rows of its first member.
Since the rows' deviations from the ensemble mean ``μ`` sum to zero,

    |p − μ| ≤ σ · sqrt((M − 1)(M − g) / (g M))          (exact, for every candidate)

so, with ``u`` the objective's utility (1-Lipschitz in the mean for every
direction: maximise, minimise, target), ``u(μ) ≤ u(p) + reach`` wherever that
candidate's ``σ · sqrt(...)`` is at most ``reach``. The cascade takes ``reach``
as ``SPREAD_MARGIN`` times the largest such value over every candidate the
whole ensemble has scored so far in this stream (at least ``MIN_SAMPLE`` of
them, all scored in full before the cascade starts). Its one assumption is
therefore that no candidate left to the first member has a spread more than
``SPREAD_MARGIN`` times the largest seen; under it, a candidate with
``u(p) + reach`` below the ``keep``-th best utility scored so far cannot enter the
top ``keep``, and the cascade's top slice is the whole ensemble's (same rows,
same order, same means and spreads).

Per chunk the whole ensemble scores the best ``fraction`` of the chunk by
``u(p)`` (the spec's ``acquisition.cascade``: these keep the spread estimate
fed with the candidates that matter) and every candidate the bound cannot
exclude. The others carry ``p`` as their mean, NaN as their spread and ``u(p)``
as their score, which lies below the ``keep``-th best, so they are never kept;
a screen's summary of the predicted mean then mixes both stages (the top slice
does not).
"""

from __future__ import annotations

import math

import numpy as np

from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.ensemble import EnsembleRegressor

SPREAD_MARGIN = 2.0
"""How far past the largest spread seen the bound reaches (a factor)."""
MIN_SAMPLE = 2048
"""Candidates the whole ensemble scores before the cascade starts pruning."""


class CascadeScorer:
    """A :data:`~alloyscreen.campaign.round.scoring.Scorer` of the mean's utility that prunes as the module says.

    One instance scores one stream (a space or one shard of it), in order; it counts what it scored in full.
    """

    def __init__(self, model: EnsembleRegressor, objective: Objective, keep: int, fraction: float):
        self.model, self.objective, self.keep, self.fraction = model, objective, keep, fraction
        self.best = np.empty(0)  # the best ``keep`` utilities of the whole ensemble so far, best first
        self.reach = 0.0  # largest σ · sqrt((M − 1)(M − g) / (g M)) seen
        self.scored = 0  # candidates seen
        self.fully_scored = 0  # candidates the whole ensemble scored

    def __call__(self, comps, X: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, std and score of one chunk's rows (pruned rows: the first member's mean, NaN std)."""
        first, rows_of_first = self.model.predict_first_member(X)
        score = self.objective.utility(first)
        mean, std = first.copy(), np.full(len(X), np.nan)
        full = self._worth_scoring(score)
        if full.any():
            full_mean, full_std, _ = self.model.predict_moments(X[full])
            mean[full], std[full] = full_mean, full_std
            score[full] = self.objective.utility(full_mean)
            self._learn(score[full], full_std, rows_of_first)
        self.scored += len(X)
        self.fully_scored += int(full.sum())
        return mean, std, score

    def _worth_scoring(self, score: np.ndarray) -> np.ndarray:
        """Rows the whole ensemble scores: all while learning, then the best share and what the bound keeps in."""
        if self.fully_scored < MIN_SAMPLE or len(self.best) < self.keep or not self.fraction < 1:
            return np.ones(len(score), dtype=bool)
        threshold = self.best[-1]
        full = ~(score + SPREAD_MARGIN * self.reach < threshold)  # NaN first-member scores: scored in full
        share = math.ceil(self.fraction * len(score))
        full[np.argsort(-score, kind="stable")[:share]] = True
        return full

    def _learn(self, utility: np.ndarray, std: np.ndarray, rows_of_first: int) -> None:
        """Update the best utilities and the largest reach from rows the whole ensemble scored."""
        total = rows_of_first * len(self.model.members_)
        scale = self.model.std_scale
        raw = std / scale if scale > 0 else np.full(len(std), np.inf)  # no spread to go by: nothing is pruned
        factor = math.sqrt((total - 1) * (total - rows_of_first) / (rows_of_first * total)) if total > 1 else 0.0
        if len(raw):
            largest = float(np.max(raw))  # NaN (a NaN prediction): no bound, nothing is pruned from now on
            self.reach = math.inf if math.isnan(largest) else max(self.reach, largest * factor)
        finite = utility[~np.isnan(utility)]
        self.best = np.sort(np.concatenate([self.best, finite]))[::-1][:self.keep]
