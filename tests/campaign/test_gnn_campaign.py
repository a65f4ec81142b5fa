"""A matgl MEGNet trained on a tiny EMT campaign's relaxed structures, stored and reloaded by id."""

import logging

import numpy as np
import pytest
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.results.queries import campaign_labels
from alloyscreen.campaign.round.gnn import campaign_gnn_data, train_campaign_gnn
from alloyscreen.campaign.round.models import load_stored_model
from alloyscreen.campaign.spec import GnnSpec, load_spec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.gnn import MatglRegressor

pytestmark = [pytest.mark.gnn, pytest.mark.slow]

TINY = {"epochs": 4, "batch_size": 5, "lr": 1e-2}


@pytest.fixture(scope="module")
def gnn_campaign(database):
    """10 EMT labels (4-atom random cells), the best 6 validated again in 8-atom cells."""
    spec = load_spec({
        "name": "gnn-campaign", "seed": 2,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 10, "confirm_top": 6,
        "stages": [
            {"name": "emt", "calculator": "emt", "max_validations": 10,
             "structure": {"method": "random", "supercell": [1, 1, 1]}},
            {"name": "emt-8", "calculator": "emt", "max_validations": 6,
             "structure": {"method": "random", "supercell": [1, 1, 2]}},
        ],
        "gnn": {**TINY, "cv_folds": 3},
    })
    run_to_the_end(spec)
    return spec


def test_gnn_on_campaign_labels_reloads_by_id(database, gnn_campaign):
    spec = gnn_campaign
    trained_by_the_flow = database["models"].find_one({"provenance.campaign_id": spec.campaign_id,
                                                       "kind": "matgl-megnet"})
    document = train_campaign_gnn(database, spec)
    assert trained_by_the_flow["_id"] == document.id  # the campaign's last job trained the same network
    stored = database["models"].find_one({"_id": document.id})
    assert stored["kind"] == "matgl-megnet" and stored["target"] == "mixing_energy_per_atom"
    assert stored["provenance"]["campaign_id"] == spec.campaign_id
    labels = [row for row in campaign_labels(database, spec.campaign_id) if row["stage"] == "emt"]
    assert len(labels) == 10 and stored["training_label_ids"] == [row["label_id"] for row in labels]
    assert stored["cv"]["n_labels"] == 10 and stored["cv"]["n_splits"] == 3 and stored["cv"]["mae"] > 0
    assert stored["hyperparameters"]["element_types"] == ["Cu", "Ni", "Pd", "Au"]

    data = campaign_gnn_data(database, spec, spec.gnn)
    final = [database["calculations"].find_one({"_id": row["calculation_id"]})["final_structure"] for row in labels]
    assert [s.as_dict()["sites"] for s in data.structures] == [f["sites"] for f in final]  # relaxed geometries
    loaded = load_stored_model(database, document.id)
    retrained = MatglRegressor(**document.hyperparameters).fit(data.structures, data.y)
    assert np.array_equal(loaded.predict(data.structures), retrained.predict(data.structures))
    assert train_campaign_gnn(database, spec).id == document.id  # same labels, same seed: stored once


def test_delta_learning_between_two_stages(database, gnn_campaign):
    spec = gnn_campaign
    gnn = GnnSpec(**TINY, stage="emt-8", delta_from="emt", min_labels=5)
    document = train_campaign_gnn(database, spec, gnn)
    assert document.target == "delta_mixing_energy_per_atom:emt-8-emt" and document.delta_baseline == "emt"
    assert document.cv is None  # 6 labels: too few for 3 folds of 5 training labels each
    data = campaign_gnn_data(database, spec, gnn)
    by_stage = {}
    for row in campaign_labels(database, spec.campaign_id):
        by_stage.setdefault(row["stage"], {})[row["candidate_id"]] = row
    assert len(data.y) == 6 and set(by_stage["emt-8"]) <= set(by_stage["emt"])
    np.testing.assert_array_equal(data.baseline, [by_stage["emt"][c]["value"] for c in by_stage["emt-8"]])
    assert document.training_label_ids == ([row["label_id"] for row in by_stage["emt-8"].values()]
                                           + [by_stage["emt"][c]["label_id"] for c in by_stage["emt-8"]])
    model = load_stored_model(database, document.id)
    with pytest.raises(AlloyscreenError, match="pass baseline="):
        model.predict(data.structures)
    correction = model.predict(data.structures, baseline=np.zeros(6))
    np.testing.assert_allclose(model.predict(data.structures, baseline=data.baseline), data.baseline + correction)


def test_too_few_labels_or_unknown_stage(database, gnn_campaign, caplog):
    with caplog.at_level(logging.WARNING, logger="alloyscreen.campaign.round.gnn"):
        assert train_campaign_gnn(database, gnn_campaign, GnnSpec(stage="emt-8", min_labels=7)) is None
    assert "6 labels of stage 'emt-8', 7 needed" in caplog.text
    with pytest.raises(AlloyscreenError, match="gnn stage 'dft' is not a stage of campaign 'gnn-campaign'"):
        train_campaign_gnn(database, gnn_campaign, GnnSpec(delta_from="dft"))
