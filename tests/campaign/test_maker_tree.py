"""The campaign as a tree of Makers: jobflow's update_maker_kwargs reaches one stage's settings."""

from __future__ import annotations

import shutil

import pytest

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import CampaignMaker, StageMaker
from alloyscreen.campaign.spec import CampaignSpec, load_spec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.makers import StructureMaker
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.pseudo import DEFAULT_PSEUDO_DIR
from alloyscreen.validation.targets import MixingEnergyMaker

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


def test_the_spec_builds_the_tree_once_and_every_maker_of_a_stage_is_a_field():
    spec = _spec()
    maker = CampaignMaker.from_spec(spec)
    assert maker.campaign() is spec  # the tree is the spec's own: the same campaign
    assert [stage.validation.name for stage in maker.stages] == ["screen", "dft"]
    assert [(stage.structure.name, stage.structure.method, stage.structure.seed) for stage in maker.stages] == [
        ("screen", "random", 3), ("dft", "random", 3)]
    assert [(stage.slab.name, stage.slab.method) for stage in maker.stages] == [("screen slab", "slab"),
                                                                               ("dft slab", "slab")]
    label = maker.stages[1].labels["mixing_energy_per_atom"]
    assert isinstance(label, MixingEnergyMaker) and label.validation == maker.stages[1].validation
    assert label.pool == ["Au", "Cu"] and maker.stages[1].validation.category == "dft"
    stored = CampaignMaker.from_dict(maker.as_dict()).campaign()  # through a store and back
    assert stored == spec and stored.campaign_id == spec.campaign_id
    changed = maker.update_kwargs({"_set": {"max_validations": 2}}, class_filter=StageMaker, name_filter="dft",
                                  dict_mod=True)
    assert changed.campaign().stages[1].max_validations == 2 and changed.campaign().campaign_id != spec.campaign_id
    apart = maker.update_kwargs({"_set": {"validation->settings->ecutwfc": 27.0}}, class_filter=MixingEnergyMaker,
                                name_filter="dft", dict_mod=True)
    with pytest.raises(AlloyscreenError, match="stage 'dft' were changed apart from each other"):
        apart.campaign()
    with pytest.raises(AlloyscreenError, match=r"no spec; allowed: CampaignMaker.from_spec\(spec\)"):
        CampaignMaker().make()
    drivers = [job for job, _ in maker.make().iterflow()]
    assert drivers and all(not isinstance(arg, CampaignSpec) for job in drivers
                           for arg in [*job.function_args, *job.function_kwargs.values()])  # jobs get the Maker only


@pytest.mark.dft
@pytest.mark.skipif(not shutil.os.path.isdir(DEFAULT_PSEUDO_DIR), reason="no QE pseudopotentials")
def test_update_maker_kwargs_changes_one_qe_setting_of_one_stage(database):
    spec = _spec()
    flow = CampaignMaker.from_spec(spec).make()
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
    label = database["labels"].find_one({"_id": dft["outcome"]["label_ids"]["mixing_energy_per_atom"]})
    used = database["calculations"].find(
        {"_id": {"$in": label["calculation_ids"] + label["reference_calculation_ids"]}}, {"settings": 1})
    assert {doc["settings"]["ecutwfc"] for doc in used} == {27.0}  # the alloy and its Cu and Au references
    screen = database["selections"].find_one({"campaign_id": campaign["_id"], "stage": "screen"})
    cheap = screen["outcome"]["calculation_ids"]["mixing_energy_per_atom"]
    assert database["calculations"].find_one({"_id": cheap})["settings"]["fmax"] == 0.02


def test_update_maker_kwargs_changes_one_slab_setting_of_one_stage(database):
    slab = {"size": [2, 2], "layers": 3, "fixed_layers": 1, "vacuum": 8.0, "max_sites": 1}
    spec = load_spec({
        "name": "maker-tree-slab", "seed": 2, "initial_random": 1, "confirm_top": 1,
        "candidates": {"elements": ["Pt", "Cu"], "n_components": 2, "sampling": {"kind": "grid", "step": 0.5},
                       "prototype": "fcc"},
        "objectives": [{"property": "delta_g_h", "direction": "target", "target": 0.0}],
        "stages": [{"name": "her", "calculator": "emt", "max_validations": 1, "slab": slab, "accept_unfit": ["H"]},
                   {"name": "her-check", "calculator": "emt", "max_validations": 1, "slab": slab,
                    "accept_unfit": ["H"]}],
    })
    flow = CampaignMaker.from_spec(spec).make()
    flow.update_maker_kwargs({"_set": {"slab->layers": 4}}, class_filter=StructureMaker, name_filter="her slab",
                             dict_mod=True)
    run_here(flow)
    campaign = database["campaigns"].find_one({"name": "maker-tree-slab"})
    assert campaign["_id"] != spec.campaign_id and campaign["status"] == "completed"
    assert [stage["slab"]["layers"] for stage in campaign["spec"]["stages"]] == [4, 3]
    for stage, layers in (("her", 4), ("her-check", 3)):
        selection = database["selections"].find_one({"campaign_id": campaign["_id"], "stage": stage})
        assert selection["outcome"]["status"] == "completed", selection["outcome"]
        made = database["structures"].find_one({"_id": selection["outcome"]["structure_ids"]["delta_g_h"]})
        heights = {round(site["xyz"][2], 1) for site in made["structure"]["sites"]}
        assert made["kind"] == "slab" and len(heights) == layers
