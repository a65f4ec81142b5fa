import numpy as np
import pytest

from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.records import (
    prediction_documents,
    ranking_from_bytes,
    ranking_to_bytes,
    score_chunks,
    selection_documents,
)
from alloyscreen.surrogates.selection import select_batch

OBJ = Objective("mixing_energy_per_atom", "minimize")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.random((30, 4))
    model = EnsembleRegressor(n_members=4).fit(X, X[:, 0] - X[:, 1] ** 2)
    space = rng.random((250, 4))
    ids = np.array([f"c{i:04d}" for i in range(250)])
    return model, space, ids


@pytest.mark.parametrize("acquisition", ["thompson", "ucb"])
def test_chunked_scoring_equals_one_pass(fitted, acquisition):
    model, space, ids = fitted
    whole = score_chunks(model, [(ids, space)], acquisition, OBJ, seed=3)
    chunks = ((ids[i : i + 64], space[i : i + 64]) for i in range(0, 250, 64))
    streamed = score_chunks(model, chunks, acquisition, OBJ, seed=3)
    assert np.array_equal(whole.candidate_ids, streamed.candidate_ids)
    np.testing.assert_allclose(streamed.score, whole.score)


def test_ranking_blob_and_documents(fitted):
    model, space, ids = fitted
    scored = score_chunks(model, [(ids, space)], "ei", OBJ, y_labelled=[0.1, -0.2])
    ranking = ranking_from_bytes(ranking_to_bytes(scored))
    assert np.all(np.diff(ranking.score) <= 0) and set(ranking.candidate_ids) == set(ids)
    docs = prediction_documents(scored, "camp", 1, "model123", OBJ.name, "ei", top=5)
    assert [d.rank for d in docs] == list(range(5))
    assert [d.candidate_id for d in docs] == list(ranking.candidate_ids[:5])
    assert docs[0].score == pytest.approx(ranking.score[0]) and docs[0].std > 0
    assert len({d.id for d in docs}) == 5

    batch = select_batch(scored.score, space, ids, 3, exclude_ids=[docs[0].candidate_id])
    selections = selection_documents(batch, "camp", 1, "ei", "model123")
    assert [s.batch_position for s in selections] == [0, 1, 2]
    assert docs[0].candidate_id not in {s.candidate_id for s in selections}
    assert selections[0].candidate_id == docs[1].candidate_id
