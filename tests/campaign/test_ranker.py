"""A CHGNet ranker re-ranks the trees' top slice of an EMT campaign: calibrated, recorded, deciding the batch."""

import numpy as np
import pytest
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.results.report import load_report_data, render_report
from alloyscreen.campaign.round.models import load_stored_model
from alloyscreen.campaign.round.ranking import _baselines
from alloyscreen.campaign.spec import load_spec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.bulk import random_solid_solution
from alloyscreen.surrogates.finetune import FineTunedChgnet
from alloyscreen.surrogates.gnn import GnnEnsemble
from alloyscreen.surrogates.potential import CalibratedPotential, PotentialCommittee

pytestmark = [pytest.mark.gnn, pytest.mark.slow]

SPEC = {
    "name": "ranker-campaign", "seed": 4,
    "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                   "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
    "initial_random": 6, "acquisition": {"batch_size": 2, "strategy": "greedy", "diversity": "none"},
    "stopping": {"max_rounds": 3, "patience": 3},
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 10,
                "structure": {"method": "random", "supercell": [1, 1, 1]}}],
    "ranker": {"kind": "chgnet", "pool_factor": 3, "combine": "ranker",
               "structure": {"method": "random", "supercell": [1, 1, 1]}},
}


@pytest.fixture(scope="module")
def ranked_campaign(database):
    return run_to_the_end(SPEC)


def test_the_calibrated_potential_chooses_each_batch_and_is_recorded(database, ranked_campaign):
    spec = ranked_campaign
    selections = list(database["selections"].find({"campaign_id": spec.campaign_id}, sort=[("round", 1)]))
    assert [s["ranker_id"] for s in selections if s["round"] == 0] == [None] * 6  # random round: no ranker
    later = [s for s in selections if s["round"] > 0]
    assert len(later) == 4 and all(s["ranker_id"] for s in later)
    for round_index in (1, 2):
        chosen = [s for s in later if s["round"] == round_index]
        ranker_id = chosen[0]["ranker_id"]
        model = database["models"].find_one({"_id": ranker_id})
        assert model["kind"] == "potential-chgnet" and len(model["training_label_ids"]) == 6 + 2 * (round_index - 1)
        ranked = list(database["predictions"].find({"campaign_id": spec.campaign_id, "model_id": ranker_id}))
        assert len(ranked) == 6  # pool_factor 3 x batch 2
        lowest = sorted(ranked, key=lambda p: p["mean"])[:2]  # greedy on the potential alone, minimizing
        assert {s["candidate_id"] for s in chosen} == {p["candidate_id"] for p in lowest}
        assert all(p["std"] > 0 for p in ranked)


def test_the_calibration_is_a_line_through_the_labels(database, ranked_campaign):
    selections = database["selections"].find({"campaign_id": ranked_campaign.campaign_id, "round": 2})
    model = load_stored_model(database, next(selections)["ranker_id"])
    assert isinstance(model, CalibratedPotential) and model.n_train_ == 8
    assert model.slope_ > 0  # EMT and CHGNet agree in the sign of Cu-Ni-Pd-Au mixing trends
    mean, std = model.predict_moments([0.0, 0.1])
    assert mean[1] - mean[0] == pytest.approx(0.1 * model.slope_) and std[0] == std[1] == model.spread_


def test_leave_one_out_spread_of_an_exact_line_is_zero():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    model = CalibratedPotential().fit(x, 2 * x - 1)
    assert model.slope_ == pytest.approx(2) and model.intercept_ == pytest.approx(-1)
    assert model.spread_ == pytest.approx(0, abs=1e-9)
    assert CalibratedPotential.from_bytes(model.to_bytes()).to_bytes() == model.to_bytes()


