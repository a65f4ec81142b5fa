"""Stages over a whole element pool: one physics per stage, references for every element, checks at load."""

from __future__ import annotations

import pytest

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.spec import load_spec
from alloyscreen.errors import AlloyscreenError


def _spec(elements: list[str], stage: dict) -> dict:
    return {"name": "pool", "candidates": {"elements": elements, "n_components": 2,
                                           "sampling": {"kind": "grid", "step": 0.5}, "prototype": "fcc"},
            "initial_random": 3, "stages": [{"name": "first", "max_validations": 3, **stage}]}


@pytest.mark.gnn
def test_a_chgnet_campaign_over_mn_and_co_labels_every_candidate(database):
    spec = load_spec(_spec(["Co", "Mn", "Ni"], {"calculator": "chgnet",
                                                "structure": {"method": "random", "supercell": [1, 1, 1]}}))
    run_here(CampaignMaker.from_spec(spec).make())
    selections = list(database["selections"].find({"campaign_id": spec.campaign_id}))
    assert len(selections) == 3 and all(s["outcome"]["status"] == "completed" for s in selections)
    label_ids = [s["outcome"]["label_ids"]["mixing_energy_per_atom"] for s in selections]
    labels = list(database["labels"].find({"_id": {"$in": label_ids}}))
    formulas = {database["candidates"].find_one({"_id": label["candidate_id"]})["formula"] for label in labels}
    assert formulas == {"Co0.5Mn0.5", "Co0.5Ni0.5", "Mn0.5Ni0.5"}
    # each element's ground state (Ashcroft & Mermin): hcp Co, fcc Ni; Mn (alpha-Mn not built): the lowest of three
    expected = {"Co": {"hcp"}, "Ni": {"fcc"}, "Mn": {"fcc", "bcc", "hcp"}}
    for label in labels:
        references = label["details"]["references"]
        assert label["details"]["reference_choice"] == "ground_state"
        for element, reference in references.items():
            crystals = {k: v for k, v in reference["candidates"].items() if v is not None}
            assert set(crystals) == expected[element], element
            assert reference["crystal"] == min(crystals, key=crystals.get), element
        assert sorted(label["reference_calculation_ids"]) == sorted(r["calculation_id"] for r in references.values())


def test_a_stage_with_references_search_relaxes_fcc_bcc_hcp_of_every_element(database):
    stage = {"calculator": "emt", "structure": {"method": "random", "supercell": [1, 1, 1]}}
    default = load_spec(_spec(["Cu", "Ni", "Pd"], stage))
    assert load_spec(_spec(["Cu", "Ni", "Pd"], {**stage, "references": "ground_state"})).campaign_id == \
        default.campaign_id  # the default is not hashed: existing campaigns keep their ids
    spec = load_spec(_spec(["Cu", "Ni", "Pd"], {**stage, "references": "search"}))
    assert spec.campaign_id != default.campaign_id and spec.stages[0].references == "search"
    run_here(CampaignMaker.from_spec(spec).make())
    selections = list(database["selections"].find({"campaign_id": spec.campaign_id}))
    assert len(selections) == 3 and all(s["outcome"]["status"] == "completed" for s in selections)
    for selection in selections:
        label = database["labels"].find_one({"_id": selection["outcome"]["label_ids"]["mixing_energy_per_atom"]})
        assert label["details"]["reference_choice"] == "search"
        for element, reference in label["details"]["references"].items():
            assert set(reference["candidates"]) == {"fcc", "bcc", "hcp"}, element
            assert reference["energy_per_atom"] == min(reference["candidates"].values()), element
    with pytest.raises(AlloyscreenError, match=r"references.*'ground_state' or 'search'"):
        load_spec(_spec(["Cu", "Ni"], {**stage, "references": "lowest"}))


