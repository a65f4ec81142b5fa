"""A campaign with a VASP stage under FireWorks, VASP faked on real outputs as atomate2's own tests do."""

from __future__ import annotations

import pytest
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire
from tests.validation.vasp_fake import Expected, install

from alloyscreen.campaign.engine.execution import submit
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.stores import get_launchpad
from alloyscreen.errors import AlloyscreenError

RELAX = {"ENCUT": 520.0, "ISIF": 3, "IBRION": 2, "ISPIN": 2}  # MP relax set


def _spec(stage: dict, **extra) -> dict:
    return {"name": "vasp-stage", "seed": 1, "initial_random": 2, "confirm_top": 2, **extra,
            "candidates": {"elements": ["Al", "Ag"], "n_components": 1, "sampling": {"kind": "explicit",
                                                                                     "compositions": ["Al", "Ag"]},
                           "prototype": "fcc"},
            "stages": [{"name": "emt", "calculator": "emt", "max_validations": 2, "category": "cheap",
                        "accept_unfit": ["Al"]},
                       {"name": "vasp", "max_validations": 2, "category": "dft", **stage}]}


@pytest.mark.workers
def test_a_vasp_stage_labels_under_category_split_fireworks_workers(database, monkeypatch, tmp_path):
    fake = install(monkeypatch)
    # Al: custodian's converged Al run; Ag: its ionically unconverged Ag relaxation
    fake.expect("MP GGA relax", Expected("al-static", RELAX, potcar=["Al"]), elements={"Al"})
    fake.expect("MP GGA relax", Expected("ag-relax-unconverged", RELAX, potcar=["Ag"]), elements={"Ag"})
    spec = load_spec(_spec({"calculator": "vasp"}))
    launchpad = get_launchpad()
    launchpad.reset("", require_password=False)
    submit(CampaignMaker.from_spec(spec).make(), launchpad)
    ran: dict[str, set[str]] = {"cheap": set(), "dft": set()}
    monkeypatch.chdir(tmp_path)
    for _ in range(40):  # each worker pulls only its own category, until the workflow is done
        for category in ran:
            rapidfire(launchpad, FWorker(name=f"{category}-node", category=category), nlaunches=0, max_loops=1,
                      strm_lvl="ERROR")
        if database["workflows"].find_one({}, {"state": 1})["state"] == "COMPLETED":
            break
    assert database["workflows"].find_one({}, {"state": 1})["state"] == "COMPLETED"
    for launch in database["launches"].find():
        firework = database["fireworks"].find_one({"fw_id": launch["fw_id"]})
        ran[firework["spec"]["_category"]].add(launch["fworker"]["name"])
    assert ran == {"cheap": {"cheap-node"}, "dft": {"dft-node"}}
    vasp_jobs = [fw for fw in database["fireworks"].find() if fw["name"].startswith("MP GGA relax")]
    assert vasp_jobs and {fw["spec"]["_category"] for fw in vasp_jobs} == {"dft"}
    # Al ran once: the fcc candidate is its own reference, its ground-state fcc crystal
    assert sorted(run["species"] for run in fake.checked if run["potcar"] == ["Al"]) == [["Al"]]
    outcomes = {s["candidate_id"]: s["outcome"] for s in database["selections"].find({"campaign_id": spec.campaign_id,
                                                                                   "stage": "vasp"})}
    by_formula = {"".join(database["candidates"].find_one({"_id": key})["composition"]): value
                  for key, value in outcomes.items()}
    assert by_formula["Al"]["status"] == "completed"
    assert by_formula["Al"]["values"]["mixing_energy_per_atom"] == pytest.approx(0.0, abs=1e-9)
    assert by_formula["Ag"]["status"] == "failed"
    assert "did not converge ionically" in by_formula["Ag"]["error"]
    label = database["labels"].find_one({"_id": by_formula["Al"]["label_ids"]["mixing_energy_per_atom"]})
    assert label["calculator"] == "vasp" and set(label["details"]["references"]["Al"]["candidates"]) == {"fcc"}
    assert database["campaigns"].find_one({"_id": spec.campaign_id})["status"] == "completed"


def test_a_vasp_stage_cannot_label_delta_g_h():
    data = _spec({"calculator": "vasp"}, objectives=[{"property": "delta_g_h", "direction": "target", "target": 0}])
    data["stages"][0]["accept_unfit"] = ["Al", "H"]  # EMT's own limits, so that the vasp stage is the one refused
    with pytest.raises(AlloyscreenError, match="a vasp stage labels mixing_energy only, not delta_g_h"):
        load_spec(data)
