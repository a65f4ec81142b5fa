"""Activity from site distributions: the HER volcano of Norskov et al. (2005) per site, averaged over a surface."""

import numpy as np
import pytest

from alloyscreen.catalysis.activity import BOLTZMANN_EV_PER_K, her_activity, her_site_rates


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
