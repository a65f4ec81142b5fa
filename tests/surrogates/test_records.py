import numpy as np
import pytest

from alloyscreen.schemas import provenance as provenance_module
from alloyscreen.schemas.provenance import Provenance, current_job_provenance
from alloyscreen.surrogates.acquisition import Objective, acquisition_scores
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.records import Scored, prediction_documents, selection_documents
from alloyscreen.surrogates.selection import select_batch

OBJ = Objective("mixing_energy_per_atom", "minimize")


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    X = rng.random((30, 4))
    model = EnsembleRegressor(n_members=4).fit(X, X[:, 0] - X[:, 1] ** 2)
    space = rng.random((250, 4))
    ids = np.array([f"c{i:04d}" for i in range(250)])
    mean, std = model.predict(space, return_std=True)
    score = acquisition_scores("ei", OBJ, mean, std, y_labelled=[0.1, -0.2])
    return Scored(ids, mean, std, score), space


def test_prediction_and_selection_documents(scored):
    top, space = scored
    docs = prediction_documents(top, "camp", 1, "model123", OBJ.name, "ei", top=5)
    order = top.order()
    assert [d.rank for d in docs] == list(range(5))
    assert [d.candidate_id for d in docs] == list(top.candidate_ids[order[:5]])
    assert docs[0].score == pytest.approx(top.score[order[0]]) and docs[0].std > 0
    assert all(a.score >= b.score for a, b in zip(docs, docs[1:], strict=False))
    assert len({d.id for d in docs}) == 5

    batch = select_batch(top.score, space, top.candidate_ids, 3, exclude_ids=[docs[0].candidate_id])
    selections = selection_documents(batch, "camp", 1, "ei", "model123", stage="emt")
    assert [s.batch_position for s in selections] == [0, 1, 2]
    assert {s.stage for s in selections} == {"emt"}
    assert docs[0].candidate_id not in {s.candidate_id for s in selections}
    assert selections[0].candidate_id == docs[1].candidate_id


def test_documents_share_one_provenance_built_without_reading_packages(scored, monkeypatch):
    top, space = scored
    current_job_provenance()  # imports jobflow; the installed versions are read once per process

    def unread(name):
        raise AssertionError(f"package versions read again ({name})")

    monkeypatch.setattr(provenance_module.metadata, "version", unread)
    provenance = current_job_provenance(campaign_id="camp", parents=["model123"])
    assert provenance.versions["alloyscreen"] and provenance.job_uuid is None
    provenance.versions["numpy"] = "changed"
    assert Provenance().versions["numpy"] != "changed"
    docs = prediction_documents(top, "camp", 1, "model123", OBJ.name, "ei", top=3, provenance=provenance)
    batch = select_batch(top.score, space, top.candidate_ids, 2)
    selections = selection_documents(batch, "camp", 1, "ei", "model123", provenance=provenance)
    assert all(d.provenance is provenance for d in docs + selections)
    assert selection_documents(batch, "camp", 1, "ei", "model123")[0].provenance.campaign_id is None
