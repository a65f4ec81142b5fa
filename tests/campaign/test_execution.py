import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from jobflow import Flow, Response, job

from alloyscreen.campaign.engine.execution import run_here, submit
from alloyscreen.campaign.engine.flow import CampaignMaker, start_campaign
from alloyscreen.campaign.engine.records import set_campaign_status
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.stores import get_job_store, get_launchpad, write_launchpad_file

BIN = Path(sys.executable).parent


@job(data="matrix")
def _big_output(n: int) -> Response:
    return Response(output={"matrix": np.arange(n * n, dtype=float).reshape(n, n).tolist(), "n": n})


def _campaign_flow(name: str) -> Flow:
    spec = load_spec({"name": name, "seed": 7, "stages": [{"name": "emt", "calculator": "emt", "max_validations": 1}],
                      "candidates": {"elements": ["Cu", "Ni"], "n_components": 2,
                                     "sampling": {"kind": "grid", "step": 0.5}}})
    register = start_campaign(CampaignMaker.from_spec(spec))
    finish = set_campaign_status(register.output, "completed")
    return Flow([register, finish], name=name)


def test_flow_runs_locally_against_the_job_store(database):
    flow = _campaign_flow("local-run")
    responses = run_here(flow)
    campaign_id = responses[flow.jobs[0].uuid][1].output
    assert database["campaigns"].find_one({"_id": campaign_id})["status"] == "completed"
    store = get_job_store()
    store.connect()
    assert store.get_output(flow.jobs[1].uuid) == "completed"


def test_large_output_goes_to_gridfs_and_round_trips(database):
    big = _big_output(60)
    run_here(big)
    store = get_job_store()
    store.connect()
    raw = store.docs_store.query_one({"uuid": big.uuid})
    assert "blob_uuid" in json.dumps(raw["output"]["matrix"])  # a reference, not the data
    assert database["jobflow_data.files"].count_documents({}) >= 1
    assert store.get_output(big.uuid, load=True)["matrix"][59][59] == 60 * 60 - 1


def test_fireworks_rlaunch_runs_the_flow_to_completed(database, tmp_path):
    launchpad = get_launchpad()
    launchpad.reset("", require_password=False)
    submit(_campaign_flow("fireworks-run"), launchpad)
    config = write_launchpad_file(tmp_path / "my_launchpad.yaml")
    env = dict(os.environ)
    subprocess.run([str(BIN / "rlaunch"), "-l", str(config), "rapidfire"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    listing = subprocess.run([str(BIN / "lpad"), "-l", str(config), "get_wflows", "-d", "more"], cwd=tmp_path,
                             env=env, check=True, capture_output=True, text=True, timeout=120).stdout
    workflow = json.loads(listing)
    assert workflow["name"].startswith("fireworks-run") and workflow["state"] == "COMPLETED"
    assert database["campaigns"].find_one({"name": "fireworks-run"})["status"] == "completed"
