"""The spread's scale is refitted when the labels have grown by a quarter, on a stage's first model and for the
final model; in between the last scale is reused and its age recorded. Real EMT labels, the embedded database."""

from __future__ import annotations

import pytest
from tests.campaign.checks import run_to_the_end
from tests.campaign.test_model_selection import _emt_table, _models, _spec

from alloyscreen.campaign.round.models import RECALIBRATE_GROWTH, descriptor_matrix, train_surrogate
from alloyscreen.campaign.spec import load_spec
from alloyscreen.schemas.model import ModelDocument
from alloyscreen.surrogates.ensemble import EnsembleRegressor, model_id


def test_the_scale_is_reused_until_the_labels_grow_by_a_quarter(database):
    assert RECALIBRATE_GROWTH == 0.25
    compositions, y = _emt_table(database, 16)
    spec = load_spec(_spec("calibration-rule"))

    def train(n: int, round_index: int, **kwargs) -> ModelDocument:
        stored = train_surrogate(spec, compositions[:n], list(y[:n]), [f"label-{i}" for i in range(n)],
                                 round_index, **kwargs)
        return ModelDocument.from_mongo(database["models"].find_one({"_id": stored}))

    first = train(10, 1)  # the first calibrated model of this target: cross-validated
    assert first.cv is not None and first.cv.calibration is not None and first.calibrated_at_labels == 10
    assert first.hyperparameters["std_scale"] == first.cv.calibration.scale != 1.0

    reused = train(12, 2)  # 12 < 10 x 1.25: the scale of 10 labels, no cross-validation
    assert reused.cv is None and reused.calibrated_at_labels == 10
    assert reused.hyperparameters["std_scale"] == first.hyperparameters["std_scale"]
    model = EnsembleRegressor("xgboost", 5, random_state=spec.seed + 2, std_scale=first.hyperparameters["std_scale"])
    assert reused.id == model_id(model.fit(descriptor_matrix(compositions[:12], spec.descriptors), y[:12]).to_bytes())

    grown = train(13, 3)  # 13 >= 12.5: refitted
    assert grown.cv is not None and grown.calibrated_at_labels == 13
    assert grown.hyperparameters["std_scale"] == grown.cv.calibration.scale

    assert train(14, 4).calibrated_at_labels == 13  # reused again
    final = train(15, 5, final=True)  # the final model: refitted however little the labels grew
    assert final.cv is not None and final.calibrated_at_labels == 15

    other = train(11, 6, delta_baseline="emt")  # another lineage (a Δ model): its own first calibration
    assert other.cv is not None and other.calibrated_at_labels == 11


def test_an_uncalibrated_surrogate_records_no_scale(database):
    compositions, y = _emt_table(database, 10)
    spec = load_spec(_spec("calibration-off", {"calibrate": False}))
    stored = train_surrogate(spec, compositions, list(y), [f"label-{i}" for i in range(10)], 1)
    document = ModelDocument.from_mongo(database["models"].find_one({"_id": stored}))
    assert document.calibrated_at_labels is None and document.hyperparameters["std_scale"] == pytest.approx(1.0)


def test_a_campaign_calibrates_its_first_and_final_models_and_reuses_the_scale_in_between(database):
    """9 random labels, then one a round up to 12: models on 9 (first), 10 (reused: < 9 x 1.25) and 11 labels
    (the final one, whose batch spends the budget: refitted although 11 < 11.25)."""
    spec = run_to_the_end({**_spec("calibration-campaign", validations=12), "initial_random": 9,
                           "acquisition": {"batch_size": 1, "strategy": "ucb"}})
    models = _models(database, spec.campaign_id)
    assert [len(m.training_label_ids) for m in models] == [9, 10, 11]
    assert [m.calibrated_at_labels for m in models] == [9, 9, 11]
    assert [m.cv is not None for m in models] == [True, False, True]
