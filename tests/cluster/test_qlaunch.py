"""Campaigns through FireWorks' real ``qlaunch`` on a local one-node SLURM (``scripts/slurm.sh``).

The campaign climbs EMT (category ``cheap``, the active-learning stage) ->
CHGNet (``potential``) -> Quantum ESPRESSO pw.x (``dft``; LDA, tiny cutoffs,
its elemental references 1- and 2-atom cells). Three category-split workers
each submit SLURM jobs in reservation mode (one job per Firework) that run
``rlaunch singleshot`` and pull only their own category's Fireworks; a killed
job is found by ``lpad detect_lostruns`` and rerun.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from typing import Any

import pytest
from tests.cluster.workers import BIN, QueueWorkers, queue_workers, squeue, wait_for_workflow

from alloyscreen.campaign.engine.execution import run_campaign, submit
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.engine.records import save_campaign
from alloyscreen.campaign.results.queries import campaign_status, top_candidates
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.stores import get_launchpad
from alloyscreen.validation.pseudo import DEFAULT_PSEUDO_DIR

pytestmark = [pytest.mark.workers, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("pw.x") is None or not os.path.isdir(DEFAULT_PSEUDO_DIR),
                                 reason="pw.x or its pseudopotentials (/usr/share/espresso/pseudo) not installed: "
                                        "`bash scripts/setup.sh` installs Debian's quantum-espresso")]

WORKERS = {"cheap-node": "cheap", "potential-node": "potential", "dft-node": "dft"}
STAGES = {"emt": ("emt", "cheap"), "chgnet": ("chgnet", "potential"), "dft": ("qe", "dft")}  # calculator, category
TIMEOUT = 300
# Debian's LDA (PZ) pseudopotentials cover Al, Cu and Au, as EMT does; cutoffs and k-points as small as the
# pw.x tests' (tests/campaign/test_maker_tree.py): the 4-atom alloy cell and six 1- and 2-atom references.
CHEAP_LDA = {"functional": "PZ", "ecutwfc": 25.0, "ecutrho": 200.0, "kspacing": 0.8, "conv_thr": 1e-6}


def ladder_spec(name: str, seed: int) -> dict[str, Any]:
    """EMT screening (``cheap``), its best candidate confirmed by CHGNet (``potential``), then by pw.x (``dft``)."""
    random_cell = {"method": "random", "supercell": [1, 1, 1]}  # 4 atoms: every 1/4 composition exactly
    return {
        "name": name, "seed": seed,
        "candidates": {"elements": ["Al", "Cu", "Au"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 4, "acquisition": {"batch_size": 2}, "confirm_top": 1,
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 6, "category": "cheap",
                    "structure": random_cell, "accept_unfit": ["Al"]},
                   {"name": "chgnet", "calculator": "chgnet", "mode": "static", "max_validations": 1,
                    "category": "potential", "structure": random_cell},
                   {"name": "dft", "calculator": "qe", "mode": "static", "max_validations": 1, "category": "dft",
                    "settings": {**CHEAP_LDA, "pseudo_dir": DEFAULT_PSEUDO_DIR}, "structure": random_cell}],
    }


def _submit(spec_data: dict[str, Any]) -> str:
    """Reset the LaunchPad and submit the campaign, as ``alloyscreen submit`` does; return its id."""
    spec = load_spec(spec_data)
    get_launchpad().reset("", require_password=False)
    submit(CampaignMaker.from_spec(spec).make())
    save_campaign(spec, "created")
    return spec.campaign_id


def _top(database, campaign_id: str) -> list[tuple]:
    """Each top row's formula and its label at every stage (None where the stage did not label it)."""
    return [(row["formula"], *(None if row.get(stage) is None else round(row[stage], 9) for stage in STAGES))
            for row in top_candidates(database, campaign_id)]


