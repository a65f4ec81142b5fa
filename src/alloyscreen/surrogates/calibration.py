"""Calibration of ensemble uncertainty on held-out predictions (Gaussian maximum likelihood).

The ensemble spread ``sigma`` of a tree ensemble is usually too small (members share
most of the data). Scaling it by one factor ``s`` and maximising the Gaussian
likelihood of held-out residuals ``r`` gives the closed form

    s* = sqrt(mean(r**2 / sigma**2)),

the recalibration of ensemble uncertainties used in active-learning screening.
Coverage of central intervals (68 %, 95 %) is reported before and after scaling.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import IntervalCoverage, UncertaintyCalibration

LEVELS = {"p68": 0.68, "p95": 0.95}
"""Nominal interval levels reported, by the key used in documents."""

_STD_FLOOR = 1e-3
"""A zero spread is replaced by this fraction of the median positive spread."""


def _residuals_and_std(residuals, std) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(residuals, dtype=float).ravel()
    s = np.asarray(std, dtype=float).ravel()
    if r.shape != s.shape or r.size == 0:
        raise AlloyscreenError(f"need equal, non-empty residual and std arrays, got {r.shape} and {s.shape}")
    positive = s[s > 0]
    if positive.size == 0:
        raise AlloyscreenError("all predicted standard deviations are zero; the ensemble members agree exactly")
    return r, np.maximum(s, _STD_FLOOR * np.median(positive))


def fit_std_scale(residuals, std) -> float:
    """Return the maximum-likelihood scale ``s* = sqrt(mean(r^2 / sigma^2))`` of the spread."""
    r, s = _residuals_and_std(residuals, std)
    return float(np.sqrt(np.mean((r / s) ** 2)))


def interval_coverage(residuals, std) -> IntervalCoverage:
    """Return the fraction of residuals inside ``± z * std`` for the 68 % and 95 % intervals."""
    r, s = _residuals_and_std(residuals, std)
    ratio = np.abs(r) / s
    return IntervalCoverage(
        **{key: float(np.mean(ratio <= norm.ppf(0.5 + level / 2))) for key, level in LEVELS.items()}
    )


def gaussian_nll(residuals, std) -> float:
    """Return the mean Gaussian negative log-likelihood of residuals given their std (nats)."""
    r, s = _residuals_and_std(residuals, std)
    return float(np.mean(0.5 * np.log(2 * np.pi * s**2) + 0.5 * (r / s) ** 2))


def calibration_report(residuals, std) -> UncertaintyCalibration:
    """Fit the spread scale on held-out ``residuals`` and report coverage and NLL before/after."""
    r, s = _residuals_and_std(residuals, std)
    scale = fit_std_scale(r, s)
    return UncertaintyCalibration(
        scale=scale,
        n_heldout=int(r.size),
        coverage_before=interval_coverage(r, s),
        coverage_after=interval_coverage(r, scale * s),
        nll_before=gaussian_nll(r, s),
        nll_after=gaussian_nll(r, scale * s),
    )
