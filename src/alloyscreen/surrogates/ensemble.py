"""Bootstrap + seed ensembles of tree models with a mean and a standard deviation.

``EnsembleRegressor(learner="xgboost")``, ``learner="catboost"`` and
``learner="random_forest"`` are the same class: the base learner comes from
:mod:`alloyscreen.surrogates.learners` (a random forest's members are its trees).

Serialised form (:meth:`EnsembleRegressor.to_bytes`): a zip archive with fixed
timestamps holding ``ensemble.json`` (parameters and fitted metadata) and one native
model file per member. :func:`model_id` is the sha256 of those bytes (hashlib directly:
bytes need no canonical JSON), truncated like :func:`alloyscreen.hashing.content_hash`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.learners import get_learner

MIN_LABELS = 5
"""Fewest labelled points an ensemble is trained on."""

ARCHIVE_DATE = (2000, 1, 1, 0, 0, 0)
_FORMAT_VERSION = 1


class TooFewLabelsError(AlloyscreenError):
    """Not enough labelled points to train or cross-validate a surrogate."""


def model_id(blob: bytes, length: int = 24) -> str:
    """Return the id of a serialised model: sha256 hex of ``blob``, ``length`` digits."""
    return hashlib.sha256(blob).hexdigest()[:length]


def check_labels(X: Any, y: Any, needed: int = MIN_LABELS, purpose: str = "training") -> tuple[np.ndarray, np.ndarray]:
    """Return ``X`` (2-D float) and ``y`` (1-D float) after checking shapes and label count.

    Raises
    ------
    TooFewLabelsError
        If fewer than ``needed`` labels are given.
    AlloyscreenError
        If shapes disagree or labels are not finite.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise AlloyscreenError(f"descriptor matrix of shape {X.shape} does not match {y.shape[0]} labels")
    if y.shape[0] < needed:
        raise TooFewLabelsError(f"{purpose} needs at least {needed} labels, got {y.shape[0]}")
    if not np.all(np.isfinite(y)):
        raise AlloyscreenError("labels contain NaN or infinite values; drop them before training")
    return X, y


