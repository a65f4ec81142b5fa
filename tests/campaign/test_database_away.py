import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pymongo import MongoClient
from tests.campaign.checks import assert_each_structure_validated_once

from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.server import _free_port

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_database_going_away_stops_the_run_clearly_then_it_resumes(tmp_path, spawn_server):
    port = _free_port()
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true&journal=true"
    storage = tmp_path / "storage"
    server = spawn_server(storage, port)
    spec_data = {
        "name": "db-away", "seed": 4,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au", "Ag"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.125}, "prototype": "fcc"},
        "initial_random": 4, "acquisition": {"batch_size": 2},
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 10,
                    "structure": {"method": "random", "supercell": [2, 2, 2]}}],
    }
    path = tmp_path / "db-away.yaml"
    path.write_text(yaml.safe_dump(spec_data))
    campaign_id = load_spec(path).campaign_id
    env = {**os.environ, "ALLOYSCREEN_MONGO_URI": uri, "ALLOYSCREEN_DB_NAME": "away",
           "ALLOYSCREEN_DATA_DIR": str(tmp_path / "data"),
           "ALLOYSCREEN_SERVER_TIMEOUT_MS": "4000"}
    command = [str(BIN / "alloyscreen"), "run", "--quiet", str(path)]
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with MongoClient(uri) as client:
        deadline = time.monotonic() + 240
        while client.away.selections.count_documents({"outcome.status": "completed"}) < 3:
            assert run.poll() is None and time.monotonic() < deadline, "the run ended before the database went away"
            time.sleep(0.1)
    server.send_signal(signal.SIGKILL)
    server.wait()
    killed = time.monotonic()
    _, stderr = run.communicate(timeout=180)
    # one 4 s server timeout, then the rest fails at once (each operation, lock and clean-up waited 4 s before)
    assert time.monotonic() - killed < 4 + 7, stderr
    assert run.returncode == 2
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: campaign db-away stopped: cannot reach MongoDB at ") and f":{port}" in last
    assert last.endswith(f"re-run `alloyscreen run {path}` when it is back to resume")
    spawn_server(storage, port)  # the database is back, with what it had
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == campaign_id
    with MongoClient(uri) as client:
        assert client.away.campaigns.find_one({"_id": campaign_id})["status"] == "completed"
        chosen = client.away.selections.distinct("candidate_id", {"stage": "emt"})
        assert client.away.selections.count_documents({"stage": "emt"}) == len(chosen) == 10
        formulas = [doc["formula"] for doc in client.away.calculations.find({}, {"formula": 1})]
        assert_each_structure_validated_once(formulas)
