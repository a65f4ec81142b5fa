"""A real, tiny hydrogen-evolution campaign with EMT: dG_H on (111) slabs, target 0."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from monty.json import MontyDecoder
from pymatgen.core import Structure
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import StageMaker, label_job
from alloyscreen.campaign.labels.labelling import Candidate, LabelOutcome
from alloyscreen.campaign.results.queries import campaign_labels, campaign_status, top_candidates
from alloyscreen.campaign.results.report import write_report
from alloyscreen.campaign.round.models import load_stored_model
from alloyscreen.campaign.spec import SlabSpec, StageSpec, load_spec
from alloyscreen.catalysis.activity import her_activity
from alloyscreen.db.stores import get_job_store
from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures import find_sites, make_slab
from alloyscreen.structures.adsorption import choose_sites
from alloyscreen.surrogates.sites import most_uncertain_sites
from alloyscreen.validation.adsorption import AdsorptionMaker

pytestmark = pytest.mark.gnn

FLOWS = Path(__file__).resolve().parents[2] / "flows"
COLLECTIONS = ("structures", "calculations", "labels", "models", "selections")
SLAB = {"size": [2, 2], "layers": 3, "fixed_layers": 1, "vacuum": 10.0, "max_sites": 2}


def _her_spec(name: str) -> dict:
    return {
        "name": name, "seed": 1,
        "candidates": {"elements": ["Pt", "Pd", "Cu", "Au"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "objectives": [{"property": "delta_g_h", "direction": "target", "target": 0.0}],
        "initial_random": 3, "acquisition": {"batch_size": 2, "strategy": "ucb"},
        "stages": [
            {"name": "emt", "calculator": "emt", "max_validations": 7, "slab": SLAB, "accept_unfit": ["H"]},
            {"name": "emt-3-sites", "calculator": "emt", "max_validations": 1, "slab": {**SLAB, "max_sites": 3},
             "accept_unfit": ["H"]},
        ],
        "confirm_top": 1,
    }


def test_a_campaign_maximises_the_her_activity_of_each_candidate_s_computed_site_distribution(database, tmp_path):
    data = _her_spec("her-activity")
    data["objectives"] = [{"property": "her_activity", "direction": "maximize"}]
    data["stages"] = [{"name": "emt", "calculator": "emt", "max_validations": 7, "accept_unfit": ["H"],
                       "slab": {**SLAB, "max_sites": 2, "site_kinds": ["fcc"], "site_choice": "uncertain"}}]
    spec = load_spec({**data, "initial_random": 5, "confirm_top": 0})
    assert (spec.target, spec.target_unit, spec.element_pool) == ("her_activity", "k0/site", ["Au", "Cu", "H", "Pd",
                                                                                             "Pt"])
    run_to_the_end(spec)
    labels = campaign_labels(database, spec.campaign_id)
    assert len(labels) == 7
    # after the random round, the site model of the computed sites ranks the candidates by their surfaces' activity
    site_model = database["models"].find_one({"provenance.campaign_id": spec.campaign_id, "kind": "site-xgboost"})
    assert site_model["target"] == "her_activity" and site_model["feature_set"] == "alloyscreen-sites-v1"
    assert site_model["hyperparameters"]["kinds"] == {"H": ["fcc"]} and len(site_model["training_label_ids"]) >= 5
    chosen = database["selections"].find({"campaign_id": spec.campaign_id, "round": {"$gte": 1}})
    assert {s["model_id"] for s in chosen} <= {m["_id"] for m in database["models"].find({"kind": "site-xgboost"})}
    for row in labels:
        label = database["labels"].find_one({"_id": row["label_id"]})
        sites = label["details"]["sites"]
        assert (label["property"], label["unit"], len(sites)) == ("her_activity", "k0/site", 2)  # 2 of 4 fcc
        assert label["value"] == pytest.approx(float(her_activity(np.array([site["energy"] for site in sites]))))
        assert all(site["kind"] == "fcc" and sum(site["site"]["site_counts"].values()) == 3 for site in sites)
    for selection in database["selections"].find({"campaign_id": spec.campaign_id, "round": {"$gte": 1}}):
        # site-level active learning: the round's site model chose the 2 fcc sites its members disagree on most
        model = load_stored_model(database, selection["model_id"])
        slab = Structure.from_dict(database["structures"].find_one(
            {"_id": selection["outcome"]["structure_ids"]["her_activity"]})["structure"])
        on_slab = find_sites(slab)
        expected = [on_slab[i].position for i in most_uncertain_sites(model.ensembles["H"], on_slab, ["fcc"], 2,
                                                                       model.elements)]
        label = database["labels"].find_one({"_id": selection["outcome"]["label_ids"]["her_activity"]})
        assert np.allclose([site["position"] for site in label["details"]["sites"]], expected)
    ranked = top_candidates(database, spec.campaign_id, count=7)
    assert [row["emt"] for row in ranked] == sorted((row["value"] for row in labels), reverse=True)
    report = write_report(database, spec.campaign_id, tmp_path / "report.html").read_text()
    sites = report[report.index('<h2 id="sites">'):]
    assert 'alt="sites"' in sites and "piecewise-linear baseline" in sites and "Pt (pure)" in sites
    assert f"{ranked[0]['formula']}</td>" in sites  # the best candidate's row of computed and predicted activity


def test_her_campaign_labels_delta_g_h_ranks_by_distance_to_zero_and_reruns_for_free(database):
    spec = load_spec(_her_spec("her"))
    assert (spec.target, spec.target_unit) == ("delta_g_h", "eV")
    run_to_the_end(spec)
    status = campaign_status(database, spec.campaign_id)
    assert status["status"] == "completed" and not status["failures"]
    assert [s["validations"] for s in status["stages"]] == [7, 1]
    assert database["models"].find_one({"provenance.campaign_id": spec.campaign_id})["target"] == "delta_g_h"
    labels = campaign_labels(database, spec.campaign_id)
    assert len(labels) == 8 and {row["property"] for row in labels} == {"delta_g_h"}
    for row in labels:
        label = database["labels"].find_one({"_id": row["label_id"]})
        sites = label["details"]["sites"]
        assert label["property"] == "delta_g_h" and label["unit"] == "eV"
        assert len(sites) == (2 if row["stage"] == "emt" else 3)
        assert all(math.isfinite(site["energy"]) for site in sites)
        assert label["value"] == pytest.approx(min(site["energy"] for site in sites)) == row["value"]
        assert database["structures"].find_one({"_id": row["structure_id"]})["kind"] == "slab"
        assert row["calculation_id"] == label["reference_calculation_ids"][0]  # the clean slab
        clean = database["calculations"].find_one({"_id": row["calculation_id"]})
        assert row["structure_id"] in clean["provenance"]["parents"]
        assert clean["provenance"]["parents"][-1] == row["candidate_id"]
    selections = database["selections"].find({"campaign_id": spec.campaign_id})
    assert all(s["outcome"]["status"] == "completed" and s["outcome"]["label_ids"]["delta_g_h"] for s in selections)
    ranked = top_candidates(database, spec.campaign_id, count=7)
    distances = [abs(row["emt"]) for row in ranked]
    assert len(ranked) == 7 and distances == sorted(distances)
    assert "emt-3-sites" in ranked[0]  # the confirmation went to the candidate closest to 0
    before = {name: database[name].count_documents({}) for name in COLLECTIONS}
    run_to_the_end(spec)
    assert {name: database[name].count_documents({}) for name in COLLECTIONS} == before


def test_sites_are_drawn_round_robin_over_kinds_and_seeded():
    slab = make_slab({"Pt": 0.5, "Cu": 0.5}, "fcc", size=(3, 3), layers=3, fixed_layers=1, vacuum=10.0, seed=0)
    sites = find_sites(slab.structure)
    kinds = list(SlabSpec().site_kinds)
    chosen = choose_sites(sites, kinds, 6, seed=4)
    assert [site.kind for site in chosen] == ["fcc", "hcp", "top", "bridge", "fcc", "hcp"]
    assert chosen == choose_sites(sites, kinds, 6, seed=4) != choose_sites(sites, kinds, 6, seed=5)
    assert len(choose_sites(sites, kinds, None, seed=0)) == len(sites)
    with pytest.raises(AlloyscreenError, match="site_kinds"):
        choose_sites(sites, ["hollow"], 6, seed=0)


def _hydrogen_label(candidate: Candidate, stage: StageSpec, seed: int) -> tuple[LabelOutcome, dict]:
    """Run one label job of a dG_H stage; return its outcome and jobflow's responses."""
    sites = AdsorptionMaker(name=stage.name, validation=stage.validation_maker(),
                            site_kinds=list(stage.slab.site_kinds), max_sites=stage.slab.max_sites, seed=seed)
    maker = StageMaker(name=stage.name, validation=sites.validation, slab=stage.slab_maker(seed),
                       labels={"delta_g_h": sites})
    job = label_job(maker, candidate, "her-label-test", 0)
    responses = run_here(job)
    store = get_job_store()
    store.connect()
    output = store.get_output(job.uuid, which="last", load=True)
    outcome = MontyDecoder().process_decoded(output)
    assert isinstance(outcome, LabelOutcome)
    return outcome, responses


