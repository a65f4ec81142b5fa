"""Activity of a surface from its distribution of site adsorption free energies.

HER (hydrogen evolution): each site's exchange rate in the Sabatier model of
Nørskov et al., J. Electrochem. Soc. 152, J23 (2005), eqs. 3-4: with
K = exp(-ΔG_H / kT) the H coverage is K / (1 + K), and the rate (in units of
the rate constant k0, per site) is 1 - coverage for ΔG_H <= 0 and
K (1 - coverage) for ΔG_H > 0; both are 1 / (1 + exp(|ΔG_H| / kT)), at most
1/2 (at ΔG_H = 0). A surface's activity is the mean over its sites (sites act
independently: no H-H interaction, no site blocking), so a pure metal's
activity is its one site's rate and the metals rank as the volcano ranks them.
"""

from __future__ import annotations

import numpy as np

BOLTZMANN_EV_PER_K = 8.617333262e-5  # CODATA 2018
ROOM_TEMPERATURE_K = 298.15


def her_site_rates(delta_g_h: np.ndarray, temperature: float = ROOM_TEMPERATURE_K) -> np.ndarray:
    """Each site's HER exchange rate, 1 / (1 + exp(|ΔG_H| / kT)), per site in units of k0 (ΔG_H in eV)."""
    scaled = np.abs(np.asarray(delta_g_h, dtype=float)) / (BOLTZMANN_EV_PER_K * temperature)
    return np.exp(-np.logaddexp(0.0, scaled))


def her_activity(delta_g_h: np.ndarray, temperature: float = ROOM_TEMPERATURE_K) -> np.ndarray:
    """The HER activity of surfaces: the mean site rate (per site, units of k0) over the last axis of ``delta_g_h``.

    ``delta_g_h``: the sites' ΔG_H (eV), shape (..., sites): one surface, or
    one per row (e.g. one per member of a site model's ensemble).
    """
    return her_site_rates(delta_g_h, temperature).mean(axis=-1)
