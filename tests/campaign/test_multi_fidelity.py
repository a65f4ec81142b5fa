"""A multi-fidelity campaign: CHGNet labels inside the EMT loop teach a Δ model that changes the next picks."""

import numpy as np
import pytest
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.labels.history import stage_history
from alloyscreen.campaign.round.models import descriptor_matrix, load_stored_model
from alloyscreen.campaign.round.ranking import combine_through_delta
from alloyscreen.campaign.round.steps import RoundPlan, score_round
from alloyscreen.campaign.spec import load_spec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.multifidelity import expensive_count, expensive_moments, residual_prior
from alloyscreen.surrogates.potential import combine

pytestmark = [pytest.mark.gnn, pytest.mark.slow]

CELL = {"method": "random", "supercell": [1, 1, 1]}
SPEC = {
    "name": "multi-fidelity", "seed": 2,
    "candidates": {"elements": ["Al", "Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                   "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
    "initial_random": 6, "acquisition": {"batch_size": 3, "strategy": "ei", "diversity": "none"},
    "stopping": {"max_rounds": 8, "patience": 8},
    "fidelity": {"mode": "multi", "share": 0.1},  # one CHGNet label a round
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 30, "structure": CELL,
                "accept_unfit": ["Al"]},  # EMT wrong in sign for Al alloys: the CHGNet Δ is what corrects it
               {"name": "chgnet", "calculator": "chgnet", "mode": "static", "max_validations": 9,
                "structure": CELL}],
}


@pytest.fixture(scope="module")
def campaign(database):
    return run_to_the_end(SPEC)


def _mean_core_hours(outcomes):
    return float(np.mean([o.core_hours for o in outcomes])) if outcomes else None


def test_the_second_stage_labels_inside_the_loop_as_many_as_the_share_buys(database, campaign):
    selections = list(database["selections"].find({"campaign_id": campaign.campaign_id, "stage": "chgnet"}))
    rounds = sorted({s["round"] for s in selections})
    assert len(rounds) >= 2 and rounds[0] >= 1  # round 0 has no EMT label to start from
    assert {s["acquisition"] for s in selections} == {"multi-fidelity"}
    for round_index in rounds:
        cheap = stage_history(campaign.campaign_id, "emt", before_round=round_index)
        expensive = stage_history(campaign.campaign_id, "chgnet", before_round=round_index)
        chosen = [s for s in selections if s["round"] == round_index]
        cheap_ids = {o.candidate.id for o in cheap if o.value_of(campaign.target) is not None}
        assert {s["candidate_id"] for s in chosen} <= cheap_ids - {o.candidate.id for o in expensive}
        affordable = expensive_count(3, _mean_core_hours(cheap), _mean_core_hours(expensive), 0.1)
        assert len(chosen) == min(affordable, 9 - len(expensive), len(cheap_ids) - len(expensive))
    labelled = stage_history(campaign.campaign_id, "chgnet")
    assert len(labelled) == len(selections) and all(o.value_of(campaign.target) is not None for o in labelled)


def test_a_delta_model_learns_the_difference_and_changes_the_next_batch(database, campaign):
    deltas = list(database["models"].find({"provenance.campaign_id": campaign.campaign_id, "delta_baseline": "emt"}))
    assert deltas, "no Δ model was trained"
    later = database["selections"].find_one({"campaign_id": campaign.campaign_id, "stage": "chgnet",
                                             "model_id": {"$in": [d["_id"] for d in deltas]}})
    assert later is not None  # a second-stage batch was chosen with a Δ model
    round_index = later["round"]
    cheap_pick = database["selections"].find_one({"campaign_id": campaign.campaign_id, "stage": "emt",
                                                  "round": round_index})
    history = stage_history(campaign.campaign_id, "emt", before_round=round_index)
    plan = RoundPlan(round=round_index, model_id=cheap_pick["model_id"], delta_model_id=later["model_id"],
                     acquisition="ei", diversity="none", size=3, keep=40)
    with_delta = score_round(campaign, plan, history)
    ladder = load_spec({**SPEC, "fidelity": {"mode": "ladder"}})
    without = score_round(ladder, plan, history)
    assert with_delta.ids != without.ids  # the CHGNet labels reorder the EMT model's ranking
    common = [i for i in with_delta.ids if i in without.ids][:5]
    compositions = [with_delta.compositions[with_delta.ids.index(i)] for i in common]
    delta = load_stored_model(database, later["model_id"]).predict_moments(
        descriptor_matrix(compositions, campaign.descriptors))[0]
    shift = [with_delta.mean[with_delta.ids.index(i)] - without.mean[without.ids.index(i)] for i in common]
    assert shift == pytest.approx(delta) and np.ptp(delta) > 0  # Δ depends on the composition


