import numpy as np
import pytest

from alloyscreen.surrogates.crossval import (
    Candidate,
    cross_val_predict,
    cross_validate,
    fit_calibrated,
    min_labels_for_cv,
    regression_metrics,
    select_model,
)
from alloyscreen.surrogates.ensemble import EnsembleRegressor, TooFewLabelsError


def test_regression_metrics_hand_example():
    metrics = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0])
    assert metrics["mae"] == pytest.approx(0.5)
    assert metrics["rmse"] == pytest.approx(1.0)
    assert metrics["r2"] == pytest.approx(1 - 4 / 5)
    assert metrics["spearman"] == pytest.approx(1.0)


def test_cv_on_known_function(smooth_data):
    X, y = smooth_data
    metrics = cross_validate(EnsembleRegressor(n_members=3), X, y, n_splits=5)
    assert metrics.n_labels == 40 and metrics.n_splits == 5
    assert metrics.r2 > 0.7 and metrics.spearman > 0.85
    assert metrics.mae < metrics.rmse < 0.7 * y.std()
    mean, std = cross_val_predict(EnsembleRegressor(n_members=3), X, y, n_splits=5)
    assert regression_metrics(y, mean)["mae"] == pytest.approx(metrics.mae)
    assert metrics.calibration.n_heldout == 40


def test_fit_calibrated_sets_scale(smooth_data):
    X, y = smooth_data
    model = EnsembleRegressor(n_members=3)
    metrics = fit_calibrated(model, X, y)
    assert model.std_scale == pytest.approx(metrics.calibration.scale) and model.std_scale > 1
    raw = model.predict_members(X[:5], calibrated=False).std(axis=0, ddof=1)
    np.testing.assert_allclose(model.predict(X[:5], return_std=True)[1], model.std_scale * raw)


def test_too_few_labels_for_cv_says_how_many():
    assert min_labels_for_cv(5) == 7
    assert min_labels_for_cv(3) == 8
    rng = np.random.default_rng(0)
    with pytest.raises(TooFewLabelsError, match="5-fold cross-validation needs at least 7 labels, got 6"):
        cross_validate(EnsembleRegressor(), rng.random((6, 2)), rng.random(6))


def test_search_picks_the_better_setting(smooth_data):
    X, y = smooth_data
    candidates = [Candidate("xgboost", {"n_estimators": 2}), Candidate("xgboost", {"n_estimators": 200})]
    result = select_model(candidates, lambda c: EnsembleRegressor(c.learner, 2, learner_params=c.params), X, y,
                          n_splits=4)
    assert result.chosen.params == {"n_estimators": 200}
    assert len(result.metrics) == 2
    assert result.metrics[result.best].rmse == min(m.rmse for m in result.metrics)
