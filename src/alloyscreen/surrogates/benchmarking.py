"""Simulated active-learning campaigns against a known ground truth (acquisition vs random).

:func:`simulate_campaign` replays a campaign on a descriptor matrix ``X`` whose
labels ``y_true`` are all known (an oracle, e.g. EMT mixing energies of a whole
space): it starts from ``n_init`` random labels, then each round trains an
ensemble, scores the unlabelled candidates, selects a diverse batch and "calls
the oracle" on it, until ``find_fraction`` of the true top-``top_k`` are labelled.
:func:`simulate_pareto_campaign` does the same with one learned and some exactly
known objectives, selecting front by front as a multi-objective campaign does,
until ``find_fraction`` of the true Pareto front is labelled.

Why a simulation and not the campaign's own round code
(:mod:`alloyscreen.campaign.round.steps`) on a table oracle: a real round is a
set of jobs that read the history from the database and write a selection,
a stored model (5-fold calibrated, with importances) and its predictions;
a benchmark replays thousands of rounds (seeds x strategies x rounds) on one
descriptor matrix held in memory, where that work would dominate. The
decisions are the real ones: the same :class:`EnsembleRegressor`,
:func:`acquisition_scores` and batch selection the rounds call.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import ACQUISITIONS, Objective, acquisition_scores
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.pareto import pareto_fronts, pareto_pool
from alloyscreen.surrogates.selection import select_batch, select_pareto_batch


def default_model(seed: int) -> EnsembleRegressor:
    """Return the XGBoost ensemble used by simulations: 5 members, 150 trees, one thread."""
    return EnsembleRegressor(
        learner="xgboost", n_members=5, learner_params={"n_estimators": 150}, random_state=seed, n_jobs=1
    )


@dataclass
class DiscoveryTrace:
    """Oracle calls and true top-k hits after each round of one simulated campaign."""

    strategy: str
    seed: int
    calls: list[int] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    calls_to_target: int | None = None
    final_mae: float | None = None


def simulate_campaign(
    X,
    y_true,
    strategy: str,
    batch: int = 10,
    n_init: int = 10,
    seed: int = 0,
    objective: Objective | None = None,
    top_k: int = 10,
    find_fraction: float = 0.9,
    max_calls: int | None = None,
    model_factory: Callable[[int], EnsembleRegressor] = default_model,
    diversity: str = "maxmin",
    pool_factor: float = 3.0,
    **acquisition_options,
) -> DiscoveryTrace:
    """Run one simulated campaign; return its discovery curve.

    Parameters
    ----------
    X, y_true
        Descriptors ``(n, d)`` and oracle values ``(n,)`` of the whole space.
    strategy
        Acquisition name (``random`` is the baseline: no model is trained).
    batch, n_init
        Oracle calls per round and random initial labels.
    objective
        Direction of the property (default: minimise, as for mixing energies).
    top_k, find_fraction
        The campaign stops once ``ceil(find_fraction * top_k)`` of the true top-``top_k`` are labelled.
    max_calls
        Stop after this many oracle calls (``calls_to_target`` stays None if not reached).
    """
    _check_strategy(strategy)
    X = np.asarray(X, dtype=float)
    y_true = np.asarray(y_true, dtype=float)
    objective = objective or Objective("y", "minimize")
    is_top = np.zeros(y_true.shape[0], dtype=bool)
    is_top[np.argsort(-objective.utility(y_true), kind="stable")[:top_k]] = True
    rng = np.random.default_rng(seed)

    def propose(labelled: np.ndarray, size: int, calls: int) -> tuple[np.ndarray, float]:
        pool = np.flatnonzero(~labelled)
        mean, scores = _acquire(X, y_true, labelled, pool, strategy, objective, model_factory(seed + calls), rng,
                                acquisition_options)
        chosen = select_batch(scores, X[pool], pool, size, diversity=diversity, pool_factor=pool_factor, seed=seed)
        return chosen.candidate_ids, float(np.mean(np.abs(mean - y_true[pool])))

    return _replay(strategy, seed, is_top, math.ceil(find_fraction * top_k), n_init, batch, max_calls, rng, propose)


def simulate_pareto_campaign(
    X,
    y_true,
    known_utilities,
    strategy: str,
    batch: int = 10,
    n_init: int = 10,
    seed: int = 0,
    objective: Objective | None = None,
    find_fraction: float = 0.9,
    max_calls: int | None = None,
    model_factory: Callable[[int], EnsembleRegressor] = default_model,
    diversity: str = "maxmin",
    keep_top: int = 200,
    **acquisition_options,
) -> DiscoveryTrace:
    """Run one simulated multi-objective campaign; return its discovery curve of the true Pareto front.

    One objective is learned (``y_true``, labelled by the oracle), the others are
    known exactly for every candidate (``known_utilities``, e.g. minus the cost).
    Each round is selected as a campaign does it (:func:`alloyscreen.campaign.round.steps.select_round`):
    every candidate is scored with the learned objective's acquisition and the known
    utilities, the Pareto pool of those scores (threshold ``keep_top`` + labelled) is
    taken front by front, skipping labelled candidates. ``found`` counts labelled
    members of the true Pareto front (of the learned and known utilities); the campaign
    stops once ``ceil(find_fraction * front size)`` are labelled. Other parameters
    are those of :func:`simulate_campaign`.

    Parameters
    ----------
    known_utilities
        Utilities (higher is better) of the objectives known without the oracle, shape ``(n,)`` or ``(n, k)``.
    """
    _check_strategy(strategy)
    X = np.asarray(X, dtype=float)
    y_true = np.asarray(y_true, dtype=float)
    known = np.asarray(known_utilities, dtype=float).reshape(y_true.shape[0], -1)
    objective = objective or Objective("y", "minimize")
    on_front = pareto_fronts(np.column_stack([objective.utility(y_true), known])) == 0
    everything = np.arange(y_true.shape[0])
    rng = np.random.default_rng(seed)

    def propose(labelled: np.ndarray, size: int, calls: int) -> tuple[np.ndarray, float]:
        mean, learned = _acquire(X, y_true, labelled, everything, strategy, objective, model_factory(seed + calls),
                                 rng, acquisition_options)
        rows, fronts = pareto_pool(np.column_stack([learned, known]), keep_top + calls)
        chosen, _ = select_pareto_batch(fronts, learned[rows], X[rows], rows, size,
                                        exclude_ids=np.flatnonzero(labelled), diversity=diversity, seed=seed + calls)
        return chosen.candidate_ids, float(np.mean(np.abs(mean - y_true)[~labelled]))

    return _replay(strategy, seed, on_front, math.ceil(find_fraction * on_front.sum()), n_init, batch, max_calls,
                   rng, propose)


def _check_strategy(strategy: str) -> None:
    if strategy not in ACQUISITIONS:
        raise AlloyscreenError(f"unknown acquisition function {strategy!r}; allowed: {', '.join(sorted(ACQUISITIONS))}")


def _acquire(X, y_true, labelled, rows, strategy, objective, model, rng, options) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``model`` on the labelled rows; return its mean and acquisition scores on ``rows``."""
    model.fit(X[labelled], y_true[labelled])
    mean, std, members = model.predict_moments(X[rows], members=strategy == "thompson")
    scores = acquisition_scores(strategy, objective, mean, std, members=members, y_labelled=y_true[labelled], rng=rng,
                                **options)
    return mean, scores