def test_confirmation_after_the_loop_starts_past_the_second_stage(database, campaign):
    status = database["campaigns"].find_one({"_id": campaign.campaign_id})
    assert status["status"] == "completed"
    confirmations = database["selections"].count_documents({"campaign_id": campaign.campaign_id,
                                                            "acquisition": "confirm"})
    assert confirmations == 0  # two stages: the loop labelled at both, nothing is left to confirm


@pytest.mark.parametrize(("cheap", "expensive", "share", "count"), [
    (1e-4, 1e-3, 0.5, 1), (1e-3, 1e-3, 0.5, 10), (1e-3, 1e-3, 0.75, 30), (None, 1e-3, 0.5, 1), (1e-3, None, 0.5, 1),
    (2e-4, 1e-4, 0.2, 5),
])
def test_the_expensive_count_spends_the_share_of_core_hours(cheap, expensive, share, count):
    assert expensive_count(10, cheap, expensive, share) == count


def test_moments_and_prior():
    mean, std = expensive_moments([1.0, 2.0], [0.3, 0.0], [0.5, -1.0], [0.4, 0.2])
    assert mean == pytest.approx([1.5, 1.0]) and std == pytest.approx([0.5, 0.2])
    assert residual_prior([0.1, 0.3], [5.0]) == pytest.approx((0.2, np.std([0.1, 0.3], ddof=1)))
    assert residual_prior([], [1.0, 3.0]) == pytest.approx((0.0, np.std([1.0, 3.0], ddof=1)))


def test_a_ranker_re_ranks_the_first_stage_inside_the_loop(database):
    spec = run_to_the_end({**SPEC, "name": "multi-fidelity-ranked", "stopping": {"max_rounds": 4, "patience": 4},
                           "ranker": {"kind": "chgnet", "pool_factor": 2, "structure": CELL}})
    ranked = list(database["selections"].find({"campaign_id": spec.campaign_id, "stage": "emt",
                                               "ranker_id": {"$ne": None}}))
    assert ranked, "the ranker never re-ranked a round"
    expensive = database["selections"].count_documents({"campaign_id": spec.campaign_id, "stage": "chgnet"})
    assert expensive >= 1  # the loop still labels at the second stage
    for selection in ranked:
        predictions = list(database["predictions"].find({"campaign_id": spec.campaign_id,
                                                         "model_id": selection["ranker_id"]}))
        assert selection["candidate_id"] in {p["candidate_id"] for p in predictions}


def test_a_ranker_meets_the_trees_below_the_delta():
    trees_first, trees_first_std = np.array([-0.2, 0.1]), np.array([0.1, 0.3])
    delta_mean, delta_std = np.array([0.05, -0.1]), np.array([0.02, 0.05])
    mean, std = expensive_moments(trees_first, trees_first_std, delta_mean, delta_std)
    ranker_mean, ranker_std = np.array([-0.3, 0.2]), np.array([0.05, 0.1])
    combined, spread = combine_through_delta(mean, std, ranker_mean, ranker_std, delta_mean, delta_std, "precision")
    first, first_std = combine(trees_first, trees_first_std, ranker_mean, ranker_std, "precision")
    assert combined == pytest.approx(first + delta_mean)
    assert spread == pytest.approx(np.hypot(first_std, delta_std))
    zero = np.zeros(2)
    assert combine_through_delta(mean, std, ranker_mean, ranker_std, zero, zero, "ranker")[0] == pytest.approx(
        ranker_mean)


@pytest.mark.parametrize(("change", "message"), [
    ({"stages": SPEC["stages"][:1]}, "fidelity mode 'multi' needs two stages"),
    ({"objectives": [{"property": "mixing_energy"}, {"property": "cost"}]}, "fidelity mode 'multi' learns one "
                                                                            "objective"),
    ({"fidelity": {"mode": "multi", "share": 1.5}}, "share"),
])
def test_a_multi_fidelity_spec_it_cannot_run_is_refused_at_load(change, message):
    with pytest.raises(AlloyscreenError, match=message):
        load_spec({**SPEC, **change})
