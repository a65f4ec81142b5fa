import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gridfs
import pytest
import yaml

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.results.queries import campaign_status, top_candidates
from alloyscreen.campaign.spec import load_spec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.lock import LostAttempt

BIN = Path(sys.executable).parent
COLLECTIONS = ("candidates", "structures", "calculations", "labels", "models", "predictions", "selections")


def _spec(name: str, validations: int = 9, seed: int = 0) -> dict:
    return {
        "name": name, "seed": seed,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 5, "acquisition": {"batch_size": 2, "strategy": "ucb"},
        "stages": [
            {"name": "emt", "calculator": "emt", "max_validations": validations,
             "structure": {"method": "random", "supercell": [1, 1, 1]}},
            {"name": "emt-sqs", "calculator": "emt", "max_validations": 1,
             "structure": {"method": "sqs", "supercell": [2, 2, 2], "iterations": 2000}},
        ],
    }


def _counts(database) -> dict[str, int]:
    return {name: database[name].count_documents({}) for name in COLLECTIONS}


def test_campaign_runs_every_stage_and_rerun_repeats_nothing(database):
    spec = load_spec(_spec("loop"))
    run_here(CampaignMaker.from_spec(spec).make())
    status = campaign_status(database, spec.campaign_id)
    assert status["status"] == "completed"
    assert [s["validations"] for s in status["stages"]] == [9, 1]
    assert database["selections"].count_documents({"campaign_id": spec.campaign_id, "stage": "emt"}) == 9
    confirmation = database["selections"].find_one({"campaign_id": spec.campaign_id, "stage": "emt-sqs"})
    assert confirmation["acquisition"] == "confirm" and confirmation["outcome"]["status"] == "completed"
    # rounds 1, 2; models are content-addressed, so another campaign of the same space and seed (another test's)
    # may have stored the same round-1 model first, under its own provenance
    used = database["selections"].distinct("model_id", {"campaign_id": spec.campaign_id, "model_id": {"$ne": None}})
    assert len(used) == 2 and database["models"].count_documents({"_id": {"$in": used}}) == 2
    rounds = sorted(database["selections"].distinct("round", {"campaign_id": spec.campaign_id, "stage": "emt"}))
    assert rounds == [0, 1, 2]
    best = top_candidates(database, "loop", count=3)
    assert len(best) == 3 and best[0]["emt"] <= best[1]["emt"] <= best[2]["emt"]
    confirmed = [row for row in top_candidates(database, "loop", count=9) if "emt-sqs" in row]
    assert len(confirmed) == 1 and confirmed[0]["candidate_id"] == best[0]["candidate_id"]
    before = _counts(database)
    started = database["calculations"].find_one(sort=[("provenance.created_at", -1)])["provenance"]["created_at"]
    run_here(CampaignMaker.from_spec(spec).make())
    assert _counts(database) == before
    latest = database["calculations"].find_one(sort=[("provenance.created_at", -1)])["provenance"]["created_at"]
    assert latest == started


@pytest.mark.parametrize(("objectives", "message"), [
    ([{"property": "mixing_energy"}, {"property": "mixing_energy", "direction": "maximize"}],
     r"labelled objectives \['mixing_energy', 'mixing_energy'\] repeat a property; allowed: each of "
     "mixing_energy, energy_above_hull, mixing_free_energy, delta_g_h, delta_g_oh, delta_g_o, delta_e_co, "
     "her_activity, orr_activity, co2rr_selectivity once"),
    ([{"property": "cost"}], r"at least one labelled objective \(mixing_energy, .*\), got \['cost'\]"),
    ([{"property": "mixing_energy"}, {"property": "price"}],
     "objectives.1: unknown objective property 'price'; allowed: mixing_energy, energy_above_hull, "
     "mixing_free_energy, delta_g_h, delta_g_oh, delta_g_o, delta_e_co, her_activity, orr_activity, "
     "co2rr_selectivity, cost"),
    ([{"property": "mixing_energy"}, {"property": "hhi_reserve"}],
     "objective 'hhi_reserve' has no value for Tc; allowed elements: "),
])
def test_bad_objectives_fail_in_one_line(objectives, message):
    spec = _spec("objectives")
    spec["objectives"] = objectives
    spec["candidates"]["elements"].append("Tc")
    with pytest.raises(AlloyscreenError, match=message) as error:
        load_spec(spec)
    assert "\n" not in str(error.value) and "got {" not in str(error.value)


