"""Campaigns through FireWorks' real ``qlaunch`` on a local one-node SLURM (``scripts/slurm.sh``).

Two category-split workers (``cheap`` and ``dft``) each submit SLURM jobs in
reservation mode (one job per Firework) that run ``rlaunch singleshot``; a
killed job is found by ``lpad detect_lostruns`` and rerun.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from typing import Any

import pytest
from tests.campaign.checks import category_split_spec
from tests.cluster.workers import BIN, QueueWorkers, queue_workers, squeue, wait_for_workflow

from alloyscreen.campaign.execution import run_campaign, submit
from alloyscreen.campaign.flow import CampaignMaker
from alloyscreen.campaign.records import save_campaign
from alloyscreen.campaign.results import campaign_status, top_candidates
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.stores import get_launchpad

pytestmark = pytest.mark.slow

WORKERS = {"cheap-node": "cheap", "dft-node": "dft"}
TIMEOUT = 240


def _submit(spec_data: dict[str, Any]) -> str:
    """Reset the LaunchPad and submit the campaign, as ``alloyscreen submit`` does; return its id."""
    spec = load_spec(spec_data)
    get_launchpad().reset("", require_password=False)
    submit(CampaignMaker().make(spec))
    save_campaign(spec, "created")
    return spec.campaign_id


def _top(database, campaign_id: str) -> list[tuple]:
    return [(row["formula"], round(row["cheap"], 9), round(row.get("expensive", 0.0), 9))
            for row in top_candidates(database, campaign_id)]


def _assert_finished_once(database, campaign_id: str) -> None:
    """Completed, every Firework run by a worker of its own category, nothing selected or calculated twice."""
    status = campaign_status(database, campaign_id)
    assert status["status"] == "completed", status
    assert [(s["stage"], s["validations"], s["failed"]) for s in status["stages"]] == [("cheap", 6, 0),
                                                                                      ("expensive", 2, 0)]
    fireworks = {fw["fw_id"]: fw for fw in database["fireworks"].find({}, {"fw_id": 1, "state": 1, "name": 1,
                                                                           "spec._category": 1})}
    assert {fw["state"] for fw in fireworks.values()} == {"COMPLETED"}
    completed = list(database["launches"].find({"state": "COMPLETED"}, {"fw_id": 1, "fworker": 1}))
    assert sorted(launch["fw_id"] for launch in completed) == sorted(fireworks)  # one completed launch each
    for launch in completed:
        category = fireworks[launch["fw_id"]]["spec"]["_category"]
        assert (launch["fworker"]["category"], launch["fworker"]["name"]) == (category, {
            c: n for n, c in WORKERS.items()}[category]), (fireworks[launch["fw_id"]], launch["fworker"])
    assert {fw["spec"]["_category"] for fw in fireworks.values()} == {"cheap", "dft"}
    selections = Counter((s["stage"], s["round"], s["candidate_id"])
                         for s in database["selections"].find({"campaign_id": campaign_id}))
    assert selections and max(selections.values()) == 1, selections.most_common(2)
    assert len({(stage, candidate) for stage, _, candidate in selections}) == len(selections)
    # One calculation per selection, each stored once (its id is its inputs' hash: a rerun finds it, or makes it).
    outcomes = [s["outcome"] for s in database["selections"].find({"campaign_id": campaign_id})]
    assert {o["status"] for o in outcomes} == {"completed"}
    calculation_ids = [o["calculation_id"] for o in outcomes]
    assert len(set(calculation_ids)) == len(calculation_ids) == 8  # 6 cheap, 2 dft
    assert database["calculations"].count_documents({"_id": {"$in": calculation_ids}}) == 8


def _local_top(database, spec_data: dict[str, Any]) -> list[tuple]:
    """The top of the same campaign run here (another name: the campaign id hashes the spec)."""
    started = time.monotonic()
    local_id = run_campaign({**spec_data, "name": spec_data["name"] + "-local"})
    print(f"local run: {time.monotonic() - started:.1f} s")
    return _top(database, local_id)


def _report(workers: QueueWorkers, database, seconds: float, label: str) -> tuple[int, int]:
    jobs, fireworks = workers.submitted_jobs(), database["fireworks"].count_documents({})
    print(f"{label}: {fireworks} Fireworks in {jobs} SLURM jobs ({jobs / fireworks:.2f} per Firework), "
          f"{seconds:.0f} s, {seconds / fireworks:.1f} s per Firework")
    return jobs, fireworks


def test_qlaunch_runs_a_category_split_campaign_like_a_local_run(slurm, database, tmp_path):
    spec_data = category_split_spec("slurm-split", seed=5)
    campaign_id = _submit(spec_data)
    started = time.monotonic()
    with queue_workers(tmp_path, WORKERS, max_jobs_in_queue=2) as workers:
        workers.start(timeout=TIMEOUT)
        wait_for_workflow(database, workers, TIMEOUT)
        seconds = time.monotonic() - started
    jobs, fireworks = _report(workers, database, seconds, "qlaunch -r rapidfire -m 2")
    _assert_finished_once(database, campaign_id)
    assert jobs == fireworks  # reservation mode: one SLURM job per Firework, none empty
    assert database["fireworks"].count_documents({"spec._category": "dft"}) == 2  # the two confirmations
    assert _top(database, campaign_id) == _local_top(database, spec_data)


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
    spec_data = category_split_spec("slurm-killed", seed=8)
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
