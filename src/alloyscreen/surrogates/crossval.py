"""k-fold cross-validation, calibrated refitting and model selection over learners and a grid.

Works with any regressor following the scikit-learn contract whose ``predict``
accepts ``return_std=True`` (:class:`~alloyscreen.surrogates.ensemble.EnsembleRegressor`);
the calibration is skipped for regressors without a ``std_scale`` parameter.

Model selection (:func:`select_model`, the seed protocol's GridSearchCV step) scores
every candidate (a base learner and hyperparameters) on the same folds and keeps
the one with the lowest out-of-fold error; the winner's fold models are kept, so
its calibration and held-out permutation importances cost no second CV.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.model_selection import KFold, ParameterGrid

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import CVMetrics
from alloyscreen.surrogates.calibration import calibration_report
from alloyscreen.surrogates.ensemble import MIN_LABELS, check_labels
from alloyscreen.surrogates.learners import get_learner

_LOWER_IS_BETTER = {"mae": True, "rmse": True, "r2": False, "spearman": False}

DEFAULT_FOLDS = 5
"""Folds of a campaign's cross-validation (calibration and model selection)."""

LABELS_PER_CANDIDATE = 2
"""A selection among G candidates needs at least this many labels per candidate (see :func:`check_grid`)."""


def min_labels_for_cv(n_splits: int) -> int:
    """Return the fewest labels for which every training fold of ``n_splits`` has ``MIN_LABELS``."""
    if n_splits < 2:
        raise AlloyscreenError(f"n_splits must be >= 2, got {n_splits}")
    n = n_splits
    while n - math.ceil(n / n_splits) < MIN_LABELS:
        n += 1
    return n


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """Return MAE, RMSE, R² and Spearman rank correlation of predictions."""
    y_true = np.asarray(y_true, dtype=float)
    err = np.asarray(y_pred, dtype=float) - y_true
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    rho = spearmanr(y_true, y_pred).statistic if np.ptp(y_pred) > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan"),
        "spearman": float(rho),
    }


def _uncalibrated(model):
    """Return an unfitted clone whose spread is not rescaled (the scale is what CV fits)."""
    model = clone(model)
    if "std_scale" in model.get_params():
        model.set_params(std_scale=1.0)
    return model


@dataclass
class FoldFits:
    """Out-of-fold predictions of one model and the fold models that made them.

    Attributes
    ----------
    mean, std
        Out-of-fold mean and raw (unscaled) std of every label, shape ``(n,)``.
    folds
        ``(model fitted without the fold, the fold's row indices)`` per fold.
    """

    mean: np.ndarray
    std: np.ndarray
    folds: list[tuple[Any, np.ndarray]] = field(default_factory=list)


def cross_val_fits(model, X, y, n_splits: int = 5, seed: int = 0) -> FoldFits:
    """Fit an uncalibrated clone of ``model`` per fold of ``n_splits``-fold CV; return its held-out predictions.

    Raises
    ------
    TooFewLabelsError
        If there are fewer labels than :func:`min_labels_for_cv` (``n_splits``).
    """
    X, y = check_labels(X, y, needed=min_labels_for_cv(n_splits), purpose=f"{n_splits}-fold cross-validation")
    mean = np.empty_like(y)
    std = np.empty_like(y)
    folds = []
    for train, test in KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X):
        fitted = _uncalibrated(model).fit(X[train], y[train])
        mean[test], std[test] = fitted.predict(X[test], return_std=True)
        folds.append((fitted, test))
    return FoldFits(mean, std, folds)


