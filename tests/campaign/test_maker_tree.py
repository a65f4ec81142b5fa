"""The campaign as a tree of Makers: jobflow's update_maker_kwargs reaches one stage's settings."""

from __future__ import annotations

import shutil

import pytest

from alloyscreen.campaign.execution import run_here
from alloyscreen.campaign.flow import CampaignMaker, StageMaker
from alloyscreen.campaign.spec import load_spec
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.pseudo import DEFAULT_PSEUDO_DIR

pytestmark = pytest.mark.dft

CHEAP_LDA = {"functional": "PZ", "ecutwfc": 25.0, "ecutrho": 200.0, "kspacing": 0.8, "conv_thr": 1e-6}


def _spec():
    return load_spec({
        "name": "maker-tree", "seed": 3, "initial_random": 1, "confirm_top": 1,
        "candidates": {"elements": ["Cu", "Au"], "n_components": 2, "sampling": {"kind": "grid", "step": 0.5},
                       "prototype": "fcc"},
        "stages": [{"name": "screen", "calculator": "emt", "max_validations": 1,
                    "structure": {"method": "random", "supercell": [1, 1, 1]}},
                   {"name": "dft", "calculator": "qe", "max_validations": 1, "category": "dft", "settings": CHEAP_LDA,
                    "structure": {"method": "random", "supercell": [1, 1, 1]}}],
    })


def test_the_campaign_id_hashes_only_values_that_differ_from_their_defaults():
    spec = _spec()
    data = spec.model_dump(mode="json")
    assert load_spec({**data, "ranker": None, "initial_design": "random"}).campaign_id == spec.campaign_id
    assert load_spec({**data, "initial_design": "direct"}).campaign_id != spec.campaign_id


def test_stage_makers_round_trip_the_spec():
    spec = _spec()
    maker = CampaignMaker(stages=[StageMaker.from_spec(stage) for stage in spec.stages])
    assert maker.campaign(spec).campaign_id == spec.campaign_id
    assert [stage.validation.name for stage in maker.stages] == ["screen", "dft"]
    assert [(stage.structure.name, stage.structure.method) for stage in maker.stages] == [("screen", "random"),
                                                                                         ("dft", "random")]
    assert maker.stages[1].validation.mode == "vc-relax" and maker.stages[1].validation.category == "dft"


@pytest.mark.skipif(not shutil.os.path.isdir(DEFAULT_PSEUDO_DIR), reason="no QE pseudopotentials")
def test_update_maker_kwargs_changes_one_qe_setting_of_one_stage(database):
    spec = _spec()
    flow = CampaignMaker().make(spec)
    flow.update_maker_kwargs({"_set": {"settings->ecutwfc": 27.0}}, class_filter=ValidationMaker, name_filter="dft",
                             dict_mod=True)
    run_here(flow)
    changed = [stage for stage in flow.jobs[1].function_args[0].stages]
    assert changed[1].validation.settings["ecutwfc"] == 27.0 and "ecutwfc" not in changed[0].validation.settings
    campaign = database["campaigns"].find_one({"name": "maker-tree"})
    assert campaign["_id"] != spec.campaign_id  # another physics, another campaign
    assert campaign["spec"]["stages"][1]["settings"]["ecutwfc"] == 27.0 and campaign["status"] == "completed"
    dft = database["selections"].find_one({"campaign_id": campaign["_id"], "stage": "dft"})
    assert dft["outcome"]["status"] == "completed", dft["outcome"]
    label = database["labels"].find_one({"_id": dft["outcome"]["label_id"]})
    used = database["calculations"].find(
        {"_id": {"$in": label["calculation_ids"] + label["reference_calculation_ids"]}}, {"settings": 1})
    assert {doc["settings"]["ecutwfc"] for doc in used} == {27.0}  # the alloy and its Cu and Au references
    screen = database["selections"].find_one({"campaign_id": campaign["_id"], "stage": "screen"})
    assert database["calculations"].find_one({"_id": screen["outcome"]["calculation_id"]})["settings"]["fmax"] == 0.02
