"""Every campaign spec shipped in flows/ loads and describes a non-empty space."""

from pathlib import Path

import pytest

from alloyscreen.campaign.spec import load_spec
from alloyscreen.candidates import CandidateSpace

FLOWS = sorted((Path(__file__).resolve().parents[1] / "flows").glob("*.yaml"))


def test_the_shipped_campaigns():
    assert {path.stem for path in FLOWS} == {"demo", "hea_stability", "ptpd_hea_her", "cheap_noble_pareto",
                                             "hea_single_phase", "noble_multi_fidelity", "ptpd_her_stability",
                                             "cuznpdagau_co2rr"}


@pytest.mark.parametrize("path", FLOWS, ids=[path.stem for path in FLOWS])
def test_flow_spec_loads(path):
    spec = load_spec(path)
    space = CandidateSpace(spec.candidates)
    assert space.size > 0 and len(spec.stages) >= 2
    assert next(space.iter_chunks(1000)).fractions.shape[1] == len(spec.candidates.elements)


@pytest.mark.gnn
def test_hea_stability_runs_through_its_chgnet_stage_here(database):
    """The CoCrFeMnNi-family pool (Mn, Co, V ...) labels with CHGNet; budgets shrunk to two candidates."""
    import yaml

    from alloyscreen.campaign.engine.execution import run_campaign

    data = yaml.safe_load((FLOWS[0].parent / "hea_stability.yaml").read_text())
    data.update({"initial_random": 2, "confirm_top": 0})
    data["stages"][0].update({"max_validations": 2, "structure": {"method": "sqs", "iterations": 300}})
    campaign_id = run_campaign(data)
    outcomes = [s["outcome"] for s in database["selections"].find({"campaign_id": campaign_id, "stage": "chgnet"})]
    assert len(outcomes) == 2 and all(o["status"] == "completed" for o in outcomes), outcomes
    label = database["labels"].find_one({"_id": outcomes[0]["label_ids"]["mixing_energy_per_atom"]})
    assert len(label["details"]["references"]) >= 4  # quaternary or quinary: every element has its reference


@pytest.mark.gnn
def test_hea_single_phase_filters_and_labels_hull_distances_with_chgnet_here(database):
    """Its CHGNet stage on a three-element pool (28 competing phases), two candidates."""
    import yaml

    from alloyscreen.campaign.engine.execution import run_campaign

    data = yaml.safe_load((FLOWS[0].parent / "hea_single_phase.yaml").read_text())
    data.update({"initial_random": 2, "initial_design": "random", "confirm_top": 0,
                 "candidates": {"elements": ["Cu", "Ni", "Pt"], "n_components": [2, 3],
                                "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"}})
    data["stages"][0].update({"max_validations": 2, "structure": {"method": "random", "supercell": [1, 1, 1]}})
    campaign_id = run_campaign(data)
    outcomes = [s["outcome"] for s in database["selections"].find({"campaign_id": campaign_id, "stage": "chgnet"})]
    assert len(outcomes) == 2 and all(o["status"] == "completed" for o in outcomes), outcomes
    label = database["labels"].find_one({"_id": outcomes[0]["label_ids"]["energy_above_hull_per_atom"]})
    assert label["property"] == "energy_above_hull_per_atom" and label["calculator"] == "chgnet"
    assert label["details"]["stable_phases"]  # CHGNet orders Cu-Pt and Ni-Pt below their elements


@pytest.mark.gnn
def test_ptpd_her_stability_labels_both_properties_with_chgnet_here(database):
    """Its CHGNet stage on a Pt-Pd-Cu pool (small slabs, one site), two candidates, each labelled twice."""
    import yaml

    from alloyscreen.campaign.engine.execution import run_campaign

    data = yaml.safe_load((FLOWS[0].parent / "ptpd_her_stability.yaml").read_text())
    data.update({"initial_random": 2, "confirm_top": 0, "phases": {"prototypes": ["L1_2", "L1_0"]},
                 "candidates": {"elements": ["Pt", "Pd", "Cu"], "required": ["Pt"], "n_components": 2,
                                "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"}})
    data["stages"][0].update({"max_validations": 2, "structure": {"method": "random", "supercell": [1, 1, 1]},
                              "slab": {"size": [2, 2], "layers": 3, "fixed_layers": 1, "max_sites": 1}})
    campaign_id = run_campaign(data)
    outcomes = [s["outcome"] for s in database["selections"].find({"campaign_id": campaign_id, "stage": "chgnet"})]
    assert len(outcomes) == 2 and all(o["status"] == "completed" for o in outcomes), outcomes
    for outcome in outcomes:
        assert set(outcome["label_ids"]) == {"delta_g_h", "energy_above_hull_per_atom"}
        hull = database["labels"].find_one({"_id": outcome["label_ids"]["energy_above_hull_per_atom"]})
        # 3 pairs, each with A3B and AB3 (L1_2) and AB (L1_0)
        assert hull["calculator"] == "chgnet" and hull["details"]["phases_computed"] == 9


@pytest.mark.gnn
def test_cuznpdagau_co2rr_labels_the_selectivity_share_on_every_site_of_its_slab_with_chgnet_here(database):
    """Its CHGNet stage on a Cu-Ag pool (2x2 slabs: *CO on 4 tops, *H in 4 fcc hollows), two candidates."""
    import yaml

    from alloyscreen.campaign.engine.execution import run_campaign

    data = yaml.safe_load((FLOWS[0].parent / "cuznpdagau_co2rr.yaml").read_text())
    data.update({"initial_random": 2, "confirm_top": 0,
                 "candidates": {"elements": ["Cu", "Ag"], "required": ["Cu"], "n_components": 2,
                                "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"}})
    data["stages"][0].update({"max_validations": 2, "slab": {"size": [2, 2], "layers": 3, "fixed_layers": 1}})
    campaign_id = run_campaign(data)
    outcomes = [s["outcome"] for s in database["selections"].find({"campaign_id": campaign_id, "stage": "chgnet"})]
    assert len(outcomes) == 2 and all(o["status"] == "completed" for o in outcomes), outcomes
    for outcome in outcomes:
        label = database["labels"].find_one({"_id": outcome["label_ids"]["co2rr_selectivity"]})
        rows = label["details"]["sites"]
        assert label["calculator"] == "chgnet" and 0.0 <= label["value"] <= 1.0
        assert sorted((row["adsorbate"], row["kind"]) for row in rows) == [("CO", "top")] * 4 + [("H", "fcc")] * 4


def test_the_demo_screens_ten_thousand_candidates_with_oracles_fit_for_its_pool():
    """The main job: >= 1e4 candidates, a ranker and a multi-fidelity loop, pw.x at the end on pseudopotentials here."""
    from alloyscreen.validation.physics import pool_settings
    from alloyscreen.validation.registry import known_limits

    spec = load_spec(FLOWS[0].parent / "demo.yaml")
    assert CandidateSpace(spec.candidates).size >= 10_000
    assert spec.multi_fidelity and spec.ranker is not None and spec.stages[-1].calculator == "qe"
    assert all(not known_limits(stage.calculator, spec.element_pool) for stage in spec.stages)
    dft = pool_settings("qe", spec.element_pool, spec.stages[-1].settings)
    assert set(dft["pseudopotentials"]) == set(spec.element_pool) and not dft["spin"]