def test_every_site_is_its_own_job_and_failures_come_back_with_the_reason(database):
    stage = StageSpec(name="emt", calculator="emt", max_validations=1, slab=SLAB)
    candidate = Candidate(id="her-PtNi", composition={"Pt": 0.5, "Ni": 0.5}, prototype="fcc")
    first, responses = _hydrogen_label(candidate, stage, seed=2)
    replaced = next(r.replace for by_index in responses.values() for r in by_index.values() if r.replace)
    label_flow, stored = replaced.jobs[:2]  # the label Maker's flow, then the job storing its outcome
    assert stored.name == "emt r0 Ni0.5Pt0.5 conclude" and label_flow.jobs[-1].name == "adsorption_label_job"
    assert len(label_flow.jobs) == 2 + SLAB["max_sites"] + 1  # clean slab, H2, one job per site, the label
    assert all(job.name.startswith("emt emt ") for job in label_flow.jobs[:-1])
    again, _ = _hydrogen_label(candidate, stage, seed=2)
    assert first.status == "completed" and (first.reused, again.reused) == (False, True)
    assert (again.values, again.label_ids, again.core_hours) == (first.values, first.label_ids, first.core_hours)
    assert first.core_hours > 0
    no_emt, _ = _hydrogen_label(Candidate(id="her-PtZr", composition={"Pt": 0.5, "Zr": 0.5}, prototype="fcc"),
                                stage, 0)
    assert no_emt.status == "failed" and "Zr" in no_emt.error and no_emt.value_of("delta_g_h") is None
    tight = stage.model_copy(update={"slab": SlabSpec(**{**SLAB, "max_error": 0.01})})
    no_slab, _ = _hydrogen_label(Candidate(id="her-PtCu", composition={"Pt": 0.3, "Cu": 0.7}, prototype="fcc"),
                                 tight, 0)
    assert no_slab.status == "failed" and "rounding error" in no_slab.error and no_slab.structure_ids == {}