class EnsembleRegressor(RegressorMixin, BaseEstimator):
    """Ensemble of tree regressors giving a mean and a standard deviation per candidate.

    Parameters
    ----------
    learner
        Base learner name: ``"xgboost"``, ``"catboost"`` or ``"random_forest"`` (the registry
        :data:`alloyscreen.surrogates.learners.LEARNERS`).
    n_members
        Number of trained members; member ``i`` uses seed ``random_state + i``.
    bootstrap
        Train each member on a bootstrap resample of the labels.
    learner_params
        Hyperparameters of the base learner, overriding its defaults.
    virtual_ensembles
        CatBoost only: number of virtual members per trained member (CatBoost's
        posterior-sampling virtual ensembles); 0 disables them.
    std_scale
        Factor applied to the ensemble spread, fitted by
        :func:`alloyscreen.surrogates.calibration.calibrate` (1.0: uncalibrated).
    random_state
        Base seed of members and bootstrap resampling.
    n_jobs
        Threads per member for fitting and prediction. XGBoost members are fitted
        side by side, as many at once as the cores this process may use hold
        ``n_jobs`` threads (one at a time for ``n_jobs <= 0``, every core each);
        the models do not depend on it.
    """

    def __init__(
        self,
        learner: str = "xgboost",
        n_members: int = 5,
        bootstrap: bool = True,
        learner_params: dict[str, Any] | None = None,
        virtual_ensembles: int = 0,
        std_scale: float = 1.0,
        random_state: int = 0,
        n_jobs: int = 1,
    ):
        self.learner = learner
        self.n_members = n_members
        self.bootstrap = bootstrap
        self.learner_params = learner_params
        self.virtual_ensembles = virtual_ensembles
        self.std_scale = std_scale
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _member_params(self) -> dict[str, Any]:
        spec = get_learner(self.learner)
        params = {**spec.defaults, **(self.learner_params or {})}
        if self.virtual_ensembles:
            if spec.virtual_members is None:
                raise AlloyscreenError(
                    f"virtual_ensembles={self.virtual_ensembles} needs learner 'catboost', got {self.learner!r}"
                )
            params["posterior_sampling"] = True
        return params

    def _resample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap indices whose labels are not all equal (CatBoost refuses constant targets)."""
        n = y.shape[0]
        if not self.bootstrap:
            return np.arange(n)
        for _ in range(100):
            idx = np.asarray(rng.integers(0, n, size=n))
            if np.ptp(y[idx]) > 0:
                return idx
        return np.arange(n)

    def fit(self, X: Any, y: Any) -> EnsembleRegressor:
        """Train ``n_members`` members on (bootstrap resamples of) ``X``, ``y``; return ``self``."""
        X, y = check_labels(X, y)
        if np.ptp(y) == 0:
            raise AlloyscreenError(f"all {y.shape[0]} labels equal {y[0]!r}; a surrogate needs varying labels")
        if self.n_members < 1:
            raise AlloyscreenError(f"n_members must be >= 1, got {self.n_members}")
        spec = get_learner(self.learner)
        params = self._member_params()
        rng = np.random.default_rng(self.random_state)
        samples = [self._resample(y, rng) for _ in range(self.n_members)]

        def fit_member(i: int):
            member = spec.build(params, self.random_state + i, self.n_jobs)
            return member.fit(X[samples[i]], y[samples[i]])

        side_by_side = spec.fits_in_threads and self.n_jobs > 0
        at_once = max(1, min(self.n_members, len(os.sched_getaffinity(0)) // self.n_jobs)) if side_by_side else 1
        with ThreadPoolExecutor(at_once) as pool:
            self.members_ = list(pool.map(fit_member, range(self.n_members)))
        self.n_features_in_ = X.shape[1]
        self.n_train_ = y.shape[0]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise AlloyscreenError("this EnsembleRegressor is not fitted; call fit(X, y) first")

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise AlloyscreenError(
                f"descriptor matrix has shape {X.shape}; the model was trained on {self.n_features_in_} columns"
            )
        return X

    def _raw_members(self, X: Any, first_only: bool = False) -> np.ndarray:
        """Uncalibrated per-member predictions, shape ``(n_members_total, n)`` (a forest: one row per tree).

        ``first_only``: only the rows of the first trained member.
        """
        spec = get_learner(self.learner)
        data = spec.prepare(self._check_X(X), self.n_jobs)  # converted once, shared by the members
        members = self.members_[:1] if first_only else self.members_
        if spec.tree_members is not None:
            tree_members = spec.tree_members
            return np.concatenate([tree_members(m, data) for m in members]).astype(float)
        if self.virtual_ensembles and spec.virtual_members is not None:
            virtual = spec.virtual_members
            return np.concatenate([virtual(m, data, self.virtual_ensembles, self.n_jobs) for m in members])
        return np.stack([spec.predict(m, data, self.n_jobs) for m in members]).astype(float)

    def predict_first_member(self, X: Any) -> tuple[np.ndarray, int]:
        """The first trained member's prediction and how many of the ensemble's rows it holds.

        A forest's member or a CatBoost virtual ensemble holds several rows: its prediction is their mean.
        The cheap stage of a scoring cascade (:mod:`alloyscreen.campaign.round.cascade`).
        """
        rows = self._raw_members(X, first_only=True)
        return rows.mean(axis=0), rows.shape[0]

    @property
    def feature_importances_(self) -> np.ndarray:
        """The base learner's split importance of each column, averaged over the members (sums to 1).

        XGBoost: total gain; CatBoost: PredictionValuesChange; random forest: mean
        decrease of impurity (see :class:`~alloyscreen.surrogates.learners.BaseLearner`).
        """
        self._check_fitted()
        gain = get_learner(self.learner).gain
        return np.mean([gain(member, self.n_features_in_) for member in self.members_], axis=0)

    def _calibrated(self, members: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """Members whose deviations from ``mean`` (their mean) are scaled by ``std_scale``."""
        return members if self.std_scale == 1.0 else mean + self.std_scale * (members - mean)

    def _std(self, members: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """Calibrated standard deviation of uncalibrated ``members`` (zero for a single member)."""
        std = members.std(axis=0, ddof=1) if members.shape[0] > 1 else np.zeros_like(mean)
        return self.std_scale * std

    def predict_members(self, X: Any, calibrated: bool = True) -> np.ndarray:
        """Return per-member predictions, shape ``(n_members_total, n)``.

        With ``calibrated=True`` the members' deviations from the ensemble mean are
        multiplied by ``std_scale``, so their spread equals the calibrated ``std``
        (what Thompson sampling should draw from).
        """
        members = self._raw_members(X)
        return self._calibrated(members, members.mean(axis=0)) if calibrated else members

    def predict(self, X: Any, return_std: bool = False):
        """Return the ensemble mean, and the calibrated standard deviation if ``return_std``."""
        members = self._raw_members(X)
        mean = members.mean(axis=0)
        return (mean, self._std(members, mean)) if return_std else mean

    def predict_moments(self, X: Any, members: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Return mean, calibrated std and, if ``members``, the calibrated members (Thompson sampling).

        One prediction gives all three: equal to ``predict(X, return_std=True)``
        and ``predict_members(X)``.
        """
        raw = self._raw_members(X)
        mean = raw.mean(axis=0)
        return mean, self._std(raw, mean), self._calibrated(raw, mean) if members else None

    def to_bytes(self) -> bytes:
        """Serialise the fitted ensemble: parameters as JSON plus native member files in a zip."""
        self._check_fitted()
        spec = get_learner(self.learner)
        header = {
            "format_version": _FORMAT_VERSION,
            "params": self.get_params(),
            "n_features_in": self.n_features_in_,
            "n_train": self.n_train_,
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo("ensemble.json", ARCHIVE_DATE), json.dumps(header, sort_keys=True))
            for i, member in enumerate(self.members_):
                info = zipfile.ZipInfo(f"member_{i:03d}.{spec.file_suffix}", ARCHIVE_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, spec.dump(member))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> EnsembleRegressor:
        """Rebuild an ensemble written by :meth:`to_bytes`; predictions are reproduced exactly."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
            header = json.loads(archive.read("ensemble.json"))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise AlloyscreenError(f"bytes are not a serialised EnsembleRegressor ({exc})") from None
        if header.get("format_version") != _FORMAT_VERSION:
            raise AlloyscreenError(
                f"ensemble format version {header.get('format_version')!r} is not supported; expected {_FORMAT_VERSION}"
            )
        model = cls(**header["params"])
        spec = get_learner(model.learner)
        names = sorted(n for n in archive.namelist() if n.startswith("member_"))
        model.members_ = [spec.load(archive.read(name)) for name in names]
        model.n_features_in_ = header["n_features_in"]
        model.n_train_ = header["n_train"]
        return model
