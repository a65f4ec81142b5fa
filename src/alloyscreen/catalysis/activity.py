"""Activity of a surface from its distribution of site adsorption energies.

HER (hydrogen evolution): each site's exchange rate in the Sabatier model of
Nørskov et al., J. Electrochem. Soc. 152, J23 (2005), eqs. 3-4: with
K = exp(-ΔG_H / kT) the H coverage is K / (1 + K), and the rate (in units of
the rate constant k0, per site) is 1 - coverage for ΔG_H <= 0 and
K (1 - coverage) for ΔG_H > 0; both are 1 / (1 + exp(|ΔG_H| / kT)), at most
1/2 (at ΔG_H = 0). A surface's activity is the mean over its sites (sites act
independently: no H-H interaction, no site blocking), so a pure metal's
activity is its one site's rate and the metals rank as the volcano ranks them.

ORR (oxygen reduction, after Batchelor et al., Joule 3, 834 (2019)): *OH on
every on-top site, *O in every fcc hollow, both relative to Pt(111) computed
by the same oracle; each on-top site's rate is exp(-|ΔG_OH - ΔG_OH(Pt) - 0.1
eV| / kT) (the optimum binds *OH 0.1 eV more weakly than Pt(111)), and a site
is blocked (rate 0) where one of its three fcc hollows binds *O more strongly
per electron, (ΔG_O - ΔG_O(Pt)) / 2 below its ΔG_OH - ΔG_OH(Pt) by more
than ``TIE_EV`` (the scaling
by 1/2 of Clausen et al., Adv. Sci. 8, 2003357 (2021); their greedy filling of
the whole surface is not modelled: each site sees only its own hollows). The
activity is the mean over the on-top sites, per site in units of the rate
constant; Pt(111) gives exp(-0.1 eV / kT).

CO2RR selectivity (after Bagger et al., ChemPhysChem 18, 3266 (2017) and
Pedersen et al., ACS Catal. 10, 2169 (2020)): the share of on-top sites that
bind *CO (ΔE_CO below ``CO_BINDS_EV``) while none of their three fcc
hollows binds *H (ΔE_H = ΔG_H - 0.24 eV above ``H_BINDS_EV``): the sites that
can reduce CO further without evolving hydrogen. The thresholds are the
classification's, on its DFT's energy scale; another oracle's offsets move them.

Surfaces are given as site arrays in the row order of
:meth:`~alloyscreen.structures.surface.SimulatedSurface.features` with
``fcc_members`` (:func:`~alloyscreen.structures.surface.site_members`): the
on-top sites around each fcc hollow. Leading axes (e.g. ensemble members) pass
through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloyscreen.structures.surface import site_members

BOLTZMANN_EV_PER_K = 8.617333262e-5  # CODATA 2018
ROOM_TEMPERATURE_K = 298.15
ORR_OPTIMUM_EV = 0.1  # the *OH optimum above Pt(111) (Batchelor et al. 2019)
CO_BINDS_EV = 0.0  # ΔE_CO below: *CO binds (Bagger et al. 2017)
H_BINDS_EV = 0.0  # ΔE_H below: *H binds (Bagger et al. 2017)
H_CORRECTION_EV = 0.24  # ΔG_H - ΔE_H (Nørskov et al. 2005)
TIE_EV = 1e-3  # energies closer than this are equal (relaxations converge to about this)


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


def _hollows_of_tops(fcc_members: np.ndarray) -> np.ndarray:
    """The fcc hollows around each on-top site, shape (tops, 3): each surface atom is a corner of three."""
    corners = fcc_members.shape[1]
    return (np.argsort(fcc_members.ravel(), kind="stable") // corners).reshape(-1, corners)


def orr_site_rates(delta_g_oh_top: np.ndarray, delta_g_o_fcc: np.ndarray, fcc_members: np.ndarray,
                   pt_oh: float, pt_o: float, temperature: float = ROOM_TEMPERATURE_K) -> np.ndarray:
    """Each on-top site's ORR rate (0 where *O in a neighbouring fcc hollow blocks it); energies in eV."""
    oh = np.asarray(delta_g_oh_top, dtype=float) - pt_oh
    o_per_electron = (np.asarray(delta_g_o_fcc, dtype=float) - pt_o) / 2
    strongest_o = o_per_electron[..., _hollows_of_tops(fcc_members)].min(axis=-1)
    rates = np.exp(-np.abs(oh - ORR_OPTIMUM_EV) / (BOLTZMANN_EV_PER_K * temperature))
    return np.where(strongest_o < oh - TIE_EV, 0.0, rates)


def orr_activity(delta_g_oh_top: np.ndarray, delta_g_o_fcc: np.ndarray, fcc_members: np.ndarray,
                 pt_oh: float, pt_o: float, temperature: float = ROOM_TEMPERATURE_K) -> np.ndarray:
    """The ORR activity of surfaces: the mean on-top site rate (:func:`orr_site_rates`), per site."""
    return orr_site_rates(delta_g_oh_top, delta_g_o_fcc, fcc_members, pt_oh, pt_o, temperature).mean(axis=-1)


def co2rr_selectivity(delta_e_co_top: np.ndarray, delta_g_h_fcc: np.ndarray, fcc_members: np.ndarray) -> np.ndarray:
    """The share of on-top sites that bind *CO while no neighbouring fcc hollow binds *H (energies in eV)."""
    co = np.asarray(delta_e_co_top, dtype=float)
    delta_e_h = np.asarray(delta_g_h_fcc, dtype=float) - H_CORRECTION_EV
    strongest_h = delta_e_h[..., _hollows_of_tops(fcc_members)].min(axis=-1)
    return ((co < CO_BINDS_EV) & (strongest_h > H_BINDS_EV)).mean(axis=-1)


@dataclass(frozen=True)
class GridActivity:
    """An activity of two adsorbates on every site of two kinds: the sites, the unit, the reference metal."""

    sites: tuple[tuple[str, str], ...]  # (adsorbate, site kind), in the activity function's argument order
    unit: str
    reference: str | None = None  # a pure metal whose (111) site energies the activity is taken against


GRID_ACTIVITIES = {
    "orr_activity": GridActivity((("OH", "top"), ("O", "fcc")), "k0/site", "Pt"),
    "co2rr_selectivity": GridActivity((("CO", "top"), ("H", "fcc")), "fraction of on-top sites"),
}


def grid_activity(prop: str, energies: list[np.ndarray], size: int, references: list[float]) -> np.ndarray:
    """``prop``'s activity of surfaces from the energies of every site of its kinds (grid row order), eV.

    ``energies``: one array per (adsorbate, kind) of ``GRID_ACTIVITIES[prop]``,
    leading axes passing through; ``references``: the reference metal's
    energies in the same order (ORR: Pt(111)'s ΔG_OH on top and ΔG_O in fcc).
    """
    members = site_members("fcc", size)
    if prop == "orr_activity":
        return orr_activity(energies[0], energies[1], members, *references)
    return co2rr_selectivity(energies[0], energies[1], members)
