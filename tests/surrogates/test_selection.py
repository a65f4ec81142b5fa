import numpy as np
import pytest

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.pareto import pareto_ranks
from alloyscreen.surrogates.selection import select_batch, select_stratified

# candidates a0..a3 form a tight cluster with the best scores; b0 is far away
X = np.array([[0.0, 0.0], [0.01, 0.0], [0.0, 0.01], [0.01, 0.01], [5.0, 5.0], [2.0, 2.0]])
IDS = np.array(["a0", "a1", "a2", "a3", "b0", "c0"])
SCORES = np.array([1.0, 0.99, 0.98, 0.97, 0.9, np.nan])


def test_top_k_without_diversity():
    batch = select_batch(SCORES, X, IDS, 2, diversity="none")
    assert list(batch.candidate_ids) == ["a0", "a1"]
    assert batch.reasons[0].startswith("rank 0 by score")


@pytest.mark.parametrize("method", ["maxmin", "kmeans"])
def test_diversity_reaches_the_far_candidate(method):
    batch = select_batch(SCORES, X, IDS, 2, diversity=method, pool_factor=3)
    assert list(batch.candidate_ids) == ["a0", "b0"]
    np.testing.assert_allclose(batch.scores, [1.0, 0.9])


def test_skips_labelled_and_in_flight_ids_and_nan():
    batch = select_batch(SCORES, X, IDS, 3, exclude_ids={"a0", "b0"} | {"a2"}, diversity="none")
    assert list(batch.candidate_ids) == ["a1", "a3"]
    assert "c0" not in batch.candidate_ids
    maxmin = select_batch(SCORES, X, IDS, 2, exclude_ids=["a0"], pool_factor=5)
    assert list(maxmin.candidate_ids) == ["a1", "b0"]
    assert select_batch(SCORES, X, IDS, 2, exclude_ids=list(IDS)).indices.size == 0


def test_selection_errors():
    with pytest.raises(AlloyscreenError, match="unknown diversity method 'dpp'"):
        select_batch(SCORES, X, IDS, 2, diversity="dpp")
    with pytest.raises(AlloyscreenError, match="descriptor rows differ"):
        select_batch(SCORES, X[:3], IDS, 2)


def test_pareto_ranks_hand_example():
    # minimise energy, maximise activity
    # front 0: (0,1), (1,2); front 1: (1,1), (0.5,0.5), (2,2); then (2,0); then (3,-1)
    values = np.array([[0.0, 1.0], [1.0, 2.0], [1.0, 1.0], [2.0, 0.0], [0.5, 0.5], [2.0, 2.0], [3.0, -1.0]])
    objectives = [Objective("energy", "minimize"), Objective("activity", "maximize")]
    assert pareto_ranks(values, objectives).tolist() == [0, 0, 1, 2, 1, 1, 3]
    flipped = [Objective("energy", "maximize"), Objective("activity", "maximize")]
    assert pareto_ranks(values, flipped).tolist()[6] == 0
    with pytest.raises(AlloyscreenError, match="number of objectives >= 2"):
        pareto_ranks(values[:, :1], objectives[:1])


def test_stratified_design_takes_one_central_candidate_from_each_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.vstack([centre + rng.normal(scale=0.5, size=(40, 2)) for centre in centres])
    ids = np.array([f"c{i}" for i in range(len(X))])
    batch = select_stratified(X, ids, 3, seed=1)
    assert sorted(batch.indices // 40) == [0, 1, 2] and all("k-means cluster" in r for r in batch.reasons)
    for index in batch.indices:
        members = X[index // 40 * 40:(index // 40 + 1) * 40]
        distances = np.linalg.norm(members - members.mean(axis=0), axis=1)
        assert np.linalg.norm(X[index] - members.mean(axis=0)) <= np.quantile(distances, 0.2)  # central, not random
    again = select_stratified(X, ids, 3, exclude_ids=ids[batch.indices[:1]], seed=1)
    assert batch.indices[0] not in again.indices and sorted(again.indices // 40) == [0, 1, 2]
