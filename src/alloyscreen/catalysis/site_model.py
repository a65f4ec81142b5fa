"""Site models: a site's adsorption energy from its environment (the site features of :mod:`structures.surface`).

The literature's baseline (Batchelor et al., Joule 3, 834 (2019)) is piecewise
linear: for each set of elements forming the site (the ``site`` zone), one
linear model of the neighbour counts (``surface`` and ``subsurface`` zones).
The project's site model is a calibrated tree ensemble on the same features
(:class:`~alloyscreen.surrogates.ensemble.EnsembleRegressor` through
:func:`~alloyscreen.surrogates.crossval.fit_calibrated`); both follow the
scikit-learn contract, so held-out errors compare like for like.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from alloyscreen.structures.surface import ZONES, simulated_surface
from alloyscreen.surrogates.ensemble import EnsembleRegressor


class PiecewiseLinearSiteModel(RegressorMixin, BaseEstimator):
    """One least-squares linear model of the neighbour counts per site ensemble (the baseline to beat).

    ``n_elements``: elements per zone (the feature columns are ``len(ZONES)``
    blocks of them, the site zone first). A site ensemble with fewer training
    sites than its model has parameters falls back to one linear model of
    every column fitted on all sites. ``ridge``: a small L2 penalty (eV^2 per
    squared parameter) that keeps the fits defined when counts are collinear.
    """

    def __init__(self, n_elements: int, ridge: float = 1e-3):
        self.n_elements = n_elements
        self.ridge = ridge

    def _design(self, X: np.ndarray, columns: slice) -> np.ndarray:
        return np.hstack([np.ones((X.shape[0], 1)), X[:, columns]])

    def _solve(self, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        penalty = self.ridge * np.eye(A.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        return np.linalg.solve(A.T @ A + penalty, A.T @ y)

    def fit(self, X, y) -> PiecewiseLinearSiteModel:
        """Fit one model per site ensemble seen often enough, and the global fallback; return ``self``."""
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        if X.shape[1] != len(ZONES) * self.n_elements:
            raise ValueError(f"{X.shape[1]} feature columns; allowed: {len(ZONES)} zones x {self.n_elements} elements")
        self.fallback_ = self._solve(self._design(X, slice(None)), y)
        self.pieces_: dict[tuple[int, ...], np.ndarray] = {}
        ensembles, group = np.unique(X[:, :self.n_elements].astype(int), axis=0, return_inverse=True)
        for index, ensemble in enumerate(ensembles):
            A = self._design(X[group == index], slice(self.n_elements, None))
            if A.shape[0] >= A.shape[1]:
                self.pieces_[tuple(int(n) for n in ensemble)] = self._solve(A, y[group == index])
        return self

    def predict(self, X) -> np.ndarray:
        """Adsorption energy of each site (the unit of the labels it was fitted on)."""
        X = np.asarray(X, dtype=float)
        predicted = self._design(X, slice(None)) @ self.fallback_
        neighbours = self._design(X, slice(self.n_elements, None))
        ensembles, group = np.unique(X[:, :self.n_elements].astype(int), axis=0, return_inverse=True)
        for index, ensemble in enumerate(ensembles):
            piece = self.pieces_.get(tuple(int(n) for n in ensemble))
            if piece is not None:
                predicted[group == index] = neighbours[group == index] @ piece
        return predicted


def surface_energies(model: EnsembleRegressor | PiecewiseLinearSiteModel, composition: Mapping[str, float],
                     elements: list[str], kind: str, size: int = 100, seed: int = 0) -> np.ndarray:
    """Predicted adsorption energies of every ``kind`` site of a simulated surface, one row per ensemble member.

    An ensemble gives its calibrated members (shape (members, sites)), the
    baseline one row; ``elements``: the model's feature elements, in its
    column order.
    """
    features = simulated_surface(composition, size, seed, elements).features(kind)
    if isinstance(model, EnsembleRegressor):
        return model.predict_members(features)
    return model.predict(features)[None, :]
