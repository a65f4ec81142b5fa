"""Acquisition functions over surrogate predictions, with an explicit objective direction.

Every function works in *utility* space, where higher is better: an
:class:`Objective` maps property values to utility (``maximize``: ``y``,
``minimize``: ``-y``, e.g. mixing energy; ``target``: ``-|y - t|``, e.g.
``|ΔG_H| -> 0`` with ``t = 0``). Scores are higher-is-better for every function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import norm

from alloyscreen.errors import AlloyscreenError

DIRECTIONS = ("maximize", "minimize", "target")


@dataclass(frozen=True)
class Objective:
    """What a campaign optimises: a property and a direction (and a target value for ``target``).

    Parameters
    ----------
    name
        Property name, e.g. ``"mixing_energy_per_atom"`` (eV/atom).
    direction
        ``"minimize"``, ``"maximize"`` or ``"target"`` (bring the property to ``target``).
    target
        The value aimed at when ``direction == "target"`` (property units), e.g. 0.0 eV for ΔG_H.
    """

    name: str
    direction: Literal["maximize", "minimize", "target"] = "minimize"
    target: float | None = None

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise AlloyscreenError(
                f"unknown objective direction {self.direction!r} for {self.name!r}; allowed: {', '.join(DIRECTIONS)}"
            )
        if (self.direction == "target") != (self.target is not None):
            raise AlloyscreenError(
                f"objective {self.name!r}: a target value is required with direction 'target' and only then"
            )

    def utility(self, values) -> np.ndarray:
        """Map property values (any shape) to utility, higher is better."""
        values = np.asarray(values, dtype=float)
        if self.direction == "maximize":
            return values
        if self.direction == "minimize":
            return -values
        return -np.abs(values - self.target)

    def utility_moments(self, mean, std) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the utility of Gaussian predictions ``N(mean, std^2)``.

        Exact for every direction; for ``target`` these are the moments of the
        folded normal ``|Y - t|`` (with the sign flipped).
        """
        mean = np.asarray(mean, dtype=float)
        std = np.asarray(std, dtype=float)
        if self.direction != "target":
            return self.utility(mean), std
        d = mean - self.target
        safe = np.where(std > 0, std, 1.0)
        folded = np.where(
            std > 0,
            safe * np.sqrt(2 / np.pi) * np.exp(-0.5 * (d / safe) ** 2) + d * (1 - 2 * norm.cdf(-d / safe)),
            np.abs(d),
        )
        var = np.maximum(d**2 + std**2 - folded**2, 0.0)
        return -folded, np.sqrt(var)


@dataclass
class UtilityPredictions:
    """Predictions mapped to utility space: mean, std and (optional) members ``(m, n)``."""

    mean: np.ndarray
    std: np.ndarray
    members: np.ndarray | None = None


def greedy(u: UtilityPredictions, *, best: float | None, rng: np.random.Generator) -> np.ndarray:
    """Exploit: the predicted utility."""
    return u.mean


def ucb(u: UtilityPredictions, *, best: float | None, rng: np.random.Generator, kappa: float = 2.0) -> np.ndarray:
    """Upper confidence bound ``mean + kappa * std``."""
    return u.mean + kappa * u.std


def expected_improvement(
    u: UtilityPredictions, *, best: float | None, rng: np.random.Generator, xi: float = 0.0
) -> np.ndarray:
    """Return the expected improvement of the utility over the labelled best ``best`` + ``xi``."""
    if best is None:
        raise AlloyscreenError("acquisition 'ei' needs labelled values to define the incumbent; got none")
    gain = u.mean - best - xi
    safe = np.where(u.std > 0, u.std, 1.0)
    z = gain / safe
    return np.where(u.std > 0, gain * norm.cdf(z) + u.std * norm.pdf(z), np.maximum(gain, 0.0))


def thompson(u: UtilityPredictions, *, best: float | None, rng: np.random.Generator) -> np.ndarray:
    """Thompson sampling: the utility predicted by one ensemble member drawn at random."""
    if u.members is None or len(u.members) == 0:
        raise AlloyscreenError("acquisition 'thompson' needs per-member predictions (predict_members)")
    return u.members[rng.integers(len(u.members))]


def random_baseline(u: UtilityPredictions, *, best: float | None, rng: np.random.Generator) -> np.ndarray:
    """Random search baseline: uniform random scores."""
    return np.asarray(rng.random(u.mean.shape[0]))


ACQUISITIONS: dict[str, Callable[..., np.ndarray]] = {
    "greedy": greedy,
    "ucb": ucb,
    "ei": expected_improvement,
    "thompson": thompson,
    "random": random_baseline,
}


def get_acquisition(name: str) -> Callable[..., np.ndarray]:
    """Return the acquisition function registered as ``name``.

    Raises
    ------
    AlloyscreenError
        If ``name`` is unknown; the message lists the allowed names.
    """
    try:
        return ACQUISITIONS[name]
    except KeyError:
        raise AlloyscreenError(
            f"unknown acquisition function {name!r}; allowed: {', '.join(sorted(ACQUISITIONS))}"
        ) from None


def acquisition_scores(
    name: str,
    objective: Objective,
    mean,
    std,
    members=None,
    y_labelled=None,
    rng: np.random.Generator | int | None = None,
    **options,
) -> np.ndarray:
    """Score candidates with acquisition ``name`` (higher is better).

    Parameters
    ----------
    name
        One of :data:`ACQUISITIONS`.
    objective
        Property direction; predictions are mapped to utility before scoring.
    mean, std
        Predicted mean and calibrated std per candidate (property units).
    members
        Per-member predictions ``(m, n)`` (property units), needed by ``thompson``.
    y_labelled
        Labelled property values; their best utility is the incumbent of ``ei``.
    rng
        Generator or seed for ``thompson`` and ``random``.
    **options
        Passed to the function, e.g. ``kappa`` for ``ucb``, ``xi`` for ``ei``.
    """
    function = get_acquisition(name)
    u_mean, u_std = objective.utility_moments(mean, std)
    u = UtilityPredictions(u_mean, u_std, None if members is None else objective.utility(members))
    labelled = None if y_labelled is None else np.asarray(y_labelled, dtype=float)
    best = float(objective.utility(labelled).max()) if labelled is not None and labelled.size else None
    return function(u, best=best, rng=np.random.default_rng(rng), **options)
