import numpy as np
import pytest

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.benchmarking import (
    simulate_campaign,
    simulate_pareto_campaign,
    summarize,
    synthetic_alloy_space,
)
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.pareto import pareto_fronts


@pytest.fixture(scope="module")
def space():
    _, X, y = synthetic_alloy_space(n_elements=5, parts=8, seed=1)
    return X, y


def test_synthetic_space_enumerates_all_compositions():
    c, X, y = synthetic_alloy_space(n_elements=3, parts=4)
    assert c.shape == (15, 3) and np.allclose(c.sum(axis=1), 1.0)
    assert len({tuple(row) for row in c}) == 15
    assert X.shape[0] == y.shape[0] == 15 and np.all(np.isfinite(y))


def test_model_guided_search_beats_random(space):
    X, y = space
    traces = [simulate_campaign(X, y, "random", seed=s) for s in range(3)]
    traces += [simulate_campaign(X, y, "ucb", seed=s, max_calls=300) for s in range(3)]
    for trace in traces:
        assert trace.calls[0] == 10 and trace.calls == sorted(trace.calls)
        assert trace.found == sorted(trace.found)
        if trace.calls_to_target is not None:
            assert trace.found[-1] >= 9
    summary = summarize(traces)
    assert summary["random"]["censored"] == 0 and summary["random"]["final_mae"] is None
    assert summary["ucb"]["calls_mean"] < summary["random"]["calls_mean"] / 2
    assert summary["ucb"]["acceleration_vs_random"] > 2
    low, high = summary["ucb"]["calls_interval_95"]
    assert low <= summary["ucb"]["calls_mean"] <= high


def test_unknown_strategy(space):
    X, y = space
    with pytest.raises(AlloyscreenError, match="unknown acquisition function 'best'"):
        simulate_campaign(X, y, "best")


def small_model(seed):
    return EnsembleRegressor(learner="xgboost", n_members=3, learner_params={"n_estimators": 50}, random_state=seed,
                             n_jobs=1)


def test_pareto_search_finds_the_front_faster_than_random():
    c, X, y = synthetic_alloy_space(n_elements=5, parts=8, seed=1)
    minus_cost = -(c @ np.array([1.0, 3.0, 10.0, 30.0, 100.0]))  # known exactly, like the raw-material cost
    on_front = pareto_fronts(np.column_stack([-y, minus_cost])) == 0
    needed = int(np.ceil(0.9 * on_front.sum()))
    traces = [simulate_pareto_campaign(X, y, minus_cost, strategy, seed=seed, model_factory=small_model)
              for strategy in ("random", "ucb") for seed in range(2)]
    for trace in traces:
        assert trace.calls[0] == 10 and set(np.diff(trace.calls)) == {10}
        assert trace.found == sorted(trace.found) and trace.found[-1] >= needed > trace.found[-2]
        assert trace.calls_to_target == trace.calls[-1]
    summary = summarize(traces)
    assert summary["ucb"]["calls_mean"] < summary["random"]["calls_mean"] / 2
    censored = simulate_pareto_campaign(X, y, minus_cost, "greedy", max_calls=25, model_factory=small_model)
    assert censored.calls == [10, 20, 25] and censored.calls_to_target is None
