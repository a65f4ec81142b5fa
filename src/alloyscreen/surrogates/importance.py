"""Which descriptors a tree surrogate leans on: split gain and held-out permutation importance.

Two views, as the seed protocol's "assess feature importance" step asks:

- **gain**: the learner's own split importance (XGBoost total gain, CatBoost
  PredictionValuesChange, random forest mean decrease of impurity), normalised to sum
  1 and averaged over the ensemble's members. Cheap, but measured on the training
  labels: a column the trees split on to fit noise scores too.
- **permutation** (Breiman 2001; Fisher, Rudin & Dominici 2019): on each fold of a
  k-fold cross-validation, the fold's model predicts its held-out labels with one
  column replaced by values drawn without replacement from that column over all
  labels (on the tiny folds of a campaign's first rounds a shuffle of the fold
  alone would often leave the column unchanged); the importance is the increase of
  the out-of-fold MAE (target units), averaged over ``repeats`` draws. Columns that
  only fit noise score about zero, or below.

Every fold's permuted copies are predicted in one call per block of columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alloyscreen.schemas.model import DescriptorImportance, FeatureImportances
from alloyscreen.surrogates.crossval import FoldFits

PERMUTATION_REPEATS = 5
"""Draws per column of the held-out permutation importance."""

_BLOCK_ROWS = 200_000  # permuted rows predicted per call (memory bound: rows x columns x 8 bytes)


def permutation_importance(fits: FoldFits, X, y, repeats: int = PERMUTATION_REPEATS, seed: int = 0) -> np.ndarray:
    """Increase of the out-of-fold MAE when each column's held-out values are redrawn; shape ``(n_features,)``.

    ``fits``: the fold models of :func:`~alloyscreen.surrogates.crossval.cross_val_fits`
    on the same ``X``, ``y``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    n, d = X.shape
    rng = np.random.default_rng(seed)
    permuted = np.empty((repeats, d, n))  # out-of-fold prediction of every label with column j redrawn
    for model, test in fits.folds:
        m = len(test)
        draws = np.stack([rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1)[:, :m] for _ in range(repeats)])
        per_block = max(1, _BLOCK_ROWS // max(1, repeats * m))
        for start in range(0, d, per_block):
            columns = np.arange(start, min(d, start + per_block))
            copies = np.tile(X[test], (repeats * len(columns), 1)).reshape(repeats, len(columns), m, d)
            for k, j in enumerate(columns):
                copies[:, k, :, j] = X[draws[:, j], j]
            predicted = model.predict(copies.reshape(-1, d)).reshape(repeats, len(columns), m)
            permuted[:, columns[:, None], test[None, :]] = predicted
    baseline = np.mean(np.abs(fits.mean - y))
    return np.mean(np.abs(permuted - y), axis=2).mean(axis=0) - baseline


def top_descriptors(names: Sequence[str], values: np.ndarray, top: int) -> list[DescriptorImportance]:
    """The ``top`` columns by ``values``, largest first (ties: column order)."""
    order = np.argsort(-np.asarray(values, dtype=float), kind="stable")[:top]
    return [DescriptorImportance(descriptor=names[i], value=float(values[i])) for i in order]


def feature_importances(model, names: Sequence[str], top: int, fits: FoldFits | None = None, X=None, y=None,
                        repeats: int = PERMUTATION_REPEATS, seed: int = 0) -> FeatureImportances:
    """The document part of a fitted ensemble's importances: gain and, with ``fits``, permutation (top ``top``)."""
    if len(names) != model.n_features_in_:
        raise ValueError(f"{len(names)} descriptor names for a model of {model.n_features_in_} columns")
    permutation = [] if fits is None else top_descriptors(names, permutation_importance(fits, X, y, repeats, seed), top)
    return FeatureImportances(n_descriptors=len(names), gain=top_descriptors(names, model.feature_importances_, top),
                              permutation=permutation, permutation_repeats=repeats if fits is not None else 0)