def test_ptpd_her_flow_loads_and_maximises_the_activity_of_its_fcc_sites():
    spec = load_spec(FLOWS / "ptpd_hea_her.yaml")
    objective = spec.objectives[0]
    assert (spec.target, objective.direction, spec.target_unit) == ("her_activity", "maximize", "k0/site")
    assert all((s.slab.site_kinds, s.slab.max_sites) == (["fcc"], 9) for s in spec.stages)  # every fcc site of 3x3
    assert spec.candidates.required == ["Pt", "Pd"] and spec.candidates.n_components == 5
    assert [(s.calculator, s.category) for s in spec.stages] == [("chgnet", "cheap"), ("qe", "dft")]
    with pytest.raises(AlloyscreenError, match="target value is required"):
        load_spec({**_her_spec("bad"), "objectives": [{"property": "delta_g_h", "direction": "target"}]})


@pytest.mark.parametrize(("objective", "words"), [
    ({"property": "delta_g_oh", "direction": "target", "target": 1.1}, ["stage 'emt'", "unfit for O", "[O]"]),
    ({"property": "delta_e_co", "direction": "minimize"}, ["stage 'emt'", "unfit for C", "accept_unfit: [C]"]),
    ({"property": "delta_g_cooh", "direction": "minimize"}, ["delta_g_cooh", "delta_g_oh", "delta_e_co"]),
])
def test_an_adsorbate_the_stage_cannot_treat_or_the_registry_lacks_is_refused_at_load(objective, words):
    data = {**_her_spec("bad"), "objectives": [objective]}
    data["stages"] = [{**stage, "accept_unfit": ["H"] if "_o" in objective["property"] else []}
                      for stage in data["stages"]]
    with pytest.raises(AlloyscreenError) as info:
        load_spec(data)
    assert "\n" not in str(info.value) and all(word in str(info.value) for word in words), str(info.value)