def cross_val_predict(model, X, y, n_splits: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return out-of-fold means and raw (unscaled) stds from ``n_splits``-fold CV.

    Raises
    ------
    TooFewLabelsError
        If there are fewer labels than :func:`min_labels_for_cv` (``n_splits``).
    """
    fits = cross_val_fits(model, X, y, n_splits=n_splits, seed=seed)
    return fits.mean, fits.std


def cv_metrics(y, fits: FoldFits, n_splits: int) -> CVMetrics:
    """The CV errors of out-of-fold predictions ``fits`` of labels ``y`` and the spread calibration they give."""
    y = np.asarray(y, dtype=float).ravel()
    calibration = calibration_report(y - fits.mean, fits.std) if np.any(fits.std > 0) else None
    return CVMetrics(n_labels=int(y.size), n_splits=n_splits, **regression_metrics(y, fits.mean),
                     calibration=calibration)


def cross_validate(model, X, y, n_splits: int = 5, seed: int = 0) -> CVMetrics:
    """Return k-fold CV errors of ``model`` and the spread calibration fitted on the same folds."""
    return cv_metrics(y, cross_val_fits(model, X, y, n_splits=n_splits, seed=seed), n_splits)


def fit_calibrated(model, X, y, n_splits: int = 5, seed: int = 0, fits: FoldFits | None = None) -> CVMetrics:
    """Cross-validate ``model``, set its ``std_scale`` to the fitted scale, fit it on all labels.

    ``model`` is fitted in place (scikit-learn style); the CV metrics are returned.
    ``fits``: the model's own out-of-fold predictions when already made (by
    :func:`select_model`, same folds), instead of cross-validating again.
    """
    fits = fits or cross_val_fits(model, X, y, n_splits=n_splits, seed=seed)
    metrics = cv_metrics(y, fits, n_splits)
    if metrics.calibration is not None and "std_scale" in model.get_params():
        model.set_params(std_scale=metrics.calibration.scale)
    model.fit(X, y)
    return metrics


@dataclass
class Candidate:
    """One point of a model selection: a base learner and the hyperparameters set over its defaults."""

    learner: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """E.g. ``xgboost (max_depth=3, n_estimators=300)`` or ``random_forest (defaults)``."""
        values = ", ".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.learner} ({values or 'defaults'})"


def grid_candidates(learners: Sequence[str], grid: dict[str, dict[str, list]] | None = None) -> list[Candidate]:
    """Every (learner, combination of its grid values), learners in order; the first uses each list's first value."""
    grid = grid or {}
    return [Candidate(learner, dict(params)) for learner in learners for params in ParameterGrid(grid.get(learner, {}))]


def _grid_values(learner: str, name: str, values: list, taken: frozenset[str]) -> None:
    """One grid list: a parameter ``learner`` takes, one or more distinct scalar values."""
    where = f"grid of {learner}, {name!r}"
    if name not in taken:
        guess = difflib.get_close_matches(name, sorted(taken), n=1)
        hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(sorted(taken))}"
        raise ValueError(f"{where}: {learner} takes no parameter {name!r}; {hint}")
    if not values:
        raise ValueError(f"{where}: an empty list; allowed: one value or more")
    for value in values:
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise ValueError(f"{where}: value {value!r} is not a number, string, boolean or null")
    repeated = [value for k, value in enumerate(values) if value in values[:k]]
    if repeated:
        raise ValueError(f"{where}: {repeated[0]!r} is listed twice; allowed: distinct values")