@pytest.mark.parametrize(("elements", "stage", "message"), [
    (["Cu", "Fe"], {"calculator": "emt"}, r"stage 'first': emt cannot treat element\(s\) \['Fe'\]; allowed: Al"),
    (["Al", "Ni"], {"calculator": "emt"}, r"stage 'first': emt is unfit for Al: its Al-transition-metal mixing "
                                          r"energies are wrong in sign .*; allowed: a calculator that fits Al "
                                          r"\(chgnet, qe, vasp, sevennet, gpaw\), or accept_unfit: \[Al\] on the "
                                          r"stage"),
    (["Al", "Ni"], {"calculator": "emt", "accept_unfit": ["Cu"]},
     r"stage 'first': accept_unfit element 'Cu' is not in the element pool; allowed: Al, Ni"),
    (["Cu", "Pd"], {"calculator": "qe"}, r"stage 'first': no PBE pseudopotential for Pd in .*; available: "),
    (["Cu", "Ni"], {"calculator": "qe", "settings": {"ecutwfc": 40, "kspcing": 0.3}},
     r"stage 'first': unknown qe setting\(s\) \['kspcing'\]; allowed: "),
    (["Cu", "Cr"], {"calculator": "qe", "settings": {"functional": "PZ"}},
     r"stage 'first': no PZ pseudopotential for Cr"),
    (["Cu", "La"], {"calculator": "gpaw"}, r"stage 'first': no GPAW PBE setup for La in .*; available: Ag, "),
])
def test_a_stage_that_cannot_treat_its_pool_fails_when_the_spec_loads(database, elements, stage, message):
    before = {name: database[name].count_documents({}) for name in ("campaigns", "calculations")}
    with pytest.raises(AlloyscreenError, match=message) as error:
        load_spec(_spec(elements, stage))
    assert "\n" not in str(error.value)
    assert {name: database[name].count_documents({}) for name in before} == before


def test_an_emt_stage_that_would_label_h_adsorption_is_refused_unless_it_accepts_that():
    her = {"objectives": [{"property": "delta_g_h", "direction": "target", "target": 0.0}]}
    with pytest.raises(AlloyscreenError, match=r"stage 'first': emt is unfit for H: its H adsorption energies barely "
                                               r"depend on the metal .*; allowed: a calculator that fits H "
                                               r"\(chgnet, qe, vasp, sevennet, gpaw\), or accept_unfit: "
                                               r"\[H\]") as error:
        load_spec({**_spec(["Au", "Pt"], {"calculator": "emt"}), **her})
    assert "\n" not in str(error.value)
    accepted = load_spec({**_spec(["Au", "Pt"], {"calculator": "emt", "accept_unfit": ["H"]}), **her})
    assert accepted.element_pool == ["Au", "H", "Pt"]
    assert load_spec({**_spec(["Au", "Pt"], {"calculator": "chgnet"}), **her}).stages[0].accept_unfit == []


def test_a_site_kind_the_facet_cannot_have_is_refused_at_load():
    her = {"objectives": [{"property": "her_activity", "direction": "maximize"}]}
    stage = {"calculator": "chgnet", "slab": {"site_kinds": ["fcc", "hollow"]}}
    with pytest.raises(AlloyscreenError, match=r"stage 'first': site kind 'hollow' is not on the fcc slab's \(111\) "
                                               r"facet; allowed: top, bridge, fcc, hcp"):
        load_spec({**_spec(["Pd", "Pt"], stage), **her})
    bcc = _spec(["Fe", "Cr"], {"calculator": "chgnet"})
    assert load_spec({**bcc, "candidates": {**bcc["candidates"], "prototype": "bcc"}, **her})  # default kinds load


def test_a_stage_that_accepts_a_known_limit_loads():
    spec = load_spec(_spec(["Al", "Ni"], {"calculator": "emt", "accept_unfit": ["Al"]}))
    assert spec.stages[0].accept_unfit == ["Al"]
    assert load_spec(_spec(["Al", "Ni"], {"calculator": "chgnet"})).element_pool == ["Al", "Ni"]


def test_a_cluster_pseudopotential_directory_is_checked_where_the_stage_runs():
    spec = load_spec(_spec(["Cu", "Ni"], {"calculator": "qe", "settings": {"pseudo_dir": "/cluster/SSSP"}}))
    assert spec.element_pool == ["Cu", "Ni"]


def test_a_spec_with_an_element_7net0_lacks_fails_at_load():
    message = r"stage 'first': sevennet cannot treat element\(s\) \['Po'\]; allowed: H, "
    with pytest.raises(AlloyscreenError, match=message) as error:
        load_spec(_spec(["Cu", "Po"], {"calculator": "sevennet"}))
    assert "\n" not in str(error.value)