def _assert_finished_once(database, campaign_id: str) -> Counter:
    """Completed, every Firework run by a worker of its own category, nothing selected or calculated twice.

    Return (calculator, category) -> calculations the workflow's Fireworks made (not reused from earlier).
    """
    status = campaign_status(database, campaign_id)
    assert status["status"] == "completed", status
    assert [(s["stage"], s["validations"], s["failed"]) for s in status["stages"]] == [("emt", 6, 0), ("chgnet", 1, 0),
                                                                                      ("dft", 1, 0)]
    fireworks = {fw["fw_id"]: fw for fw in database["fireworks"].find({}, {"fw_id": 1, "state": 1, "name": 1,
                                                                           "spec._category": 1,
                                                                           "spec._tasks.job.uuid": 1})}
    assert {fw["state"] for fw in fireworks.values()} == {"COMPLETED"}
    completed = list(database["launches"].find({"state": "COMPLETED"}, {"fw_id": 1, "fworker": 1}))
    assert sorted(launch["fw_id"] for launch in completed) == sorted(fireworks)  # one completed launch each
    worker_of = {category: name for name, category in WORKERS.items()}
    for launch in completed:
        category = fireworks[launch["fw_id"]]["spec"]["_category"]
        assert (launch["fworker"]["category"], launch["fworker"]["name"]) == (category, worker_of[category]), (
            fireworks[launch["fw_id"]], launch["fworker"])
    assert {fw["spec"]["_category"] for fw in fireworks.values()} == set(WORKERS.values())
    # Each stage's label Fireworks ("<stage> r<round> <formula>") carry its category, so (above) the pw.x one ran
    # on dft-node only, the CHGNet one on potential-node only; every other Firework (the drivers) is cheap.
    labels = Counter((fw["name"].split()[0], fw["spec"]["_category"]) for fw in fireworks.values()
                     if len(fw["name"].split()) == 3 and fw["name"].split()[0] in STAGES)
    assert labels == {("emt", "cheap"): 6, ("chgnet", "potential"): 1, ("dft", "dft"): 1}, labels
    assert Counter(fw["spec"]["_category"] for fw in fireworks.values()) == {
        "cheap": len(fireworks) - 2, "potential": 1, "dft": 1}
    # Every calculation a Firework of this workflow made ran on its stage's worker: qe in dft-node's jobs,
    # chgnet in potential-node's (earlier tests' calculations of the session are reused, not made again).
    category_of_job = {fw["spec"]["_tasks"][0]["job"]["uuid"]: fw["spec"]["_category"] for fw in fireworks.values()}
    made = Counter((calculation["calculator"], category_of_job[calculation["provenance"]["job_uuid"]])
                   for calculation in database["calculations"].find({}, {"calculator": 1, "provenance.job_uuid": 1})
                   if calculation["provenance"].get("job_uuid") in category_of_job)
    assert set(made) <= set(STAGES.values()), made
    selections = Counter((s["stage"], s["round"], s["candidate_id"])
                         for s in database["selections"].find({"campaign_id": campaign_id}))
    assert selections and max(selections.values()) == 1, selections.most_common(2)
    assert len({(stage, candidate) for stage, _, candidate in selections}) == len(selections)
    # One calculation per selection, each stored once (its id is its inputs' hash: a rerun finds it, or makes it).
    outcomes = {(s["stage"], s["candidate_id"]): s["outcome"]
                for s in database["selections"].find({"campaign_id": campaign_id})}
    assert {o["status"] for o in outcomes.values()} == {"completed"}
    calculation_ids = [o["calculation_ids"]["mixing_energy_per_atom"] for o in outcomes.values()]
    assert len(set(calculation_ids)) == len(calculation_ids) == 8  # 6 EMT, 1 CHGNet, 1 pw.x
    calculators = Counter((stage, calculation["calculator"]) for (stage, _), outcome in outcomes.items()
                          for calculation in database["calculations"].find(
                              {"_id": outcome["calculation_ids"]["mixing_energy_per_atom"]}))
    assert calculators == {("emt", "emt"): 6, ("chgnet", "chgnet"): 1, ("dft", "qe"): 1}
    print(f"calculations made by (calculator, category): {dict(made)}")
    return made


def _local_top(database, spec_data: dict[str, Any]) -> list[tuple]:
    """The top of the same campaign run here (another name: the campaign id hashes the spec)."""
    started = time.monotonic()
    local_id = run_campaign({**spec_data, "name": spec_data["name"] + "-local"})
    print(f"local run: {time.monotonic() - started:.1f} s")
    return _top(database, local_id)


def _report(workers: QueueWorkers, database, seconds: float, label: str) -> tuple[int, int]:
    jobs, fireworks = workers.submitted_jobs(), database["fireworks"].count_documents({})
    category = {fw["fw_id"]: fw["spec"]["_category"] for fw in database["fireworks"].find({}, {"fw_id": 1,
                                                                                             "spec._category": 1})}
    runs: dict[str, list[float]] = {}
    for launch in database["launches"].find({"state": "COMPLETED"}, {"fw_id": 1, "runtime_secs": 1}):
        runs.setdefault(category[launch["fw_id"]], []).append(launch["runtime_secs"])
    per_category = ", ".join(f"{name} {len(times)} ({sum(times):.0f} s)" for name, times in sorted(runs.items()))
    print(f"{label}: {fireworks} Fireworks in {jobs} SLURM jobs ({jobs / fireworks:.2f} per Firework), "
          f"{seconds:.0f} s, {seconds / fireworks:.1f} s per Firework; run by category: {per_category}")
    return jobs, fireworks


def test_qlaunch_runs_a_category_split_campaign_like_a_local_run(slurm, database, tmp_path):
    spec_data = ladder_spec("slurm-split", seed=5)
    campaign_id = _submit(spec_data)
    started = time.monotonic()
    with queue_workers(tmp_path, WORKERS, max_jobs_in_queue=2) as workers:
        workers.start(timeout=TIMEOUT)
        wait_for_workflow(database, workers, TIMEOUT)
        seconds = time.monotonic() - started
    jobs, fireworks = _report(workers, database, seconds, "qlaunch -r rapidfire -m 2")
    assert jobs == fireworks  # reservation mode: one SLURM job per Firework, none empty
    assert database["fireworks"].count_documents({"spec._category": "dft"}) == 1  # the pw.x confirmation
    made = _assert_finished_once(database, campaign_id)
    # The first campaign of the session makes its CHGNet and pw.x calculations (later ones may reuse them).
    assert made[("chgnet", "potential")] >= 1 and made[("qe", "dft")] >= 1, made
    top = _top(database, campaign_id)
    assert [stage is not None for stage in top[0][1:]] == [True, True, True]  # the best climbed every stage
    assert top == _local_top(database, spec_data)