@pytest.fixture(scope="module")
def network_campaign(database):
    spec = load_spec({**SPEC, "name": "network-ranker", "stopping": {"max_rounds": 4, "patience": 4},
                      "stages": [{**SPEC["stages"][0], "max_validations": 12}],
                      "ranker": {"kind": "matgl", "members": 2, "epochs": 5, "pool_factor": 3, "combine": "ranker",
                                 "min_labels": 5, "structure": {"method": "random", "supercell": [1, 1, 1]}}})
    run_to_the_end(spec)
    return spec


def test_a_matgl_ensemble_trained_each_round_chooses_the_batch(database, network_campaign):
    selections = list(database["selections"].find({"campaign_id": network_campaign.campaign_id, "round": {"$gt": 0}}))
    assert sorted(s["round"] for s in selections) == [1, 1, 2, 2, 3, 3]
    scales = []
    for round_index in (1, 2, 3):
        chosen = [s for s in selections if s["round"] == round_index]
        model = database["models"].find_one({"_id": chosen[0]["ranker_id"]})
        assert model["kind"] == "gnn-megnet" and len(model["training_label_ids"]) == 6 + 2 * (round_index - 1)
        scales.append(model["hyperparameters"]["std_scale"])
        ranked = list(database["predictions"].find({"model_id": model["_id"],
                                                    "campaign_id": network_campaign.campaign_id}))
        assert len(ranked) == 6 and all(p["std"] > 0 for p in ranked)
        lowest = sorted(ranked, key=lambda p: p["mean"])[:2]
        assert {s["candidate_id"] for s in chosen} == {p["candidate_id"] for p in lowest}
    # rounds 1 and 2 have fewer than 3 earlier predictions with a later label; round 3 has 4
    assert scales[:2] == [1.0, 1.0] and scales[2] != 1.0
    ensemble = load_stored_model(database, selections[-1]["ranker_id"])
    assert isinstance(ensemble, GnnEnsemble) and len(ensemble.members_) == 2


@pytest.fixture(scope="module")
def fine_tuned_campaign(database):
    return run_to_the_end({**SPEC, "name": "fine-tuned-ranker", "stopping": {"max_rounds": 3, "patience": 3},
                           "stages": [{**SPEC["stages"][0], "max_validations": 10}],
                           "ranker": {"kind": "chgnet-finetune", "members": 2, "epochs": 8, "pool_factor": 3,
                                      "combine": "ranker", "min_labels": 5,
                                      "structure": {"method": "random", "supercell": [1, 1, 1]}}})


def test_chgnet_fine_tuned_on_the_labels_chooses_the_batch_and_learns_them(database, fine_tuned_campaign):
    spec = fine_tuned_campaign
    chosen = list(database["selections"].find({"campaign_id": spec.campaign_id, "round": 2}))
    model = database["models"].find_one({"_id": chosen[0]["ranker_id"]})
    assert model["kind"] == "finetune-chgnet" and len(model["training_label_ids"]) == 8
    ranked = list(database["predictions"].find({"model_id": model["_id"], "campaign_id": spec.campaign_id}))
    lowest = sorted(ranked, key=lambda p: p["mean"])[:2]
    assert {s["candidate_id"] for s in chosen} == {p["candidate_id"] for p in lowest}
    tuned = load_stored_model(database, model["_id"])
    assert isinstance(tuned, FineTunedChgnet) and len(tuned.states_) == 2
    ids = [p["candidate_id"] for p in ranked]
    candidates = {c["_id"]: c for c in database["candidates"].find({"_id": {"$in": ids}})}
    structures = [random_solid_solution(candidates[p["candidate_id"]]["composition"], "fcc", supercell=(1, 1, 1),
                                        seed=spec.seed).structure for p in ranked]
    mean, _ = tuned.predict_moments(structures, _baselines(spec, structures))
    assert mean == pytest.approx([p["mean"] for p in ranked], abs=1e-5)  # reloaded: the same network