def _replay(
    strategy: str,
    seed: int,
    is_target: np.ndarray,
    needed: int,
    n_init: int,
    batch: int,
    max_calls: int | None,
    rng: np.random.Generator,
    propose: Callable[[np.ndarray, int, int], tuple[np.ndarray, float]],
) -> DiscoveryTrace:
    """Label ``n_init`` random rows, then batches (random, or ``propose(labelled, size, calls)``) until the target.

    ``propose`` returns the rows to label and the surrogate's MAE on the unlabelled rows.
    """
    n = is_target.shape[0]
    max_calls = min(max_calls or n, n)
    labelled = np.zeros(n, dtype=bool)
    labelled[rng.choice(n, size=min(n_init, n), replace=False)] = True
    trace = DiscoveryTrace(strategy=strategy, seed=seed)
    while True:
        calls, found = int(labelled.sum()), int((labelled & is_target).sum())
        trace.calls.append(calls)
        trace.found.append(found)
        if found >= needed:
            trace.calls_to_target = calls
            break
        if calls >= max_calls:
            break
        size = min(batch, max_calls - calls)
        if strategy == "random":
            labelled[rng.choice(np.flatnonzero(~labelled), size=size, replace=False)] = True
            continue
        chosen, trace.final_mae = propose(labelled, size, calls)
        labelled[chosen] = True
    return trace


