"""Two fidelities in one prediction: the cheap stage's surrogate plus a Δ model of (expensive − cheap).

The cheap stage labels many candidates; a second, costlier stage labels a few.
The expensive value of a candidate is predicted as its cheap value (the label
where it has one, else the cheap surrogate's mean) plus the Δ model's mean,
learned on the candidates labelled at both stages as a function of the
descriptors; the spread is the Δ model's alone where the cheap label is known,
else both spreads in quadrature (independent errors).

How many candidates the expensive stage takes each round is cost-aware: the
round spends ``share`` of its core-hours there, at the measured core-hours per
calculation of each stage (:func:`expensive_count`).
"""

from __future__ import annotations

import math

import numpy as np


def expensive_moments(cheap_mean, cheap_std, delta_mean, delta_std) -> tuple[np.ndarray, np.ndarray]:
    """Predicted expensive-stage mean and spread (label units) of candidates without a cheap label.

    A candidate with a cheap label ``y`` is predicted ``y + delta_mean`` with the spread ``delta_std``.
    """
    return np.asarray(cheap_mean) + np.asarray(delta_mean), np.hypot(cheap_std, delta_std)


def expensive_count(cheap_calls: int, cheap_core_hours: float | None, expensive_core_hours: float | None,
                    share: float) -> int:
    """Expensive calculations a round affords: ``share`` of its core-hours, at least one.

    ``cheap_core_hours`` and ``expensive_core_hours`` are measured core-hours per
    calculation of each stage (None before a stage has any: then one, which
    measures it). With ``c`` cheap calls the round spends ``c·h_c`` at the cheap
    stage, so the expensive stage gets ``share/(1−share)·c·h_c / h_e`` calls.
    """
    if not cheap_core_hours or not expensive_core_hours:
        return 1
    if share >= 1:
        return cheap_calls
    affordable = share / (1 - share) * cheap_calls * cheap_core_hours / expensive_core_hours
    return max(1, math.floor(affordable))


def residual_prior(residuals, cheap_values) -> tuple[float, float]:
    """Δ mean and spread before a Δ model can be trained: the residuals' mean and spread.

    With fewer than two residuals the spread is that of the cheap values (the
    scale of the property: nothing is yet known of the difference).
    """
    residuals = np.asarray(residuals, dtype=float)
    mean = float(residuals.mean()) if residuals.size else 0.0
    spread = residuals if residuals.size >= 2 else np.asarray(cheap_values, dtype=float)
    return mean, float(np.std(spread, ddof=1)) if spread.size >= 2 else 1.0