def check_grid(learners: Sequence[str], grid: dict[str, dict[str, list]], params: dict[str, Any],
               select_from: int) -> None:
    """Refuse a selection that cannot run as given, in one line naming the value and what is allowed.

    Unknown or repeated learners; a grid for a learner not listed; a parameter the
    learner's library does not take; an empty list or a repeated value; ``params``
    (fixed values of the single learner) that a grid list also sets, or ``params``
    with several learners. And the size rule: a selection among ``G`` candidates
    (every learner's grid combinations, summed) runs on at least
    ``LABELS_PER_CANDIDATE * G`` labels, so ``select_from`` (the labels of the first
    selection) must reach it. The winner of ``G`` noisy CV scores is optimistically
    biased, more so the more candidates each label has to tell apart (Cawley &
    Talbot, JMLR 11, 2010); two labels per candidate keeps a default
    ``select_from`` of 10 to five candidates, e.g. two learners and a 3-point grid.
    """
    for learner in learners:
        try:
            get_learner(learner)
        except AlloyscreenError as error:
            raise ValueError(str(error)) from None
    repeated = [learner for k, learner in enumerate(learners) if learner in learners[:k]]
    if repeated:
        raise ValueError(f"learners {list(learners)} list {repeated[0]!r} twice; allowed: each learner once")
    outside = sorted(set(grid) - set(learners))
    if outside:
        raise ValueError(f"grid names learner {outside[0]!r}, which is not among the learners {list(learners)}; "
                         f"allowed: {', '.join(learners)}")
    if params and len(learners) > 1:
        raise ValueError(f"params {params} with several learners {list(learners)}: each learner takes its own; "
                         f"allowed: fixed values as one-value grid lists (grid: {{{learners[0]}: {{name: [value]}}}})")
    for learner, lists in grid.items():
        taken = get_learner(learner).parameters()
        for name, values in lists.items():
            _grid_values(learner, name, values, taken)
        both = sorted(set(lists) & set(params))
        if both:
            raise ValueError(f"params and the grid of {learner} both set {both[0]!r}; allowed: one of them")
    sizes = {learner: math.prod(len(values) for values in grid.get(learner, {}).values()) for learner in learners}
    needed = LABELS_PER_CANDIDATE * sum(sizes.values())
    if len(sizes) and sum(sizes.values()) > 1 and select_from < needed:
        counts = ", ".join(f"{learner}: {size}" for learner, size in sizes.items())
        raise ValueError(f"a selection among {sum(sizes.values())} candidates ({counts}) needs select_from of at least "
                         f"{needed} labels ({LABELS_PER_CANDIDATE} per candidate), got {select_from}; allowed: "
                         f"fewer learners or grid values, or select_from: {needed}")


@dataclass
class ModelChoice:
    """Outcome of :func:`select_model`: every candidate's CV metrics, the winner and its fold fits."""

    candidates: list[Candidate]
    metrics: list[CVMetrics]
    metric: str
    best: int
    fits: FoldFits

    @property
    def chosen(self) -> Candidate:
        """The candidate with the lowest (or, for r2 and spearman, highest) CV ``metric``."""
        return self.candidates[self.best]


def select_model(candidates: Sequence[Candidate], build: Callable[[Candidate], Any], X, y, n_splits: int = 5,
                 seed: int = 0, metric: str = "rmse") -> ModelChoice:
    """Score every candidate by ``n_splits``-fold CV on the same folds; return the best (the first of ties).

    ``build(candidate)`` returns the unfitted model of a candidate.

    Raises
    ------
    AlloyscreenError
        If ``metric`` is unknown or there is no candidate.
    TooFewLabelsError
        If there are fewer labels than :func:`min_labels_for_cv` (``n_splits``).
    """
    if metric not in _LOWER_IS_BETTER:
        raise AlloyscreenError(f"unknown CV metric {metric!r}; allowed: {', '.join(sorted(_LOWER_IS_BETTER))}")
    if not candidates:
        raise AlloyscreenError("model selection needs at least one candidate (a learner)")
    sign = 1.0 if _LOWER_IS_BETTER[metric] else -1.0
    metrics: list[CVMetrics] = []
    best, best_fits, best_score = 0, None, math.inf
    for k, candidate in enumerate(candidates):
        fits = cross_val_fits(build(candidate), X, y, n_splits=n_splits, seed=seed)
        metrics.append(cv_metrics(y, fits, n_splits))
        score = sign * getattr(metrics[-1], metric)
        if best_fits is None or score < best_score:  # NaN never wins over a number
            best, best_fits, best_score = k, fits, score if not math.isnan(score) else math.inf
    assert best_fits is not None
    return ModelChoice(candidates=list(candidates), metrics=metrics, metric=metric, best=best, fits=best_fits)
