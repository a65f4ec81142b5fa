"""A universal potential's zero-shot values mapped onto a campaign's labels (the ``potential-*`` models).

A potential (CHGNet, ...) gives every candidate a mixing energy against its own
elemental references without any training; its scale and offset differ from
the campaign's oracle (EMT, DFT). :class:`CalibratedPotential` fits
``label ≈ a + b·value`` on the labelled candidates and takes as its spread the
root-mean-square leave-one-out residual of that fit (one spread for every
candidate: the potential itself has none). :class:`PotentialCommittee` holds
one such line per potential: its mean is theirs averaged, its variance their
mean variance plus the variance of their means, so where two potentials
disagree on a candidate its spread grows (law of total variance of an
equal-weight mixture), scaled to the committee's held-out errors.
"""

from __future__ import annotations

import json

import numpy as np
from sklearn.base import BaseEstimator

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.calibration import fit_std_scale

MIN_CALIBRATION_LABELS = 3
"""Fewest labels a line (two parameters) and its leave-one-out spread can be fitted on."""


class CalibratedPotential(BaseEstimator):
    """Linear map of a potential's values onto labels, with the leave-one-out residual as spread.

    Parameters
    ----------
    potential
        Calculator name of the potential (e.g. ``chgnet``).
    mode
        ``static`` or ``relax``: how the candidate structures were evaluated.
    settings
        The potential's calculator settings (model version, ...).
    """

    def __init__(self, potential: str = "chgnet", mode: str = "static", settings: dict | None = None):
        self.potential = potential
        self.mode = mode
        self.settings = settings

    def fit(self, values, y) -> CalibratedPotential:
        """Fit ``y ≈ intercept + slope·values`` by least squares (property units)."""
        values, y = np.asarray(values, dtype=float), np.asarray(y, dtype=float)
        if len(y) < MIN_CALIBRATION_LABELS or len(values) != len(y):
            raise AlloyscreenError(f"calibrating a potential needs at least {MIN_CALIBRATION_LABELS} labels with "
                                   f"a potential value each, got {len(y)} labels and {len(values)} values")
        design = np.column_stack([np.ones_like(values), values])
        (self.intercept_, self.slope_), *_ = np.linalg.lstsq(design, y, rcond=None)
        leverage = np.einsum("ij,jk,ik->i", design, np.linalg.pinv(design.T @ design), design)
        residuals = (y - design @ np.array([self.intercept_, self.slope_])) / np.clip(1 - leverage, 1e-6, None)
        self.held_out_ = y - residuals  # each label's prediction by the line fitted without it
        self.spread_ = float(np.sqrt(np.mean(residuals ** 2)))
        self.n_train_ = len(y)
        return self

    def predict_moments(self, values) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated mean and spread (property units) of candidates with potential ``values``."""
        if not hasattr(self, "spread_"):
            raise AlloyscreenError("this CalibratedPotential is not fitted; call fit(values, y) first")
        values = np.asarray(values, dtype=float)
        return self.intercept_ + self.slope_ * values, np.full(values.shape, self.spread_)

    def to_bytes(self) -> bytes:
        """Serialise parameters and the fitted line as JSON (the bytes the model id hashes)."""
        fitted = {"intercept": float(self.intercept_), "slope": float(self.slope_), "spread": self.spread_,
                  "n_train": self.n_train_}
        return json.dumps({"params": self.get_params(), "fitted": fitted}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> CalibratedPotential:
        """Rebuild a model written by :meth:`to_bytes`."""
        try:
            data = json.loads(blob)
            model = cls(**data["params"])
            fitted = data["fitted"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AlloyscreenError(f"bytes are not a serialised CalibratedPotential ({exc})") from None
        model.intercept_, model.slope_ = fitted["intercept"], fitted["slope"]
        model.spread_, model.n_train_ = fitted["spread"], fitted["n_train"]
        return model


class PotentialCommittee:
    """Several calibrated potentials as one ranker: their disagreement enters the spread.

    Parameters
    ----------
    members
        Fitted :class:`CalibratedPotential`, one per potential, on the same labels.
    std_scale
        Factor on the mixture's spread (:meth:`calibrate`: maximum likelihood on the held-out predictions).
    """

    def __init__(self, members: list[CalibratedPotential] | None = None, std_scale: float = 1.0):
        self.members = members
        self.std_scale = std_scale

    def get_params(self) -> dict:
        """The members' parameters and the scale (what the model registry records as hyperparameters)."""
        return {"members": [member.get_params() for member in self.members or []], "std_scale": self.std_scale}

    @property
    def potentials(self) -> list[str]:
        """The members' calculator names, in order."""
        return [member.potential for member in self.members or []]

    @property
    def held_out_(self) -> np.ndarray:
        """Each label's prediction by the members' lines fitted without it, averaged."""
        return np.mean([member.held_out_ for member in self.members or []], axis=0)

    def calibrate(self, values, y) -> PotentialCommittee:
        """Scale the spread so that the held-out errors on the labels ``y`` (values ``(n, members)``) fit it."""
        self.std_scale = 1.0
        self.std_scale = fit_std_scale(np.asarray(y, dtype=float) - self.held_out_, self.predict_moments(values)[1])
        return self

    def predict_moments(self, values) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread (property units) of candidates with potential ``values`` (n, members)."""
        values = np.asarray(values, dtype=float).reshape(-1, len(self.members or []))
        moments = [member.predict_moments(values[:, k]) for k, member in enumerate(self.members or [])]
        means = np.array([mean for mean, _ in moments])
        variance = np.mean([std ** 2 for _, std in moments], axis=0) + np.var(means, axis=0)
        return means.mean(axis=0), self.std_scale * np.sqrt(variance)

    def to_bytes(self) -> bytes:
        """Serialise every member and the scale (the bytes the model id hashes)."""
        members = [json.loads(member.to_bytes()) for member in self.members or []]
        return json.dumps({"members": members, "std_scale": self.std_scale}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> PotentialCommittee:
        """Rebuild a committee written by :meth:`to_bytes`."""
        try:
            data = json.loads(blob)
            members = [CalibratedPotential.from_bytes(json.dumps(member).encode()) for member in data["members"]]
        except (ValueError, TypeError, KeyError) as exc:
            raise AlloyscreenError(f"bytes are not a serialised PotentialCommittee ({exc})") from None
        return cls(members, data["std_scale"])


def combine(tree_mean: np.ndarray, tree_std: np.ndarray, mean: np.ndarray, std: np.ndarray,
            how: str) -> tuple[np.ndarray, np.ndarray]:
    """The ranker's mean and spread (``ranker``), or both estimates weighted by inverse variance (``precision``)."""
    if how == "ranker":
        return mean, std
    tree_precision = 1 / np.maximum(tree_std, 1e-12) ** 2
    precision = 1 / np.maximum(std, 1e-12) ** 2
    total = tree_precision + precision
    return (tree_mean * tree_precision + mean * precision) / total, 1 / np.sqrt(total)
