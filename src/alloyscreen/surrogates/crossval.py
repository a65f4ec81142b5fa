"""k-fold cross-validation, calibrated refitting and a small hyperparameter search.

Works with any regressor following the scikit-learn contract whose ``predict``
accepts ``return_std=True`` (:class:`~alloyscreen.surrogates.ensemble.EnsembleRegressor`);
the calibration is skipped for regressors without a ``std_scale`` parameter.
"""

from __future__ import annotations

import math
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

_LOWER_IS_BETTER = {"mae": True, "rmse": True, "r2": False, "spearman": False}


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


def cross_val_predict(model, X, y, n_splits: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return out-of-fold means and raw (unscaled) stds from ``n_splits``-fold CV.

    Raises
    ------
    TooFewLabelsError
        If there are fewer labels than :func:`min_labels_for_cv` (``n_splits``).
    """
    X, y = check_labels(X, y, needed=min_labels_for_cv(n_splits), purpose=f"{n_splits}-fold cross-validation")
    mean = np.empty_like(y)
    std = np.empty_like(y)
    for train, test in KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X):
        fitted = _uncalibrated(model).fit(X[train], y[train])
        mean[test], std[test] = fitted.predict(X[test], return_std=True)
    return mean, std


def cross_validate(model, X, y, n_splits: int = 5, seed: int = 0) -> CVMetrics:
    """Return k-fold CV errors of ``model`` and the spread calibration fitted on the same folds."""
    X, y = check_labels(X, y, needed=min_labels_for_cv(n_splits), purpose=f"{n_splits}-fold cross-validation")
    mean, std = cross_val_predict(model, X, y, n_splits=n_splits, seed=seed)
    calibration = calibration_report(y - mean, std) if np.any(std > 0) else None
    return CVMetrics(n_labels=int(y.size), n_splits=n_splits, **regression_metrics(y, mean), calibration=calibration)


def fit_calibrated(model, X, y, n_splits: int = 5, seed: int = 0) -> CVMetrics:
    """Cross-validate ``model``, set its ``std_scale`` to the fitted scale, fit it on all labels.

    ``model`` is fitted in place (scikit-learn style); the CV metrics are returned.
    """
    metrics = cross_validate(model, X, y, n_splits=n_splits, seed=seed)
    if metrics.calibration is not None and "std_scale" in model.get_params():
        model.set_params(std_scale=metrics.calibration.scale)
    model.fit(X, y)
    return metrics


@dataclass
class SearchResult:
    """Outcome of :func:`search_hyperparameters`."""

    best_params: dict[str, Any]
    best_metrics: CVMetrics
    metric: str
    results: list[tuple[dict[str, Any], CVMetrics]] = field(default_factory=list)


def _with_params(model, params: dict[str, Any]):
    """Clone ``model`` with ``params``: its own parameters set directly, others into ``learner_params``."""
    model = clone(model)
    own = model.get_params()
    direct = {k: v for k, v in params.items() if k in own}
    nested = {k: v for k, v in params.items() if k not in own}
    if nested:
        if "learner_params" not in own:
            raise AlloyscreenError(f"unknown hyperparameters {sorted(nested)} for {type(model).__name__}")
        direct["learner_params"] = {**(own["learner_params"] or {}), **nested}
    return model.set_params(**direct)


def search_hyperparameters(
    model, X, y, grid: dict[str, list], n_splits: int = 5, seed: int = 0, metric: str = "rmse"
) -> SearchResult:
    """Grid search with k-fold CV (the same folds for every point); return the best parameters.

    Keys of ``grid`` are parameters of ``model`` (e.g. ``n_members``) or, otherwise,
    of its base learner (e.g. ``max_depth``), which go into ``learner_params``.
    """
    if metric not in _LOWER_IS_BETTER:
        raise AlloyscreenError(f"unknown CV metric {metric!r}; allowed: {', '.join(sorted(_LOWER_IS_BETTER))}")
    sign = 1.0 if _LOWER_IS_BETTER[metric] else -1.0
    results = []
    for params in ParameterGrid(grid):
        metrics = cross_validate(_with_params(model, params), X, y, n_splits=n_splits, seed=seed)
        results.append((params, metrics))
    scores = [sign * getattr(m, metric) for _, m in results]
    best = int(np.nanargmin(scores))
    return SearchResult(best_params=results[best][0], best_metrics=results[best][1], metric=metric, results=results)