def _running_label_job(database, tried: set[int], timeout: float) -> tuple[int, str]:
    """Wait for a label Firework RUNNING in a SLURM job; return its fw_id and the job id (its reservation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        label = {"$regex": r"^\S+ r\d+ \S+$"}  # "<stage> r<round> <formula>"
        for fw in database["fireworks"].find({"state": "RUNNING", "name": label}, {"fw_id": 1}):
            if fw["fw_id"] in tried:
                continue
            launch = database["launches"].find_one({"fw_id": fw["fw_id"], "state": "RUNNING"})
            job = next((h["reservation_id"] for h in (launch or {}).get("state_history", [])
                        if h.get("reservation_id")), None)
            if job:
                return fw["fw_id"], str(job)
        time.sleep(0.05)
    raise AssertionError(f"no label job RUNNING within {timeout:.0f} s")


def _wait_for_empty_queue(database, workers: QueueWorkers, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while squeue():
        if time.monotonic() > deadline:
            running = [(fw["fw_id"], fw["name"]) for fw in database["fireworks"].find({"state": "RUNNING"})]
            raise AssertionError(f"jobs still queued after {timeout:.0f} s: {squeue()}; RUNNING Fireworks "
                                 f"{running}; locks {list(database['locks'].find())}\n{workers.stuck_jobs()}")
        time.sleep(0.5)


def _lpad(workers: QueueWorkers, *args: str) -> str:
    env = {**os.environ, "FW_CONFIG_FILE": str(workers.fw_config)}
    result = subprocess.run([str(BIN / "lpad"), "-l", str(workers.launchpad_file), *args], capture_output=True,
                            text=True, timeout=120, check=True, env=env)
    return result.stdout + result.stderr


def test_a_killed_job_is_found_by_detect_lostruns_and_rerun_without_duplicates(slurm, database, tmp_path):
    # scancel ends a job as its walltime does (SIGTERM, KillWait, SIGKILL) but at once: a walltime is whole
    # minutes and slurmctld enforces it every 30 s, so a real one would add 60-90 s of a job that runs longer.
    spec_data = ladder_spec("slurm-killed", seed=8)
    campaign_id = _submit(spec_data)
    started = time.monotonic()
    with queue_workers(tmp_path, WORKERS, max_jobs_in_queue=2) as workers:
        workers.start(timeout=TIMEOUT)
        tried: set[int] = set()
        for _ in range(5):  # a label job can finish before the kill lands: then kill the next one
            fw_id, job = _running_label_job(database, tried, timeout=120)
            tried.add(fw_id)
            subprocess.run(["scancel", job], check=True, timeout=60)
            gone = time.monotonic() + 60
            while any(line.split()[0] == job for line in squeue()) and time.monotonic() < gone:
                time.sleep(0.2)
            if database["fireworks"].find_one({"fw_id": fw_id})["state"] == "RUNNING":
                locked = database["workflows"].find_one({}, {"locked": 1}).get("locked", False)
                print(f"killed job {job} running Firework {fw_id}; workflow left locked: {locked}")
                # A kill inside FireWorks' workflow lock (taken for milliseconds at checkout and completion)
                # leaves the workflow locked: leave it so when the kill missed it, and recover from that too.
                database["workflows"].update_one({"nodes": fw_id}, {"$set": {"locked": True}})
                break
        else:
            raise AssertionError(f"every label job killed finished first: {sorted(tried)}")
        workers.stop()
        _wait_for_empty_queue(database, workers, 120)
        # Nothing runs now: every RUNNING Firework is lost, every RESERVED one lost its job (qlaunch stopped).
        time.sleep(2)  # lost: RUNNING, and not updated for more than --time seconds
        _lpad(workers, "detect_lostruns", "--time", "1", "--rerun")
        killed = database["launches"].find_one({"fw_id": fw_id, "state_history.reservation_id": job})
        assert killed["state"] == "FIZZLED", killed["state_history"]
        _lpad(workers, "detect_unreserved", "--time", "1", "--rerun")
        # qlaunch stopped between reserving a Firework and writing its launch leaves it RESERVED without one
        _lpad(workers, "rerun_fws", "-s", "RESERVED")
        assert database["fireworks"].find_one({"fw_id": fw_id})["state"] in ("READY", "WAITING")
        assert database["fireworks"].count_documents({"state": "RESERVED"}) == 0
        workers.start(timeout=TIMEOUT)
        wait_for_workflow(database, workers, TIMEOUT)
        seconds = time.monotonic() - started
    assert "locked" not in database["workflows"].find_one({"nodes": fw_id})
    _report(workers, database, seconds, "with a killed job and detect_lostruns --rerun")
    _assert_finished_once(database, campaign_id)
    assert _top(database, campaign_id) == _local_top(database, spec_data)