def test_malformed_spec_names_the_closest_key(tmp_path):
    bad = _spec("bad")
    bad["acquisition"]["batchsize"] = 3
    with pytest.raises(AlloyscreenError, match="unknown key 'acquisition.batchsize': did you mean 'batch_size'"):
        load_spec(bad)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = subprocess.run([str(BIN / "alloyscreen"), "run", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: invalid campaign spec: unknown key 'acquisition.batchsize': did you mean 'batch_size'?"]


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(database, tmp_path):
    spec_data = _spec("killed", validations=8, seed=5)
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(spec_data))
    spec = load_spec(spec_data)
    command = [str(BIN / "alloyscreen"), "run", "--quiet", str(path)]
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        process = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 240
    while database["labels"].count_documents({"candidate_id": {"$in": database["selections"].distinct(
            "candidate_id", {"campaign_id": spec.campaign_id})}}) < 3:
        assert process.poll() is None and time.monotonic() < deadline, \
            f"campaign ended before it could be killed: {errors.read_text()}"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert database["campaigns"].find_one({"_id": spec.campaign_id})["status"] == "running"
    stalled = campaign_status(database, spec.campaign_id)
    assert stalled["status"] == "stalled" and f"(pid {process.pid} on " in stalled["message"]
    done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == spec.campaign_id
    lost = database["lost_attempts"].find_one({"collection": "campaigns", "key": spec.campaign_id})
    assert (lost["pid"], lost["reason"]) == (process.pid, "dead pid")  # the killed run, recorded by its successor
    status = campaign_status(database, spec.campaign_id)
    assert status["status"] == "completed" and status["stages"][0]["validations"] == 8
    first_stage = {"campaign_id": spec.campaign_id, "stage": "emt"}
    selected = database["selections"].distinct("candidate_id", first_stage)
    assert database["selections"].count_documents(first_stage) == len(selected) == 8
    assert database["selections"].count_documents({**first_stage, "outcome.status": "completed"}) == 8
    calculations = list(database["calculations"].find({"provenance.campaign_id": spec.campaign_id}, {"formula": 1}))
    assert len({c["_id"] for c in calculations}) == len(calculations)


def test_stored_model_reloads_by_id_and_reproduces_its_predictions(database):
    from alloyscreen.campaign.round.models import descriptor_matrix, load_stored_model

    spec = load_spec(_spec("loop"))
    run_here(CampaignMaker.from_spec(spec).make())  # reuses everything when the loop test ran first
    model_id = database["selections"].find_one({"campaign_id": spec.campaign_id, "round": 2})["model_id"]
    stored = list(database["predictions"].find({"campaign_id": spec.campaign_id, "model_id": model_id}))
    candidates = {c["_id"]: c["composition"] for c in database["candidates"].find(
        {"_id": {"$in": [p["candidate_id"] for p in stored]}})}
    X = descriptor_matrix([candidates[p["candidate_id"]] for p in stored], spec.descriptors)
    model = load_stored_model(database, model_id)
    mean, std = model.predict(X, return_std=True)
    assert mean == pytest.approx([p["mean"] for p in stored], rel=1e-9, abs=1e-12)
    assert std == pytest.approx([p["std"] for p in stored], rel=1e-9, abs=1e-12)
    assert (load_stored_model(database, model_id).predict(X) == mean).all()
    with pytest.raises(AlloyscreenError, match="no model with id 'missing'"):
        load_stored_model(database, "missing")


def test_sharded_scoring_chooses_what_one_job_chooses(database):
    def chosen(spec_data: dict) -> list[tuple[int, str]]:
        spec = load_spec(spec_data)
        run_here(CampaignMaker.from_spec(spec).make())
        return sorted((s["round"], s["candidate_id"]) for s in database["selections"].find(
            {"campaign_id": spec.campaign_id, "stage": "emt"}))

    one = _spec("one-scorer", validations=9, seed=8)
    one["acquisition"]["chunk_size"] = 7
    sharded = _spec("three-scorers", validations=9, seed=8)
    sharded["acquisition"].update(chunk_size=7, shards=3)
    assert chosen(sharded) == chosen(one)
    assert len(list(gridfs.GridFS(database, "score_shards").find({"filename": {"$regex": "-shard-2-of-3$"}}))) == 3


def test_core_hours_lost_with_killed_attempts_count_against_the_stage_budget(database):
    """A calculation whose first holder died (a walltime kill: ``lost_attempts``) is charged that attempt too."""
    spec = load_spec(_spec("lost-hours", validations=5))
    run_here(CampaignMaker.from_spec(spec).make())
    spent = database["campaigns"].find_one({"_id": spec.campaign_id})["budgets_spent"]["emt_core_hours"]
    calculation = database["selections"].find_one({"campaign_id": spec.campaign_id})["outcome"]["calculation_ids"][
        "mixing_energy_per_atom"]
    now = datetime.now(UTC)
    lost = LostAttempt(id=f"calculations:{calculation}:0", collection="calculations", key=calculation, host="node-7",
                       pid=1, slurm_job_id="4711", reason="job gone", started=now - timedelta(hours=1),
                       heartbeat=now, cores=4, core_hours=4.0)
    database["lost_attempts"].insert_one(lost.model_dump(by_alias=True))
    run_here(CampaignMaker.from_spec(spec).make())
    after = database["campaigns"].find_one({"_id": spec.campaign_id})["budgets_spent"]["emt_core_hours"]
    assert after == pytest.approx(spent + 4.0)
    assert campaign_status(database, spec.campaign_id)["stages"][0]["core_hours"] == pytest.approx(after)


def _as_stored_before(database, query: dict, prop: str) -> None:
    """Rewrite the outcomes as an earlier version stored them: the first property's fields, no per-property dicts."""
    for selection in database["selections"].find(query):
        outcome = selection["outcome"]
        earlier = {"value": outcome["values"][prop], "label_id": outcome["label_ids"].get(prop),
                   "calculation_id": outcome["calculation_ids"].get(prop),
                   "structure_id": outcome["structure_ids"].get(prop)}
        database["selections"].update_one(
            {"_id": selection["_id"]},
            {"$set": {f"outcome.{name}": value for name, value in earlier.items()},
             "$unset": {f"outcome.{name}": "" for name in ("values", "label_ids", "calculation_ids", "structure_ids")}},
            bypass_document_validation=True)


def test_outcomes_stored_in_an_earlier_form_are_read_and_resumed(database):
    """Outcomes with their first property's ``value``, ``label_id``, ``calculation_id``, ``structure_id`` (stored
    by earlier versions) get the per-property dicts from them, and lose them."""
    spec = load_spec(_spec("before-one-outcome", validations=5))
    run_here(CampaignMaker.from_spec(spec).make())
    top = top_candidates(database, spec.campaign_id)
    query = {"campaign_id": spec.campaign_id}
    stored = {s["_id"]: s["outcome"] for s in database["selections"].find(query)}
    _as_stored_before(database, query, spec.target)
    assert database["selections"].count_documents({**query, "outcome.values": {"$exists": True}}) == 0
    assert top_candidates(database, spec.campaign_id) == top
    assert {s["_id"]: s["outcome"] for s in database["selections"].find(query)} == stored
    _as_stored_before(database, query, spec.target)
    before = _counts(database)
    run_here(CampaignMaker.from_spec(spec).make())
    assert _counts(database) == before
    assert {s["_id"]: s["outcome"] for s in database["selections"].find(query)} == stored
