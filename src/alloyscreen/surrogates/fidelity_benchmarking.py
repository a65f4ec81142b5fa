"""Simulated two-fidelity campaigns against a ground truth known at both fidelities.

Every strategy is judged by the expensive-fidelity calls (and the core-hours of
all calls) it spends until ``find_fraction`` of the true expensive top-``top_k``
carry an expensive label:

- ``expensive``: the trees learn the expensive labels alone, a batch a round;
- ``ladder``: the trees learn ``ladder_cheap_calls`` cheap labels, then the
  expensive fidelity validates in the cheap order (cheap labels first, then the
  cheap model's predictions), a batch at a time: today's fidelity ladder;
- ``ranker``: ``expensive`` with a zero-shot potential re-ranking the trees'
  top slice, its values mapped onto the expensive labels by a line
  (:class:`~alloyscreen.surrogates.potential.CalibratedPotential`) and
  precision-weighted with the trees, as a campaign's ``ranker`` does;
- ``multi``: a batch of cheap labels a round, chosen on the expensive value
  predicted as cheap model + Δ model, and as many expensive labels as ``share``
  of the round's core-hours buys, chosen among the cheap-labelled candidates
  (:mod:`~alloyscreen.surrogates.multifidelity`), as a ``fidelity: multi``
  campaign does.

A simulation, not the campaign's own round code, for the reason
:mod:`~alloyscreen.surrogates.benchmarking` gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective, acquisition_scores
from alloyscreen.surrogates.ensemble import MIN_LABELS, EnsembleRegressor
from alloyscreen.surrogates.multifidelity import expensive_count, expensive_moments, residual_prior
from alloyscreen.surrogates.potential import MIN_CALIBRATION_LABELS, CalibratedPotential, combine
from alloyscreen.surrogates.selection import select_batch

STRATEGIES = ("expensive", "ladder", "ranker", "multi")
OBJECTIVE = Objective("mixing energy", "minimize")


@dataclass
class FidelityTrace:
    """Expensive calls, core-hours and expensive top-k hits after each round of one simulated campaign."""

    strategy: str
    seed: int
    expensive_calls: list[int] = field(default_factory=list)
    core_hours: list[float] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    calls_to_target: int | None = None
    core_hours_to_target: float | None = None


@dataclass
class TwoFidelityProblem:
    """A space known at both fidelities: descriptors, labels (eV/atom) and core-hours per calculation."""

    X: np.ndarray
    cheap: np.ndarray
    expensive: np.ndarray
    cost_cheap: float
    cost_expensive: float
    ranker_values: np.ndarray | None = None
    cost_ranker: float = 0.0

    def top(self, top_k: int) -> np.ndarray:
        """Whether each candidate is in the expensive fidelity's true top-``top_k``."""
        is_top = np.zeros(len(self.expensive), dtype=bool)
        is_top[np.argsort(-OBJECTIVE.utility(self.expensive), kind="stable")[:top_k]] = True
        return is_top


@dataclass
class _Settings:
    """The settings of one simulated run (see :func:`simulate_fidelities`)."""

    seed: int
    batch: int
    n_init: int
    max_expensive: int
    ladder_cheap_calls: int
    share: float
    ranker_pool: float
    model_factory: Callable[[int], EnsembleRegressor]


class _State:
    """Labels spent so far at each fidelity, and the trace they make."""

    def __init__(self, problem: TwoFidelityProblem, trace: FidelityTrace, is_top: np.ndarray, needed: int,
                 settings: _Settings):
        n = len(problem.expensive)
        self.problem, self.trace, self.is_top, self.needed = problem, trace, is_top, needed
        self.settings, self.rng = settings, np.random.default_rng(settings.seed)
        self.cheap, self.expensive, self.ranked = (np.zeros(n, dtype=bool) for _ in range(3))

    def record(self) -> bool:
        """Append the round to the trace; True once the target is reached."""
        p, trace = self.problem, self.trace
        calls = int(self.expensive.sum())
        hours = calls * p.cost_expensive + self.cheap.sum() * p.cost_cheap + self.ranked.sum() * p.cost_ranker
        found = int((self.expensive & self.is_top).sum())
        trace.expensive_calls.append(calls)
        trace.core_hours.append(float(hours))
        trace.found.append(found)
        if found >= self.needed:
            trace.calls_to_target, trace.core_hours_to_target = calls, float(hours)
        return found >= self.needed


