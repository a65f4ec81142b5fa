"""The random-forest learner, model selection over candidates, and descriptor importances (real libraries)."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.crossval import (
    Candidate,
    cross_val_fits,
    cross_validate,
    fit_calibrated,
    grid_candidates,
    select_model,
)
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.importance import feature_importances, permutation_importance
from alloyscreen.surrogates.learners import get_learner


def test_random_forest_spread_is_its_trees_and_bytes_reproduce_it(smooth_data):
    X, y = smooth_data
    model = EnsembleRegressor("random_forest", n_members=3, learner_params={"n_estimators": 20}).fit(X, y)
    members = model.predict_members(X[:7])
    assert members.shape == (60, 7)  # 3 forests x 20 trees
    mean, std = model.predict(X[:7], return_std=True)
    np.testing.assert_allclose(mean, np.mean([forest.predict(X[:7]) for forest in model.members_], axis=0))
    np.testing.assert_allclose(std, members.std(axis=0, ddof=1))
    blob = model.to_bytes()
    assert blob == EnsembleRegressor("random_forest", n_members=3, learner_params={"n_estimators": 20}).fit(X, y) \
        .to_bytes()  # the same seed, the same bytes (and model id)
    loaded = EnsembleRegressor.from_bytes(blob)
    np.testing.assert_array_equal(loaded.predict_members(X), model.predict_members(X))


def test_random_forest_calibrates_like_the_boosted_learners(smooth_data):
    X, y = smooth_data
    model = EnsembleRegressor("random_forest", n_members=3)
    metrics = fit_calibrated(model, X, y, n_splits=5)
    assert model.std_scale == pytest.approx(metrics.calibration.scale) and model.std_scale != 1.0
    assert metrics.r2 > 0.5


def test_a_stored_forest_naming_another_class_is_refused():
    with pytest.raises(AlloyscreenError, match="names collections.OrderedDict; allowed: scikit-learn and numpy"):
        get_learner("random_forest").load(pickle.dumps(OrderedDict(a=1)))


def test_grid_candidates_in_spec_order_with_the_first_values_first():
    candidates = grid_candidates(["xgboost", "random_forest"], {"xgboost": {"max_depth": [6, 3], "subsample": [1.0]}})
    assert [c.label for c in candidates] == ["xgboost (max_depth=6, subsample=1.0)",
                                             "xgboost (max_depth=3, subsample=1.0)", "random_forest (defaults)"]


def test_selection_keeps_the_lowest_cv_error_and_the_winners_folds(smooth_data):
    X, y = smooth_data
    candidates = [Candidate("xgboost", {"n_estimators": 2}), Candidate("random_forest"),
                  Candidate("xgboost", {"max_depth": 3})]

    def build(candidate: Candidate) -> EnsembleRegressor:
        return EnsembleRegressor(candidate.learner, 3, learner_params=candidate.params or None)

    for metric in ("rmse", "mae"):
        choice = select_model(candidates, build, X, y, n_splits=4, seed=1, metric=metric)
        scores = [getattr(m, metric) for m in choice.metrics]
        assert choice.best == int(np.argmin(scores)) and choice.chosen is candidates[choice.best]
        alone = cross_validate(build(choice.chosen), X, y, n_splits=4, seed=1)
        assert getattr(alone, metric) == pytest.approx(scores[choice.best])  # the same folds as on its own
        assert len(choice.fits.folds) == 4 and sorted(np.concatenate([t for _, t in choice.fits.folds])) == list(
            range(len(y)))
    assert choice.metrics[0].rmse > 1.5 * min(m.rmse for m in choice.metrics)  # two trees underfit badly
    with pytest.raises(AlloyscreenError, match="unknown CV metric 'auc'; allowed: mae, r2, rmse, spearman"):
        select_model(candidates, build, X, y, metric="auc")


@pytest.mark.parametrize("learner", ["xgboost", "catboost", "random_forest"])
def test_importances_find_the_informative_columns(smooth_data, learner):
    X, y = smooth_data  # y = 3 x0 + sin(6 x1); x2..x5 are noise
    X = np.column_stack([X, np.full(len(y), 0.5)])  # and a constant column
    names = [f"x{i}" for i in range(X.shape[1])]
    model = EnsembleRegressor(learner, 3)
    fits = cross_val_fits(model, X, y, n_splits=5, seed=0)
    model.fit(X, y)
    permutation = permutation_importance(fits, X, y, repeats=4, seed=0)
    assert set(np.argsort(-permutation)[:2]) == {0, 1}
    assert permutation[6] == 0.0  # redrawing a constant column changes no prediction
    assert np.all(np.abs(permutation[2:]) < 0.2 * permutation[:2].min())
    gain = model.feature_importances_
    assert set(np.argsort(-gain)[:2]) == {0, 1} and gain.sum() == pytest.approx(1.0) and gain[6] == 0.0
    document = feature_importances(model, names, top=3, fits=fits, X=X, y=y, repeats=4)
    assert [e.descriptor for e in document.gain][:2] in (["x0", "x1"], ["x1", "x0"])
    assert [e.value for e in document.permutation] == pytest.approx(sorted(permutation, reverse=True)[:3])
    assert document.n_descriptors == 7 and document.permutation_repeats == 4
    without_cv = feature_importances(model, names, top=3)
    assert without_cv.permutation == [] and without_cv.permutation_repeats == 0 and len(without_cv.gain) == 3
