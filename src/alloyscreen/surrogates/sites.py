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

from alloyscreen.catalysis.activity import GRID_ACTIVITIES, grid_activity, her_activity
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
    """An activity of compositions (``activity``), predicted from the sites of their simulated surfaces.

    Per adsorbate, a site model (``ensembles``: its site energy from the site
    features, eV, calibrated) predicts every site of its ``kinds`` on a
    ``surface_size`` x ``surface_size`` simulated surface of each composition
    (seeded). ``her_activity`` averages the H sites' rates
    (:func:`~alloyscreen.catalysis.activity.her_activity`); a grid activity
    (:data:`~alloyscreen.catalysis.activity.GRID_ACTIVITIES`: ORR, CO2RR)
    takes its two adsorbates' grids and the reference metal's energies
    ``references``. Member k of each site model gives one activity, and the
    members' activities give the mean and spread: the spread of the site
    models carried through the surface, not the surface's sampling noise
    (see ``benchmarks/site_model.py`` for how that shrinks with the size).
    ``elements``: the feature elements, in column order.
    """

    def __init__(self, ensembles: dict[str, EnsembleRegressor], elements: list[str], kinds: dict[str, list[str]],
                 surface_size: int = 30, seed: int = 0, activity: str = "her_activity",
                 references: list[float] | None = None):
        self.ensembles = ensembles
        self.elements = elements
        self.kinds = kinds
        self.surface_size = surface_size
        self.seed = seed
        self.activity = activity
        self.references = list(references or [])

    def get_params(self) -> dict:
        """The settings besides the site models (the model document's hyperparameters), and theirs."""
        return {"elements": self.elements, "kinds": self.kinds, "surface_size": self.surface_size, "seed": self.seed,
                "activity": self.activity, "references": self.references,
                "site_models": {name: ensemble.get_params() for name, ensemble in self.ensembles.items()}}

    @property
    def learner(self) -> str:
        """The site models' learner (the registry kind is ``site-<learner>``)."""
        return next(iter(self.ensembles.values())).learner

    def _energies(self, surfaces: list, name: str) -> np.ndarray:
        """Each member's energies of adsorbate ``name`` on its kinds' sites, shape (members, surfaces, sites)."""
        blocks = [np.concatenate([surface.features(kind) for kind in self.kinds[name]]) for surface in surfaces]
        energies = self.ensembles[name].predict_members(np.concatenate(blocks))
        return energies.reshape(energies.shape[0], len(surfaces), blocks[0].shape[0])

    def activities(self, compositions: list[Mapping[str, float]]) -> np.ndarray:
        """Each member's predicted activity of each composition, shape (members, compositions).

        The surfaces of ``SURFACES_PER_CALL`` compositions go to each site model in one batched call.
        """
        found = []
        for start in range(0, len(compositions), SURFACES_PER_CALL):
            surfaces = [simulated_surface(composition, self.surface_size, self.seed, self.elements)
                        for composition in compositions[start:start + SURFACES_PER_CALL]]
            if self.activity in GRID_ACTIVITIES:
                grids = [self._energies(surfaces, name) for name, _ in GRID_ACTIVITIES[self.activity].sites]
                found.append(grid_activity(self.activity, grids, self.surface_size, self.references))
            else:
                found.append(her_activity(self._energies(surfaces, "H")))
        return np.concatenate(found, axis=1)

    def predict_moments_of(self, compositions: list[Mapping[str, float]],
                           members: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(mean, standard deviation, members or None) of each composition's activity over the ensemble members."""
        each = self.activities(compositions)
        return each.mean(axis=0), each.std(axis=0), each if members else None

    def to_bytes(self) -> bytes:
        """The settings as JSON and each site model's own bytes, in one zip."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            settings = {key: value for key, value in self.get_params().items() if key != "site_models"}
            archive.writestr(zipfile.ZipInfo("sites.json", ARCHIVE_DATE), json.dumps(settings, sort_keys=True))
            for name, ensemble in sorted(self.ensembles.items()):
                archive.writestr(zipfile.ZipInfo(f"site_model_{name}.zip", ARCHIVE_DATE), ensemble.to_bytes())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SiteActivityModel:
        """Rebuild a model written by :meth:`to_bytes`; predictions are reproduced exactly."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
            settings = json.loads(archive.read("sites.json"))
            ensembles = {name: EnsembleRegressor.from_bytes(archive.read(f"site_model_{name}.zip"))
                         for name in settings["kinds"]}
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise AlloyscreenError(f"bytes are not a serialised SiteActivityModel ({exc})") from None
        return cls(ensembles, **settings)