def summarize(traces: Sequence[DiscoveryTrace], baseline: str = "random") -> dict[str, dict[str, Any]]:
    """Per strategy: mean oracle calls to target, 95 % percentile interval over seeds, acceleration.

    Censored runs (target not reached within ``max_calls``) count with their last call
    number, which underestimates their cost; their number is reported as ``censored``.
    """
    by_strategy: dict[str, list[DiscoveryTrace]] = {}
    for trace in traces:
        by_strategy.setdefault(trace.strategy, []).append(trace)
    summary: dict[str, dict[str, Any]] = {}
    for strategy, runs in by_strategy.items():
        calls = np.array([r.calls_to_target if r.calls_to_target is not None else r.calls[-1] for r in runs])
        maes = [r.final_mae for r in runs if r.final_mae is not None]
        summary[strategy] = {
            "n_seeds": len(runs),
            "calls_mean": float(calls.mean()),
            "calls_interval_95": [float(np.percentile(calls, 2.5)), float(np.percentile(calls, 97.5))],
            "censored": int(sum(r.calls_to_target is None for r in runs)),
            "final_mae": float(np.mean(maes)) if maes else None,
        }
    if baseline in summary:
        for entry in summary.values():
            entry["acceleration_vs_" + baseline] = summary[baseline]["calls_mean"] / entry["calls_mean"]
    return summary


def synthetic_alloy_space(
    n_elements: int = 7, parts: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(concentrations, descriptors, y)`` of a *synthetic* alloy space for tests and benchmarks.

    All compositions of ``n_elements`` elements in steps of ``1/parts`` (3003 for 7 and 8).
    ``y`` is a regular-solution-like mixing energy (eV/atom) with random pair parameters
    and a size-mismatch penalty; the element properties are random too. It is not a
    physical model, only a ground truth with structure a surrogate can learn.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for bars in itertools.combinations(range(parts + n_elements - 1), n_elements - 1):
        edges = np.diff(np.concatenate(([-1], bars, [parts + n_elements - 1]))) - 1
        rows.append(edges)
    c = np.array(rows, dtype=float) / parts
    omega = rng.normal(-0.05, 0.15, size=(n_elements, n_elements))
    omega = np.triu(omega + omega.T, 1)
    radius = rng.normal(1.35, 0.08, size=n_elements)
    props = np.column_stack([radius, rng.normal(1.9, 0.3, n_elements), rng.integers(3, 11, n_elements)])
    mean_props = c @ props
    var_props = c @ props**2 - mean_props**2
    mismatch = np.sqrt(np.maximum(np.einsum("ni,ni->n", c, (1 - radius[None, :] / mean_props[:, :1]) ** 2), 0.0))
    y = 4 * np.einsum("ni,ij,nj->n", c, omega, c) + 2.0 * mismatch**2 + 0.02 * np.sin(8 * mean_props[:, 1])
    descriptors = np.column_stack([c, mean_props, var_props, mismatch])
    return c, descriptors, y
