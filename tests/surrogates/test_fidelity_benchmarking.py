"""Simulated two-fidelity campaigns: what each strategy spends to find the expensive top-10."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.benchmarking import synthetic_alloy_space
from alloyscreen.surrogates.fidelity_benchmarking import TwoFidelityProblem, simulate_fidelities

CHEAP_HOURS, EXPENSIVE_HOURS, RANKER_HOURS = 1e-4, 1e-3, 1e-5


@pytest.fixture(scope="module")
def problem() -> TwoFidelityProblem:
    """495 compositions; the cheap fidelity favours element 0 where the expensive one does not."""
    c, X, y = synthetic_alloy_space(n_elements=5, parts=8)
    ranker = y + np.random.default_rng(0).normal(0, 0.02, len(y))
    return TwoFidelityProblem(X, y - 0.3 * c[:, 0], y, CHEAP_HOURS, EXPENSIVE_HOURS, ranker, RANKER_HOURS)


@pytest.fixture(scope="module")
def traces(problem):
    with threadpool_limits(1):
        return {strategy: simulate_fidelities(problem, strategy, seed=0, max_expensive=200)
                for strategy in ("expensive", "ladder", "ranker", "multi")}


def test_every_strategy_finds_the_expensive_top_and_counts_its_core_hours(traces):
    for strategy, trace in traces.items():
        assert trace.found[-1] >= 9 and trace.calls_to_target == trace.expensive_calls[-1], strategy
        assert trace.found == sorted(trace.found) and trace.core_hours == sorted(trace.core_hours)
    assert traces["expensive"].core_hours_to_target == pytest.approx(traces["expensive"].calls_to_target
                                                                     * EXPENSIVE_HOURS)
    ladder = traces["ladder"]  # 200 cheap labels, then expensive checks in the cheap order
    assert ladder.core_hours_to_target == pytest.approx(ladder.calls_to_target * EXPENSIVE_HOURS + 200 * CHEAP_HOURS)
    assert traces["ranker"].core_hours_to_target > traces["ranker"].calls_to_target * EXPENSIVE_HOURS


def test_cheap_labels_corrected_by_the_delta_model_save_expensive_calls(traces):
    multi = traces["multi"]
    assert multi.calls_to_target < traces["expensive"].calls_to_target / 2
    assert multi.calls_to_target < traces["ladder"].calls_to_target
    assert np.all(np.diff(multi.expensive_calls) == 1)  # share 0.5 at a 10x cost ratio: one expensive call a round


def test_unknown_strategy_or_missing_ranker_values_is_one_clear_error(problem):
    with pytest.raises(AlloyscreenError, match="unknown two-fidelity strategy 'both'; allowed: expensive"):
        simulate_fidelities(problem, "both")
    bare = TwoFidelityProblem(problem.X, problem.cheap, problem.expensive, CHEAP_HOURS, EXPENSIVE_HOURS)
    with pytest.raises(AlloyscreenError, match="needs the problem's ranker_values"):
        simulate_fidelities(bare, "ranker")