def _scores(mean, std, incumbents, rng) -> np.ndarray:
    return acquisition_scores("ei", OBJECTIVE, mean, std, y_labelled=incumbents, rng=rng)


def _fit(model_factory, seed, X, y) -> EnsembleRegressor:
    return model_factory(seed).fit(X, y)


def _trees(state: _State, labelled_mask: np.ndarray, y: np.ndarray):
    """Trees fitted on the rows of ``labelled_mask``: those rows, the others, and the trees' moments on the others.

    ``y``: the labels of every row (only the labelled ones are read).
    """
    X, settings = state.problem.X, state.settings
    labelled, pool = np.flatnonzero(labelled_mask), np.flatnonzero(~labelled_mask)
    model = _fit(settings.model_factory, settings.seed + len(labelled), X[labelled], y[labelled])
    mean, std = model.predict_moments(X[pool])[:2]
    return labelled, pool, mean, std


def _pick(scores, X, rows, size, seed) -> np.ndarray:
    """The ``size`` best-scored ``rows``, diverse in descriptor space (max-min in the top slice)."""
    return select_batch(scores, X[rows], rows, size, diversity="maxmin", pool_factor=3.0, seed=seed).candidate_ids


def simulate_fidelities(problem: TwoFidelityProblem, strategy: str, seed: int = 0, batch: int = 10,
                        n_init: int = 10, top_k: int = 10, find_fraction: float = 0.9, max_expensive: int = 400,
                        ladder_cheap_calls: int = 200, share: float = 0.5, ranker_pool: float = 4.0,
                        model_factory: Callable[[int], EnsembleRegressor] | None = None) -> FidelityTrace:
    """Run one simulated campaign with ``strategy`` (one of :data:`STRATEGIES`); return its trace.

    ``batch``: labels a round (cheap ones for ``multi``), ``n_init``: random
    first labels, ``max_expensive``: expensive calls at most (the run is then
    censored), ``share``: ``multi``'s core-hour share of the expensive
    fidelity, ``ranker_pool``: the re-ranked slice as a multiple of ``batch``.
    """
    if strategy not in STRATEGIES:
        raise AlloyscreenError(f"unknown two-fidelity strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
    if strategy == "ranker" and problem.ranker_values is None:
        raise AlloyscreenError("strategy 'ranker' needs the problem's ranker_values; allowed: a problem with them")
    if model_factory is None:
        from alloyscreen.surrogates.benchmarking import default_model
        model_factory = default_model
    settings = _Settings(seed, batch, n_init, max_expensive, ladder_cheap_calls, share,
                         ranker_pool if strategy == "ranker" else 0.0, model_factory)
    state = _State(problem, FidelityTrace(strategy, seed), problem.top(top_k), math.ceil(find_fraction * top_k),
                   settings)
    {"expensive": _single, "ranker": _single, "ladder": _ladder, "multi": _multi}[strategy](state)
    return state.trace


def _single(state: _State) -> None:
    """Trees on the expensive labels alone (with a re-ranking potential when ``ranker_pool`` > 0)."""
    s, p, X, rng = state.settings, state.problem, state.problem.X, state.rng
    seed, batch, max_expensive = s.seed, s.batch, s.max_expensive
    state.expensive[rng.choice(len(X), s.n_init, replace=False)] = True
    while not state.record() and state.expensive.sum() < max_expensive:
        labelled, pool, mean, std = _trees(state, state.expensive, p.expensive)
        if p.ranker_values is not None and s.ranker_pool and len(labelled) >= MIN_CALIBRATION_LABELS:
            top = pool[np.argsort(-_scores(mean, std, p.expensive[labelled], rng))[:int(s.ranker_pool * batch)]]
            state.ranked[top] = state.ranked[labelled] = True
            line = CalibratedPotential().fit(p.ranker_values[labelled], p.expensive[labelled])
            rows = np.searchsorted(pool, top)
            mean, std = mean[rows], std[rows]
            mean, std = combine(mean, std, *line.predict_moments(p.ranker_values[top]), "precision")
            pool = top
        size = min(batch, max_expensive - len(labelled))
        state.expensive[_pick(_scores(mean, std, p.expensive[labelled], rng), X, pool, size, seed)] = True


def _ladder(state: _State) -> None:
    """Cheap active learning for ``ladder_cheap_calls`` labels, then expensive checks in the cheap order."""
    s, p, X, rng = state.settings, state.problem, state.problem.X, state.rng
    seed, batch, max_expensive, model_factory = s.seed, s.batch, s.max_expensive, s.model_factory
    state.cheap[rng.choice(len(X), s.n_init, replace=False)] = True
    while state.cheap.sum() < min(s.ladder_cheap_calls, len(X)):
        labelled, pool, mean, std = _trees(state, state.cheap, p.cheap)
        size = min(batch, s.ladder_cheap_calls - len(labelled), len(pool))
        state.cheap[_pick(_scores(mean, std, p.cheap[labelled], rng), X, pool, size, seed)] = True
    labelled, unlabelled = np.flatnonzero(state.cheap), np.flatnonzero(~state.cheap)
    predicted = _fit(model_factory, seed, X[labelled], p.cheap[labelled]).predict(X[unlabelled])
    ranked = np.concatenate([labelled[np.argsort(p.cheap[labelled], kind="stable")],
                             unlabelled[np.argsort(predicted, kind="stable")]])
    for start in range(0, max_expensive, batch):
        if state.record():
            return
        state.expensive[ranked[start:start + batch]] = True
    state.record()


def _delta(p: TwoFidelityProblem, model_factory, seed: int, pairs: np.ndarray,
           cheap: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Rows -> the Δ model's mean and spread (its residual prior with fewer than ``MIN_LABELS`` pairs)."""
    residuals = p.expensive[pairs] - p.cheap[pairs]
    if len(pairs) >= MIN_LABELS:
        model = _fit(model_factory, seed + 7 + len(pairs), p.X[pairs], residuals)
        return lambda rows: model.predict_moments(p.X[rows])[:2]
    mean, spread = residual_prior(residuals, p.cheap[cheap])
    return lambda rows: (np.full(len(rows), mean), np.full(len(rows), spread))


def _multi(state: _State) -> None:
    """Cheap batches on the Δ-corrected prediction; the core-hour share of expensive labels among the cheap ones."""
    s, p, X, rng = state.settings, state.problem, state.problem.X, state.rng
    seed, batch, max_expensive, model_factory = s.seed, s.batch, s.max_expensive, s.model_factory
    state.cheap[rng.choice(len(X), s.n_init, replace=False)] = True
    per_round = expensive_count(batch, p.cost_cheap, p.cost_expensive, s.share)
    while not state.record() and state.expensive.sum() < max_expensive:
        cheap, pairs = np.flatnonzero(state.cheap), np.flatnonzero(state.expensive)
        delta_moments = _delta(p, model_factory, seed, pairs, cheap)
        incumbents = p.expensive[pairs] if len(pairs) else p.cheap[cheap]
        open_ = np.flatnonzero(state.cheap & ~state.expensive)
        delta_mean, delta_std = delta_moments(open_)
        size = min(per_round, max_expensive - len(pairs), len(open_))
        best = np.argsort(-_scores(p.cheap[open_] + delta_mean, delta_std, incumbents, rng), kind="stable")[:size]
        state.expensive[open_[best]] = True
        if state.cheap.all():
            continue
        _, pool, cheap_mean, cheap_std = _trees(state, state.cheap, p.cheap)
        mean, std = expensive_moments(cheap_mean, cheap_std, *delta_moments(pool))
        state.cheap[_pick(_scores(mean, std, incumbents, rng), X, pool, min(batch, len(pool)), seed)] = True
