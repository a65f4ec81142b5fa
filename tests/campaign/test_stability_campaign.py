"""A bulk campaign ranked by the energy above the hull of its competing phases, over single-phase candidates."""

import numpy as np
import pytest
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.spec import load_spec
from alloyscreen.candidates import CandidateSpace
from alloyscreen.descriptors import Compositions
from alloyscreen.descriptors.pairs import single_phase
from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.phases import HULL_PROPERTY, pool_hull
from alloyscreen.validation.targets import MixingEnergyMaker

pytestmark = pytest.mark.slow

POOL = ["Au", "Cu", "Ni", "Pt"]
SPEC = {
    "name": "hull-campaign", "seed": 1,
    "candidates": {"elements": POOL, "n_components": [2, 3], "sampling": {"kind": "grid", "step": 0.25},
                   "prototype": "fcc"},
    "objectives": [{"property": "energy_above_hull"}],
    "phases": {"single_phase": {"temperature": 1000}},
    "initial_random": 4, "acquisition": {"batch_size": 2, "strategy": "ei", "diversity": "none"},
    "stopping": {"max_rounds": 3, "patience": 3},
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 8,
                "structure": {"method": "random", "supercell": [1, 1, 1]}}],
}


@pytest.fixture(scope="module")
def campaign(database):
    return run_to_the_end(SPEC)


def test_only_single_phase_candidates_are_chosen_and_labelled_by_their_hull_distance(database, campaign):
    enthalpies = pool_hull(MixingEnergyMaker(validation=ValidationMaker(calculator="emt")), POOL).pair_enthalpies()
    space = np.concatenate([chunk.fractions for chunk in CandidateSpace(campaign.candidates).iter_chunks()])
    passes = single_phase(Compositions.from_dense(POOL, space), enthalpies, 1000.0)
    assert 0 < passes.sum() < len(passes)  # the filter removes some candidates, not all
    selections = list(database["selections"].find({"campaign_id": campaign.campaign_id}))
    chosen = [database["candidates"].find_one({"_id": s["candidate_id"]})["composition"] for s in selections]
    assert len(chosen) == 8 and single_phase(Compositions.from_dicts(chosen), enthalpies, 1000.0).all()
    labels = database["labels"].find({"_id": {"$in": [s["outcome"]["label_ids"][campaign.target] for s in selections]}})
    for label in labels:
        assert label["property"] == HULL_PROPERTY
        mixing = database["labels"].find_one({"_id": label["details"]["mixing_label_id"]})["value"]
        assert label["value"] >= mixing - 1e-12  # the hull lies at or below zero: E - E_hull >= E
        assert label["details"]["stabilization_temperature_k"] >= 0


def test_the_competing_phases_are_relaxed_in_a_job_of_their_stage_before_round_0():
    spec = load_spec({**SPEC, "phases": {"single_phase": {"temperature": 1000}, "stage": "dft"},
                      "stages": [*SPEC["stages"], {"name": "dft", "calculator": "emt", "max_validations": 1,
                                                   "category": "dft"}]})
    jobs = {job.name: job for job, _ in CampaignMaker.from_spec(spec).make().iterflow()}
    assert [name for name in jobs if name.startswith("phases")] == ["phases emt", "phases dft"]  # hull; filter
    assert [jobs[f"phases {name}"].config.manager_config["_category"] for name in ("emt", "dft")] == ["cheap", "dft"]
    assert jobs["phases dft"].function_args[2].uuid == jobs["phases emt"].uuid  # (maker, stage, campaign id)
    assert jobs["round 0"].function_args[1].uuid == jobs["phases dft"].uuid  # round 0 waits for both


@pytest.mark.parametrize(("change", "message"), [
    ({"phases": {"prototypes": ["L12"]}}, "unknown prototype 'L12'; allowed: L1_2"),
    ({"objectives": [{"property": "mixing_free_energy", "temperature": -5}]}, "temperature -5 K; allowed: 0 K"),
    ({"objectives": [{"property": "mixing_free_energy"}]}, "a temperature \\(K\\) is required"),
    ({"phases": {"stage": "dft"}}, "phases stage 'dft' is not a stage"),
    ({"phases": {"prototypes": ["B2", "B2"]}}, "without repeats"),
    ({"objectives": [{"property": "mixing_energy"}], "phases": {"single_phase": {}},
      "stages": [{"name": "dft", "calculator": "vasp", "max_validations": 2}]}, "runs only as a workflow"),
    ({"phases": {}, "stages": [{"name": "dft", "calculator": "vasp", "max_validations": 2}]},
     "labels mixing_energy only"),
])
def test_a_stability_spec_it_cannot_run_is_refused_at_load(change, message):
    with pytest.raises(AlloyscreenError, match=message):
        load_spec({**SPEC, **change})
