import numpy as np
import pytest

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.pareto import dominance_counts, dominance_matrix, pareto_fronts, pareto_pool
from alloyscreen.surrogates.selection import select_pareto_batch


def _utilities(n: int, correlation: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal([0, 0], [[1, correlation], [correlation, 1]], size=n)


@pytest.mark.parametrize("correlation", [-0.9, 0.0, 0.9])
def test_streamed_pool_is_every_point_dominated_by_fewer_than_threshold(correlation):
    u = _utilities(3000, correlation)
    threshold = 40
    exact = np.flatnonzero(dominance_matrix(u).sum(axis=0) < threshold)
    kept = np.empty(0, dtype=int)
    for start in range(0, len(u), 700):  # chunk by chunk, as scoring streams the space
        rows = np.concatenate([kept, np.arange(start, min(start + 700, len(u)))])
        pooled, _ = pareto_pool(u[rows], threshold)
        kept = rows[pooled]
    assert sorted(kept) == exact.tolist()
    rows, fronts = pareto_pool(u, threshold)
    assert rows.tolist() == kept.tolist()  # the same order, streamed or not
    np.testing.assert_array_equal(fronts, pareto_fronts(u)[rows])  # the fronts of the whole set
    assert np.all(np.diff(fronts) >= 0)


def test_a_capped_pool_stays_closed_under_dominance():
    u = _utilities(3000, -0.95, seed=1)
    rows, fronts = pareto_pool(u, threshold=500, max_size=100)
    assert 0 < len(rows) <= 100
    dominators = dominance_matrix(u)[:, rows].any(axis=1)  # every point dominating some pooled point
    assert set(np.flatnonzero(dominators)) <= set(rows)
    np.testing.assert_array_equal(fronts, pareto_fronts(u)[rows])


def test_non_finite_rows_are_never_pooled_and_big_sets_are_refused():
    u = np.array([[1.0, 0.0], [np.nan, 5.0], [0.0, 1.0], [0.5, 0.5], [0.4, 0.4]])
    rows, fronts = pareto_pool(u, threshold=1)
    assert sorted(rows.tolist()) == [0, 2, 3] and fronts.tolist() == [0, 0, 0]
    assert dominance_counts(u[[4]], u[[0, 2, 3]]).tolist() == [1]
    with pytest.raises(AlloyscreenError, match="pass at most 20000"):
        pareto_fronts(np.zeros((20001, 2)))


def test_batch_is_taken_front_by_front_with_diversity_inside_the_last_front():
    # pool order: front 0 = a, b; front 1 = c (near a), d (far), e (near a); front 2 = f
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.1, 0.0], [9.0, 9.0], [0.0, 0.1], [5.0, 5.0]])
    ids = np.array(list("abcdef"))
    fronts = np.array([0, 0, 1, 1, 1, 2])
    scores = np.arange(6.0)
    batch, chosen_fronts = select_pareto_batch(fronts, scores, X, ids, 3, diversity="maxmin")
    assert batch.candidate_ids.tolist() == ["a", "b", "d"] and chosen_fronts.tolist() == [0, 0, 1]
    assert batch.scores.tolist() == [0.0, 1.0, 3.0]
    assert batch.reasons[0].startswith("Pareto front 0 (all 2 of it)")
    skipped, skipped_fronts = select_pareto_batch(fronts, scores, X, ids, 3, exclude_ids={"a", "d"},
                                                  diversity="none")
    assert skipped.candidate_ids.tolist() == ["b", "c", "e"] and skipped_fronts.tolist() == [0, 1, 1]
    with pytest.raises(AlloyscreenError, match="unknown diversity method 'dpp'"):
        select_pareto_batch(fronts, scores, X, ids, 3, diversity="dpp")


@pytest.mark.parametrize("objectives", [2, 3])
def test_pool_with_tied_utilities_matches_brute_force(objectives):
    u = np.random.default_rng(4).integers(0, 5, size=(5000, objectives)).astype(float)  # many exact ties
    threshold = 300
    exact = dominance_matrix(u).sum(axis=0)
    rows, fronts = pareto_pool(u, threshold)
    assert sorted(rows.tolist()) == np.flatnonzero(exact < threshold).tolist()
    np.testing.assert_array_equal(fronts, pareto_fronts(u[rows]))
