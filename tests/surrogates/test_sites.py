"""Site models: the piecewise-linear baseline of the literature, and predictions over simulated surfaces."""

import numpy as np
import pytest

from alloyscreen.catalysis.activity import grid_activity, her_activity
from alloyscreen.structures.surface import simulated_surface
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.registry import load_model, model_document
from alloyscreen.surrogates.sites import PiecewiseLinearSiteModel, SiteActivityModel, surface_energies


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


def test_the_activity_of_a_composition_comes_from_its_surface_s_site_distribution():
    elements = ["Pd", "Pt"]
    train = simulated_surface({"Pd": 0.5, "Pt": 0.5}, size=16, seed=5).features("fcc")
    y = 0.1 * train[:, 1] - 0.15 * train[:, 0]  # ΔG_H: Pt sites bind H weakly (+0.3 eV), Pd strongly (-0.45 eV)
    ensemble = EnsembleRegressor(n_members=3, learner_params={"n_estimators": 60}).fit(train, y)
    model = SiteActivityModel({"H": ensemble}, elements, {"H": ["fcc"]}, surface_size=12, seed=1)
    mean, std, members = model.predict_moments_of([{"Pt": 1.0}, {"Pd": 1.0}, {"Pd": 0.4, "Pt": 0.6}], members=True)
    assert members is not None and members.shape == (3, 3) and np.allclose(members.mean(axis=0), mean)
    assert mean[2] > mean[0] > mean[1]  # mixed sites near 0 eV beat both metals; Pt (+0.3) beats Pd (-0.45)
    pure_pt = surface_energies(ensemble, {"Pt": 1.0}, elements, "fcc", size=12, seed=1)  # every site +0.3 eV
    assert mean[0] == pytest.approx(her_activity(pure_pt).mean()) and abs(pure_pt.mean() - 0.3) < 0.03
    again = load_model(model_document(model, model.to_bytes(), "her_activity", []).kind, model.to_bytes())
    assert isinstance(again, SiteActivityModel) and np.array_equal(again.activities([{"Pt": 1.0}]),
                                                                    model.activities([{"Pt": 1.0}]))


def test_a_grid_activity_pairs_the_members_of_its_two_site_models_on_one_surface():
    elements = ["Cu", "Pd"]
    surface = simulated_surface({"Cu": 0.5, "Pd": 0.5}, size=16, seed=5)
    top, fcc = surface.features("top"), surface.features("fcc")
    co = EnsembleRegressor(n_members=3, learner_params={"n_estimators": 40}).fit(top, 0.4 * top[:, 0] - 0.8)
    h = EnsembleRegressor(n_members=3, learner_params={"n_estimators": 40}).fit(fcc, 0.2 * fcc[:, 0] - 0.1)
    model = SiteActivityModel({"CO": co, "H": h}, elements, {"CO": ["top"], "H": ["fcc"]}, surface_size=10,
                              seed=2, activity="co2rr_selectivity")
    each = model.activities([{"Cu": 0.5, "Pd": 0.5}, {"Pd": 1.0}])
    grid = simulated_surface({"Cu": 0.5, "Pd": 0.5}, size=10, seed=2, elements=elements)
    expected = grid_activity("co2rr_selectivity", [co.predict_members(grid.features("top")),
                                                   h.predict_members(grid.features("fcc"))], 10, [])
    assert each.shape == (3, 2) and np.array_equal(each[:, 0], expected)
    again = SiteActivityModel.from_bytes(model.to_bytes())
    assert again.activity == "co2rr_selectivity" and np.array_equal(again.activities([{"Pd": 1.0}]), each[:, 1:])
