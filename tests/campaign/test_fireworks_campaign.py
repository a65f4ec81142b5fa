import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from alloyscreen.campaign.results import campaign_status
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.stores import get_launchpad, write_launchpad_file

BIN = Path(sys.executable).parent


def test_two_rlaunch_workers_finish_a_submitted_campaign(database, tmp_path):
    spec_data = {
        "name": "two-workers", "seed": 11,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Ag"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 6, "acquisition": {"batch_size": 3},
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 9,
                    "structure": {"method": "random", "supercell": [1, 1, 1]}}],
    }
    spec_path = tmp_path / "two.yaml"
    spec_path.write_text(yaml.safe_dump(spec_data))
    launchpad = get_launchpad()
    launchpad.reset("", require_password=False)
    env = dict(os.environ)
    submitted = subprocess.run([str(BIN / "alloyscreen"), "submit", str(spec_path)], env=env, capture_output=True,
                               text=True, timeout=120, check=True)
    campaign_id = submitted.stdout.strip()
    assert campaign_id == load_spec(spec_path).campaign_id
    config = write_launchpad_file(tmp_path / "my_launchpad.yaml")
    workers = []
    for name in ("worker-a", "worker-b"):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "my_fworker.yaml").write_text(yaml.safe_dump({"name": name, "category": "", "query": "{}"}))
        workers.append(subprocess.Popen(
            [str(BIN / "rlaunch"), "-l", str(config), "-w", str(directory / "my_fworker.yaml"), "rapidfire",
             "--nlaunches", "infinite", "--sleep", "1", "--timeout", "400"],
            cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        deadline = time.monotonic() + 400
        while database["workflows"].find_one({}, {"state": 1})["state"] != "COMPLETED":
            assert time.monotonic() < deadline, "campaign did not complete under two workers"
            time.sleep(1)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=60)
    assert {fw["state"] for fw in database["fireworks"].find({}, {"state": 1})} == {"COMPLETED"}
    assert database["campaigns"].find_one({"_id": campaign_id})["status"] == "completed"
    fworkers = {launch["fworker"]["name"] for launch in database["launches"].find({}, {"fworker.name": 1})}
    assert fworkers == {"worker-a", "worker-b"}
    selected = database["selections"].distinct("candidate_id", {"campaign_id": campaign_id})
    assert database["selections"].count_documents({"campaign_id": campaign_id}) == len(selected) == 9
    formulas = [c["formula"] for c in database["calculations"].find({"provenance.campaign_id": campaign_id})]
    assert len(formulas) == len(set(formulas))  # every candidate (and reference) validated once
    assert campaign_status(database, campaign_id)["stages"][0]["validations"] == 9
