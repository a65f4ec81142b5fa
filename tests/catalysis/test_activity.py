"""Activity from site distributions: HER (Norskov et al. 2005), ORR with *O blocking, the CO2RR selectivity share."""

import numpy as np
import pytest

from alloyscreen.catalysis.activity import (
    BOLTZMANN_EV_PER_K,
    ROOM_TEMPERATURE_K,
    co2rr_selectivity,
    her_activity,
    her_site_rates,
    orr_activity,
    orr_site_rates,
)
from alloyscreen.structures.surface import site_members


def test_her_rate_is_the_sabatier_volcano_of_norskov_2005():
    kt = BOLTZMANN_EV_PER_K * 298.15
    assert her_site_rates(0.0) == pytest.approx(0.5)
    assert her_site_rates(-0.2) == pytest.approx(her_site_rates(0.2)) == pytest.approx(1 / (1 + np.exp(0.2 / kt)))
    # weak binding: K (1 - coverage) with K = exp(-dG/kT); strong binding: 1 - coverage
    assert her_site_rates(0.3) == pytest.approx(np.exp(-0.3 / kt) / (1 + np.exp(-0.3 / kt)))
    assert her_site_rates(-0.3) == pytest.approx(1 - np.exp(0.3 / kt) / (1 + np.exp(0.3 / kt)))
    assert np.isfinite(her_site_rates(-50.0)) and her_site_rates(-50.0) >= 0.0


def test_a_pure_metal_surface_ranks_as_its_one_site_and_a_mixture_averages_its_sites():
    metals = {"near": [0.05] * 10, "strong": [-0.4] * 10, "weak": [0.6] * 10}
    activity = {name: float(her_activity(np.array(values))) for name, values in metals.items()}
    assert sorted(activity, key=activity.get, reverse=True) == ["near", "strong", "weak"]
    mixed = her_activity(np.array([0.05, -0.4]))
    assert mixed == pytest.approx((activity["near"] + activity["strong"]) / 2)
    members = her_activity(np.array([[0.05, 0.05], [-0.4, -0.4]]))  # one surface per member row
    assert members.shape == (2,) and members[0] > members[1]


def test_orr_activity_peaks_01_ev_above_pt_and_o_in_a_hollow_blocks_its_three_on_top_sites():
    members = site_members("fcc", 4)
    kT = BOLTZMANN_EV_PER_K * ROOM_TEMPERATURE_K
    pt = orr_activity(np.full(16, 0.8), np.full(16, 1.6), members, pt_oh=0.8, pt_o=1.6)
    assert pt == pytest.approx(np.exp(-0.1 / kT))  # Pt(111) itself: 0.1 eV from the optimum
    optimal = orr_activity(np.full(16, 0.9), np.full(16, 1.8), members, pt_oh=0.8, pt_o=1.6)
    assert optimal == pytest.approx(1.0) and optimal > pt
    strong_o = np.full(16, 1.8)
    strong_o[5] = 0.0  # one hollow binds *O far more strongly than its corners bind *OH
    rates = orr_site_rates(np.full(16, 0.9), strong_o, members, pt_oh=0.8, pt_o=1.6)
    assert sorted(np.flatnonzero(rates == 0.0)) == sorted(members[5]) and rates.sum() == pytest.approx(13)
    members_axis = orr_activity(np.full((3, 16), 0.9), np.full((3, 16), 1.8), members, 0.8, 1.6)
    assert members_axis.shape == (3,)  # ensemble members pass through


def test_co2rr_selectivity_counts_on_top_sites_that_bind_co_with_no_h_binding_hollow_around():
    members = site_members("fcc", 4)
    co = np.full(16, -0.5)  # every on-top site binds *CO
    h = np.full(16, 0.24 + 0.1)  # no hollow binds *H (ΔE_H = +0.1 eV)
    assert co2rr_selectivity(co, h, members) == 1.0
    h[7] = 0.24 - 0.2  # one hollow binds *H: its three corners no longer count
    assert co2rr_selectivity(co, h, members) == pytest.approx(13 / 16)
    co[:8] = 0.3  # half the on-top sites leave *CO unbound
    expected = np.mean([(k >= 8) and k not in members[7] for k in range(16)])
    assert co2rr_selectivity(co, h, members) == pytest.approx(expected)
