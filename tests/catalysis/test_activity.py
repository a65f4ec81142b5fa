"""Activity from site distributions, and the piecewise-linear site model of the literature."""

import numpy as np
import pytest

from alloyscreen.catalysis.activity import BOLTZMANN_EV_PER_K, her_activity, her_site_rates
from alloyscreen.catalysis.site_model import PiecewiseLinearSiteModel, surface_energies
from alloyscreen.structures.surface import simulated_surface
from alloyscreen.surrogates.ensemble import EnsembleRegressor


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


def _piecewise_truth(features: np.ndarray, n: int) -> np.ndarray:
    """A known piecewise-linear law: the slope of the neighbour counts depends on the site ensemble."""
    energies = np.empty(len(features))
    for row, values in enumerate(features):
        ensemble = [int(count) for count in values[:n]]  # seeds its own slopes: the same law for every call
        slopes = np.random.default_rng(ensemble).normal(0, 0.05, features.shape[1] - n + 1)
        energies[row] = slopes[0] + values[n:] @ slopes[1:]
    return energies


def test_the_piecewise_linear_baseline_recovers_a_piecewise_linear_law_on_unseen_sites():
    elements = ["Ag", "Pd", "Pt"]
    train = simulated_surface(dict.fromkeys(elements, 1 / 3), size=30, seed=1, elements=elements).features("fcc")
    test = simulated_surface(dict.fromkeys(elements, 1 / 3), size=10, seed=2, elements=elements).features("fcc")
    model = PiecewiseLinearSiteModel(n_elements=3, ridge=1e-9).fit(train, _piecewise_truth(train, 3))
    assert np.abs(model.predict(test) - _piecewise_truth(test, 3)).max() < 1e-6
    assert len(model.pieces_) == 10  # every ensemble of three atoms from three elements was seen


def test_surface_energies_give_one_row_per_ensemble_member():
    elements = ["Pd", "Pt"]
    train = simulated_surface({"Pd": 0.5, "Pt": 0.5}, size=12, seed=3).features("fcc")
    y = -0.3 * train[:, 0] + 0.01 * train[:, 2]  # Pd in the site binds H more strongly
    ensemble = EnsembleRegressor(n_members=3, learner_params={"n_estimators": 20}).fit(train, y)
    rows = surface_energies(ensemble, {"Pd": 0.5, "Pt": 0.5}, elements, "fcc", size=10, seed=4)
    assert rows.shape == (3, 100)
    baseline = PiecewiseLinearSiteModel(n_elements=2).fit(train, y)
    assert surface_energies(baseline, {"Pd": 0.5, "Pt": 0.5}, elements, "fcc", size=10, seed=4).shape == (1, 100)
