"""A submitted campaign's Fireworks: named after what they run; failed ones listed with their reason and rerun alone."""

import json
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker
from pymatgen.core import Composition
from tests.campaign.checks import category_split_spec
from tests.campaign.test_fireworks_campaign import BIN, _run_workers, _submit

from alloyscreen.campaign.engine.workflow import project_launchpad
from alloyscreen.db.stores import write_launchpad_file

pytestmark = pytest.mark.workers

NOWHERE = "mongodb://127.0.0.1:1/?directConnection=true"  # a database nobody serves
UNFINISHED = ["READY", "RESERVED", "RUNNING"]


def _alloyscreen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "alloyscreen"), *args], env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)


def _status(campaign_id: str, *args: str) -> dict:
    result = _alloyscreen("status", campaign_id, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _start_worker(config: Path, directory: Path, category: str, **env: str) -> subprocess.Popen:
    """Start ``rlaunch rapidfire`` for ``category`` in ``directory``, with ``env`` over this environment."""
    directory.mkdir()
    (directory / "my_fworker.yaml").write_text(yaml.safe_dump({"name": directory.name, "category": category,
                                                                "query": "{}"}))
    return subprocess.Popen(
        [str(BIN / "rlaunch"), "-l", str(config), "-w", str(directory / "my_fworker.yaml"), "rapidfire",
         "--nlaunches", "infinite", "--sleep", "1", "--timeout", "300"],
        cwd=directory, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run_until_stuck(database, workers: list[subprocess.Popen], timeout: float = 300) -> None:
    """Wait until a Firework FIZZLED and none is left to run; then stop the workers."""
    try:
        deadline = time.monotonic() + timeout
        while not (database["fireworks"].count_documents({"state": "FIZZLED"})
                   and not database["fireworks"].count_documents({"state": {"$in": UNFINISHED}})):
            assert time.monotonic() < deadline, list(database["fireworks"].find({}, {"name": 1, "state": 1}))
            time.sleep(1)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=60)


def _fireworks(database) -> dict[int, dict]:
    return {fw["fw_id"]: fw for fw in database["fireworks"].find({}, {"fw_id": 1, "name": 1, "state": 1,
                                                                      "launches": 1})}


def test_failed_fireworks_are_named_listed_with_their_reason_and_rerun_alone(database, tmp_path):
    campaign_id = _submit(category_split_spec("rerun-failed", seed=7), tmp_path)
    config = write_launchpad_file(tmp_path / "my_launchpad.yaml")
    _run_until_stuck(database, [
        _start_worker(config, tmp_path / "cheap-node", "cheap"),
        # the DFT node's environment names another database: its label jobs raise when they read their inputs
        _start_worker(config, tmp_path / "dft-node", "dft", ALLOYSCREEN_MONGO_URI=NOWHERE,
                      ALLOYSCREEN_SERVER_TIMEOUT_MS="500"),
    ])
    before = _fireworks(database)

    # every Firework is named after what it runs: labels by stage, round and formula
    formulas = {c["_id"]: c["formula"] for c in database["candidates"].find({}, {"formula": 1})}
    selections = list(database["selections"].find({"campaign_id": campaign_id}))
    labels = {f"{s['stage']} r{s['round']} {formulas[s['candidate_id']]}": s["stage"] for s in selections}
    names = {fw["name"] for fw in before.values()}
    assert set(labels) <= names
    rounds = {name for name in names if re.fullmatch(r"round \d+", name)}
    assert {"round 0", "round 1"} <= rounds
    assert names - set(labels) - rounds == {"start rerun-failed", "confirm expensive", "finish campaign",
                                            "store_inputs"}
    fizzled = {fw["name"] for fw in before.values() if fw["state"] == "FIZZLED"}
    assert fizzled == {name for name, stage in labels.items() if stage == "expensive"} and len(fizzled) == 2

    # status: the workflow's state, each FIZZLED Firework with the last line of its error
    report = _status(campaign_id)
    assert report["status"] == "failed" and f"alloyscreen rerun {campaign_id} --failed" in report["message"]
    workflow = report["workflow"]
    assert workflow["state"] == "FIZZLED" and workflow["fireworks"]["FIZZLED"] == 2 and workflow["lost"] == []
    assert {fw["name"] for fw in workflow["fizzled"]} == fizzled
    assert all(re.search(r"127\.0\.0\.1:1\b", fw["error"]) for fw in workflow["fizzled"]), workflow["fizzled"]
    text = _alloyscreen("status", campaign_id).stdout
    assert f"fireworks: workflow FIZZLED; {workflow['fireworks']['COMPLETED']} COMPLETED, 2 FIZZLED" in text
    assert all(f"  FIZZLED {name} (fw " in text for name in fizzled), text

    # rerun --failed: only the FIZZLED Fireworks run again; no Firework is added, no COMPLETED one touched
    result = _alloyscreen("rerun", campaign_id, "--failed")
    assert result.returncode == 0 and "2 FIZZLED Firework(s) set to run again" in result.stdout, result.stderr
    after = _fireworks(database)
    assert after.keys() == before.keys()
    assert {fw_id for fw_id, fw in after.items() if fw["state"] == "READY"} == \
           {fw_id for fw_id, fw in before.items() if fw["state"] == "FIZZLED"}
    assert all(after[fw_id] == fw for fw_id, fw in before.items() if fw["state"] == "COMPLETED")
    assert "no FIZZLED Firework, nothing to rerun" in _alloyscreen("rerun", campaign_id, "--failed").stdout

    # a worker that died after checking a Firework out leaves it RUNNING: status calls it lost, lpad reruns it
    with project_launchpad() as launchpad:
        firework, _ = launchpad.checkout_fw(FWorker(category="dft"), str(tmp_path))
    lost_id = firework.fw_id
    report = _status(campaign_id, "--lost-after", "0")
    assert report["status"] == "stalled" and report["workflow"]["lost"] == [{"fw_id": lost_id,
                                                                           "name": before[lost_id]["name"]}]
    assert database["fireworks"].find_one({"fw_id": lost_id})["state"] == "RUNNING"  # asked, not rerun
    subprocess.run([str(BIN / "lpad"), "-l", str(config), "detect_lostruns", "--time", "0", "--rerun"],
                   env=dict(os.environ), capture_output=True, timeout=120, check=True)

    _run_workers(database, tmp_path, {"cheap-again": "cheap", "dft-again": "dft"})
    done = _fireworks(database)
    assert done.keys() == before.keys()
    assert all(done[fw_id] == fw for fw_id, fw in before.items() if fw["state"] == "COMPLETED")
    report = _status(campaign_id)
    assert report["status"] == "completed" and report["workflow"]["state"] == "COMPLETED"
    assert report["stages"][1]["validations"] == 2 and report["workflow"]["fizzled"] == []
    calculations = database["calculations"].find({"provenance.campaign_id": campaign_id}, {"formula": 1, "n_atoms": 1})
    cells = Counter((c["formula"], c["n_atoms"]) for c in calculations if len(Composition(c["formula"])) > 1)
    assert set(cells.values()) == {1}, cells  # no alloy cell calculated twice, the rerun labels' included
