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

import io
import json
import zipfile
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from alloyscreen.catalysis.activity import her_activity
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.structure import AdsorptionSite
from alloyscreen.structures.surface import ZONES, simulated_surface, site_features
from alloyscreen.surrogates.ensemble import ARCHIVE_DATE, EnsembleRegressor


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


def most_uncertain_sites(ensemble: EnsembleRegressor, sites: list[AdsorptionSite], kinds: list[str], count: int,
                         elements: list[str]) -> list[int]:
    """Indices of the ``count`` sites of ``kinds`` whose energy the calibrated members disagree on most.

    The site-level active learning of a campaign: the spread (standard
    deviation over the members) of each candidate site's prediction, largest
    first (ties in ``sites`` order); ``elements``: the model's feature elements.
    """
    candidates = [index for index, site in enumerate(sites) if site.kind in kinds]
    spread = ensemble.predict_members(site_features([sites[i] for i in candidates], elements)).std(axis=0)
    return sorted(candidates[k] for k in np.argsort(-spread, kind="stable")[:count])


SURFACES_PER_CALL = 64  # 64 surfaces of 900 sites: 57600 rows per model call


class SiteActivityModel:
    """The HER activity of compositions, predicted from the sites of their simulated surfaces.

    A site model (``ensemble``: ΔG_H of a site from its site features, eV,
    calibrated) predicts every site of ``kinds`` on a ``surface_size`` x
    ``surface_size`` simulated surface of each composition (seeded); each
    calibrated member's site energies give one activity
    (:func:`~alloyscreen.catalysis.activity.her_activity`), and the members'
    activities give the mean and spread. The spread is that of the site model
    carried through the average over sites, not the surface's sampling noise
    (see ``benchmarks/site_model.py`` for how that shrinks with the size).
    ``elements``: the feature elements, in column order.
    """

    def __init__(self, ensemble: EnsembleRegressor, elements: list[str], kinds: list[str], surface_size: int = 30,
                 seed: int = 0):
        self.ensemble = ensemble
        self.elements = elements
        self.kinds = kinds
        self.surface_size = surface_size
        self.seed = seed

    def get_params(self) -> dict:
        """The settings besides the ensemble (the model document's hyperparameters)."""
        return {"elements": self.elements, "kinds": self.kinds, "surface_size": self.surface_size, "seed": self.seed,
                "site_model": self.ensemble.get_params()}

    @property
    def learner(self) -> str:
        """The site model's learner (the registry kind is ``site-<learner>``)."""
        return self.ensemble.learner

    def activities(self, compositions: list[Mapping[str, float]]) -> np.ndarray:
        """Each member's predicted activity of each composition, shape (members, compositions), per site in k0.

        The surfaces of ``SURFACES_PER_CALL`` compositions go to the members in one batched call.
        """
        found = []
        for start in range(0, len(compositions), SURFACES_PER_CALL):
            chunk = compositions[start:start + SURFACES_PER_CALL]
            blocks = [np.concatenate([simulated_surface(composition, self.surface_size, self.seed, self.elements)
                                      .features(kind) for kind in self.kinds]) for composition in chunk]
            energies = self.ensemble.predict_members(np.concatenate(blocks))
            found.append(her_activity(energies.reshape(energies.shape[0], len(chunk), blocks[0].shape[0])))
        return np.concatenate(found, axis=1)

    def predict_moments_of(self, compositions: list[Mapping[str, float]],
                           members: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(mean, standard deviation, members or None) of each composition's activity over the ensemble members."""
        each = self.activities(compositions)
        return each.mean(axis=0), each.std(axis=0), each if members else None

    def to_bytes(self) -> bytes:
        """The settings as JSON and the site model's own bytes, in one zip."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            settings = {key: value for key, value in self.get_params().items() if key != "site_model"}
            archive.writestr(zipfile.ZipInfo("sites.json", ARCHIVE_DATE), json.dumps(settings, sort_keys=True))
            archive.writestr(zipfile.ZipInfo("site_model.zip", ARCHIVE_DATE), self.ensemble.to_bytes())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SiteActivityModel:
        """Rebuild a model written by :meth:`to_bytes`; predictions are reproduced exactly."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
            settings = json.loads(archive.read("sites.json"))
            ensemble = EnsembleRegressor.from_bytes(archive.read("site_model.zip"))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise AlloyscreenError(f"bytes are not a serialised SiteActivityModel ({exc})") from None
        return cls(ensemble, **settings)
