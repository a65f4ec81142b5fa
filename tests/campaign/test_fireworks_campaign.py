import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.campaign.checks import assert_each_structure_validated_once, category_split_spec

from alloyscreen.campaign.results.queries import campaign_status
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.stores import get_launchpad, write_launchpad_file

pytestmark = pytest.mark.workers

BIN = Path(sys.executable).parent


def _submit(spec_data: dict, tmp_path: Path) -> str:
    """Reset the LaunchPad, submit ``spec_data`` with the CLI; return the campaign id."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_data))
    get_launchpad().reset("", require_password=False)
    submitted = subprocess.run([str(BIN / "alloyscreen"), "submit", str(spec_path)], env=dict(os.environ),
                               capture_output=True, text=True, timeout=120, check=True)
    campaign_id = submitted.stdout.strip()
    assert campaign_id == load_spec(spec_path).campaign_id
    return campaign_id


def _run_workers(database, tmp_path: Path, workers: dict[str, str], timeout: float = 300) -> None:
    """Run one ``rlaunch rapidfire`` per worker (name -> category) until the workflow completes."""
    config = write_launchpad_file(tmp_path / "my_launchpad.yaml")
    processes = []
    for name, category in workers.items():
        directory = tmp_path / name
        directory.mkdir()
        (directory / "my_fworker.yaml").write_text(yaml.safe_dump({"name": name, "category": category,
                                                                    "query": "{}"}))
        processes.append(subprocess.Popen(
            [str(BIN / "rlaunch"), "-l", str(config), "-w", str(directory / "my_fworker.yaml"), "rapidfire",
             "--nlaunches", "infinite", "--sleep", "1", "--timeout", str(int(timeout))],
            cwd=directory, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        deadline = time.monotonic() + timeout
        while database["workflows"].find_one({}, {"state": 1})["state"] != "COMPLETED":
            if time.monotonic() > deadline:
                states = [(fw["name"], fw["state"], fw["spec"].get("_category"))
                          for fw in database["fireworks"].find({}, {"name": 1, "state": 1, "spec._category": 1})]
                raise AssertionError(f"campaign did not complete under workers {workers}: {states}")
            time.sleep(1)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    assert {fw["state"] for fw in database["fireworks"].find({}, {"state": 1})} == {"COMPLETED"}


def test_two_rlaunch_workers_finish_a_submitted_campaign(database, tmp_path):
    campaign_id = _submit({
        "name": "two-workers", "seed": 11,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Ag"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 6, "acquisition": {"batch_size": 3},
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 9,
                    "structure": {"method": "random", "supercell": [1, 1, 1]}}],
    }, tmp_path)
    _run_workers(database, tmp_path, {"worker-a": "", "worker-b": ""})
    assert database["campaigns"].find_one({"_id": campaign_id})["status"] == "completed"
    fworkers = {launch["fworker"]["name"] for launch in database["launches"].find({}, {"fworker.name": 1})}
    assert fworkers == {"worker-a", "worker-b"}
    selected = database["selections"].distinct("candidate_id", {"campaign_id": campaign_id})
    assert database["selections"].count_documents({"campaign_id": campaign_id}) == len(selected) == 9
    formulas = [c["formula"] for c in database["calculations"].find({"provenance.campaign_id": campaign_id})]
    assert_each_structure_validated_once(formulas)
    assert campaign_status(database, campaign_id)["stages"][0]["validations"] == 9


def test_category_split_workers_each_take_only_their_own_fireworks(database, tmp_path):
    campaign_id = _submit(category_split_spec("split-workers", seed=5), tmp_path)
    _run_workers(database, tmp_path, {"cheap-node": "cheap", "dft-node": "dft"})
    assert database["campaigns"].find_one({"_id": campaign_id})["status"] == "completed"
    ran_by = {launch["fw_id"]: launch["fworker"]["name"] for launch in database["launches"].find()}
    by_category: dict[str, set[str]] = {}
    for firework in database["fireworks"].find({}, {"fw_id": 1, "spec._category": 1, "name": 1}):
        by_category.setdefault(firework["spec"]["_category"], set()).add(ran_by[firework["fw_id"]])
    assert by_category == {"cheap": {"cheap-node"}, "dft": {"dft-node"}}
    dft_labels = database["fireworks"].count_documents({"spec._category": "dft"})
    assert dft_labels == 2  # the two confirmation label jobs of the dft stage, created dynamically
    assert campaign_status(database, campaign_id)["stages"][1]["validations"] == 2
