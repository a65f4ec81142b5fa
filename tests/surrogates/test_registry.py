import numpy as np
import pytest
from pydantic import ValidationError

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import ModelDocument
from alloyscreen.schemas.prediction import PredictionDocument
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.crossval import fit_calibrated
from alloyscreen.surrogates.ensemble import EnsembleRegressor, model_id
from alloyscreen.surrogates.registry import load_model, model_document


def test_model_document_roundtrip_and_reload(smooth_data):
    X, y = smooth_data
    model = EnsembleRegressor(learner="catboost", n_members=3)
    cv = fit_calibrated(model, X, y, n_splits=4)
    blob = model.to_bytes()
    doc = model_document(model, blob, "mixing_energy_per_atom", ["l1", "l2"], "magpie", "1", cv=cv)
    stored = doc.to_mongo()
    assert stored["_id"] == model_id(blob) and stored["kind"] == "ensemble-catboost"
    assert stored["cv"]["calibration"]["coverage_after"]["p95"] == cv.calibration.coverage_after.p95
    assert ModelDocument.from_mongo(stored) == doc
    again = load_model(doc.kind, blob)
    assert np.array_equal(again.predict(X), model.predict(X))
    assert again.std_scale == pytest.approx(cv.calibration.scale)
    with pytest.raises(AlloyscreenError, match="unknown model kind 'forest-rf'"):
        load_model("forest-rf", blob)


def test_documents_reject_dotted_keys_and_bad_values():
    base = dict(_id="m", kind="ensemble-xgboost", target="e", training_label_ids=[], size_bytes=1)
    with pytest.raises(ValidationError, match="contains '.'"):
        ModelDocument(**base, hyperparameters={"learner_params": {"a.b": 1}})
    with pytest.raises(ValidationError):
        PredictionDocument(
            _id="p",
            campaign_id="c",
            round=-1,
            model_id="m",
            candidate_id="x",
            target="e",
            mean=0.0,
            std=0.1,
            acquisition="ucb",
            score=1.0,
            rank=0,
        )
    selection = SelectionDocument(
        _id="s",
        campaign_id="c",
        stage="emt",
        round=2,
        candidate_id="x",
        acquisition="ucb",
        score=1.0,
        batch_position=0,
        reason="best score in the slice",
        model_id="m",
    )
    assert selection.to_mongo()["_id"] == "s"
