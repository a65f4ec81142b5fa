import hashlib
import os

import numpy as np
import pytest
from sklearn.base import clone

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective, acquisition_scores
from alloyscreen.surrogates.ensemble import EnsembleRegressor, TooFewLabelsError, model_id


@pytest.mark.parametrize(("learner", "virtual", "n_rows"), [("xgboost", 0, 4), ("catboost", 0, 4), ("catboost", 3, 12)])
def test_fit_predict_members_and_roundtrip(smooth_data, learner, virtual, n_rows):
    X, y = smooth_data
    model = EnsembleRegressor(learner=learner, n_members=4, virtual_ensembles=virtual, std_scale=1.7)
    assert model.fit(X, y) is model
    mean, std = model.predict(X[:7], return_std=True)
    members = model.predict_members(X[:7])
    raw = model.predict_members(X[:7], calibrated=False)
    assert members.shape == raw.shape == (n_rows, 7)
    np.testing.assert_allclose(mean, raw.mean(axis=0))
    np.testing.assert_allclose(std, 1.7 * raw.std(axis=0, ddof=1))
    np.testing.assert_allclose(members.std(axis=0, ddof=1), std)
    assert np.all(std > 0)
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.9

    blob = model.to_bytes()
    loaded = EnsembleRegressor.from_bytes(blob)
    mean2, std2 = loaded.predict(X[:7], return_std=True)
    assert np.array_equal(mean, mean2) and np.array_equal(std, std2)
    assert np.array_equal(members, loaded.predict_members(X[:7]))
    assert loaded.get_params() == model.get_params()
    assert model_id(blob) == hashlib.sha256(blob).hexdigest()[:24]


def test_same_seed_same_bytes_for_xgboost(smooth_data):
    X, y = smooth_data
    first = EnsembleRegressor(n_members=2).fit(X, y).to_bytes()
    second = EnsembleRegressor(n_members=2).fit(X, y).to_bytes()
    third = EnsembleRegressor(n_members=2, random_state=1).fit(X, y).to_bytes()
    assert model_id(first) == model_id(second) != model_id(third)


def test_members_fitted_side_by_side_equal_those_fitted_one_at_a_time(smooth_data):
    X, y = smooth_data
    cores = os.sched_getaffinity(0)
    side_by_side = EnsembleRegressor(n_members=3).fit(X, y).to_bytes()
    try:
        os.sched_setaffinity(0, {min(cores)})
        one_at_a_time = EnsembleRegressor(n_members=3).fit(X, y).to_bytes()
    finally:
        os.sched_setaffinity(0, cores)
    assert side_by_side == one_at_a_time


def test_members_differ_and_clone_keeps_params(smooth_data):
    X, y = smooth_data
    model = EnsembleRegressor(n_members=3, learner_params={"max_depth": 2})
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "members_")
    members = model.fit(X, y).predict_members(X)
    assert not np.allclose(members[0], members[1])


def test_small_label_sets_work_and_too_few_fail():
    rng = np.random.default_rng(1)
    X, y = rng.random((10, 3)), rng.random(10)
    for learner in ("xgboost", "catboost"):
        mean, std = EnsembleRegressor(learner=learner).fit(X, y).predict(X, return_std=True)
        assert mean.shape == std.shape == (10,)
    with pytest.raises(TooFewLabelsError, match="at least 5 labels, got 4"):
        EnsembleRegressor().fit(X[:4], y[:4])


def test_bad_input_errors(smooth_data):
    X, y = smooth_data
    with pytest.raises(AlloyscreenError, match="learner 'lightgbm'; allowed: catboost, random_forest, xgboost"):
        EnsembleRegressor(learner="lightgbm").fit(X, y)
    with pytest.raises(AlloyscreenError, match="labels equal"):
        EnsembleRegressor().fit(X, np.ones_like(y))
    with pytest.raises(AlloyscreenError, match="needs learner 'catboost'"):
        EnsembleRegressor(virtual_ensembles=2).fit(X, y)
    with pytest.raises(AlloyscreenError, match="not fitted"):
        EnsembleRegressor().predict(X)
    model = EnsembleRegressor(n_members=2).fit(X, y)
    with pytest.raises(AlloyscreenError, match="trained on 6 columns"):
        model.predict(X[:, :5])
    with pytest.raises(AlloyscreenError, match="not a serialised EnsembleRegressor"):
        EnsembleRegressor.from_bytes(b"not a zip")


@pytest.fixture
def counted_pools(monkeypatch):
    """Count the CatBoost Pools built (ours and CatBoost's own conversions of numpy input)."""
    import catboost

    built = []
    init = catboost.Pool.__init__

    def counted_init(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(catboost.Pool, "__init__", counted_init)
    return built


@pytest.mark.parametrize("virtual", [0, 3])
def test_catboost_members_score_one_pool_with_unchanged_outputs(smooth_data, counted_pools, virtual):
    X, y = smooth_data
    model = EnsembleRegressor(learner="catboost", n_members=3, virtual_ensembles=virtual, random_state=4).fit(X, y)
    if virtual:
        reference = np.concatenate([np.asarray(m.virtual_ensembles_predict(
            X, prediction_type="VirtEnsembles", virtual_ensembles_count=virtual, thread_count=1))[:, :, 0].T
            for m in model.members_])
    else:
        reference = np.stack([m.predict(X, thread_count=1) for m in model.members_])
    counted_pools.clear()
    members = model.predict_members(X, calibrated=False)
    assert len(counted_pools) == 1
    assert np.array_equal(members, reference)


@pytest.mark.parametrize("learner", ["xgboost", "catboost"])
def test_predict_moments_equals_separate_predictions(smooth_data, learner):
    X, y = smooth_data
    model = EnsembleRegressor(learner=learner, n_members=3, std_scale=1.7).fit(X, y)
    mean, std, members = model.predict_moments(X, members=True)
    separate_mean, separate_std = model.predict(X, return_std=True)
    separate_members = model.predict_members(X)
    assert np.array_equal(mean, separate_mean) and np.array_equal(std, separate_std)
    assert np.array_equal(members, separate_members)
    assert model.predict_moments(X)[2] is None
    objective = Objective("mixing_energy_per_atom", "minimize")
    thompson = [acquisition_scores("thompson", objective, m, s, members=ms, rng=np.random.default_rng(3))
                for m, s, ms in ((mean, std, members), (separate_mean, separate_std, separate_members))]
    assert np.array_equal(*thompson)