def test_an_oh_campaign_holds_o_and_h_in_its_element_pool():
    data = {**_her_spec("oh"), "objectives": [{"property": "delta_g_oh", "direction": "target", "target": 1.1}]}
    data["stages"] = [{**stage, "accept_unfit": ["H", "O"]} for stage in data["stages"]]
    spec = load_spec(data)
    assert (spec.target, spec.target_unit) == ("delta_g_oh", "eV")
    assert {"H", "O"} <= set(spec.element_pool) and "C" not in spec.element_pool


@pytest.mark.parametrize(("prop", "kinds", "unfit"), [
    ("orr_activity", {"OH": ["top"], "O": ["fcc"]}, ["H", "O"]),
    ("co2rr_selectivity", {"CO": ["top"], "H": ["fcc"]}, ["C", "H", "O"]),
])
def test_a_campaign_ranks_by_the_two_adsorbate_activity_its_site_models_predict(database, prop, kinds, unfit):
    data = _her_spec(f"grid-{prop}")
    data["objectives"] = [{"property": prop, "direction": "maximize"}]
    data["stages"] = [{"name": "emt", "calculator": "emt", "max_validations": 7, "accept_unfit": unfit,
                       "slab": SLAB}]
    spec = load_spec({**data, "initial_random": 5, "confirm_top": 0})
    run_to_the_end(spec)
    labels = campaign_labels(database, spec.campaign_id)
    assert len(labels) == 7 and all(row["property"] == prop for row in labels)
    site_model = database["models"].find_one({"provenance.campaign_id": spec.campaign_id, "kind": "site-xgboost"})
    assert site_model["target"] == prop and site_model["hyperparameters"]["kinds"] == kinds
    model = load_stored_model(database, site_model["_id"])
    label = database["labels"].find_one({"_id": labels[0]["label_id"]})
    assert model.references == label["details"]["references"]["energies_ev"]  # ORR: Pt(111)'s, CO2RR: none
    later = list(database["selections"].find({"campaign_id": spec.campaign_id, "round": {"$gte": 1}}))
    assert later and {s["model_id"] for s in later} <= {m["_id"] for m in database["models"].find(
        {"kind": "site-xgboost", "target": prop})}  # rounds after the first rank with the site models


@pytest.mark.parametrize(("prototype", "size", "words"), [
    ("bcc", [2, 2], ["'co2rr_selectivity'", "fcc(111)", "got 'bcc'"]),
    ("fcc", [2, 3], ["stage 'emt'", "square slab", "got [2, 3]"]),
])
def test_a_grid_activity_needs_square_fcc111_slabs_at_load(prototype, size, words):
    data = _her_spec("grid-bad")
    data["objectives"] = [{"property": "co2rr_selectivity", "direction": "maximize"}]
    data["candidates"] = {**data["candidates"], "prototype": prototype}
    data["stages"] = [{"name": "emt", "calculator": "emt", "max_validations": 2, "accept_unfit": ["C", "H", "O"],
                       "slab": {"size": size}}]
    with pytest.raises(AlloyscreenError) as info:
        load_spec(data)
    assert "\n" not in str(info.value) and all(word in str(info.value) for word in words), str(info.value)