def test_fine_tuning_moves_chgnet_toward_the_labels(database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    structures = [random_solid_solution(c, "fcc", supercell=(1, 1, 1), seed=0).structure
                  for c in ({"Cu": 0.5, "Au": 0.5}, {"Cu": 0.75, "Ni": 0.25}, {"Ni": 0.5, "Pd": 0.5},
                            {"Pd": 0.25, "Au": 0.75}, {"Cu": 0.25, "Pd": 0.75})]
    labels = np.array([0.1, -0.1, 0.05, -0.05, 0.0])  # not CHGNet's own mixing energies
    spec = load_spec(SPEC)
    baselines = _baselines(spec, structures)
    before = FineTunedChgnet(n_members=2, epochs=1, lr=1e-9).fit(structures, labels, baselines)
    after = FineTunedChgnet(n_members=2, epochs=30, batch_size=2).fit(structures, labels, baselines)
    error = [np.abs(m.predict_moments(structures, baselines)[0] - labels).mean() for m in (before, after)]
    assert error[1] < 0.5 * error[0]
    assert not list(tmp_path.iterdir())  # no checkpoint left behind in the working directory


@pytest.mark.parametrize(("change", "message"), [
    ({"ranker": {"kind": "emt"}}, "unknown ranker 'emt'; allowed: chgnet, sevennet, matgl, chgnet-finetune"),
    ({"ranker": {"kind": "chgnet-finetune", "second": "sevennet"}}, "allowed: none with a trained ranker"),
    ({"objectives": [{"property": "mixing_energy"}, {"property": "cost"}]},
     "re-ranks single-objective campaigns"),
    ({"ranker": {"kind": "chgnet", "min_labels": 2}}, "ranker.min_labels"),
])
def test_bad_rankers_fail_at_load(change, message):
    with pytest.raises(AlloyscreenError, match=message):
        load_spec({**SPEC, **change})


def test_the_report_shows_the_ranker_against_later_labels(database, ranked_campaign):
    data = load_report_data(database, ranked_campaign.campaign_id)
    assert len(data.ranker_predictions) == 12 and not data.predictions.model_id.isin(
        data.ranker_predictions.model_id).any()
    page = render_report(data)
    assert "Ranker against validation" in page and "ranker parity" in page and "leave-one-out MAE" in page


@pytest.fixture(scope="module")
def committee_campaign(database):
    return run_to_the_end({**SPEC, "name": "committee-ranker", "ranker": {**SPEC["ranker"], "second": "sevennet"}})


def test_two_potentials_make_a_committee_whose_disagreement_widens_the_spread(database, committee_campaign):
    spec = committee_campaign
    ranker_id = database["selections"].find_one({"campaign_id": spec.campaign_id, "round": 2})["ranker_id"]
    assert database["models"].find_one({"_id": ranker_id})["kind"] == "committee-chgnet-sevennet"
    committee = load_stored_model(database, ranker_id)
    assert isinstance(committee, PotentialCommittee) and committee.potentials == ["chgnet", "sevennet"]
    ranked = list(database["predictions"].find({"campaign_id": spec.campaign_id, "model_id": ranker_id}))
    floor = committee.std_scale * np.sqrt(np.mean([member.spread_ ** 2 for member in committee.members]))
    assert ranked and all(p["std"] >= floor - 1e-12 for p in ranked)
    assert max(p["std"] for p in ranked) > floor  # somewhere the two potentials disagree
    mean, std = committee.predict_moments([[0.0, 0.1]])
    members = [m.predict_moments([v])[0][0] for m, v in zip(committee.members, (0.0, 0.1), strict=True)]
    assert mean[0] == pytest.approx(np.mean(members))
    assert std[0] ** 2 == pytest.approx(floor ** 2 + committee.std_scale ** 2 * np.var(members))


@pytest.mark.parametrize("second", ["chgnet", "matgl", "emt"])
def test_a_second_potential_must_be_another_universal_potential(second):
    with pytest.raises(AlloyscreenError, match=f"second potential '{second}' for ranker 'chgnet'; allowed: sevennet"):
        load_spec({**SPEC, "ranker": {**SPEC["ranker"], "second": second}})
