"""A worker never starts a second database: a job whose environment names none, or another, fails in one line."""

import pytest
from tests.campaign.checks import category_split_spec
from tests.campaign.test_fireworks_campaign import _run_workers, _submit
from tests.campaign.test_fireworks_rerun import _alloyscreen, _run_until_stuck, _start_worker, _status

from alloyscreen.db import server
from alloyscreen.db.stores import write_launchpad_file
from alloyscreen.settings import Settings

pytestmark = pytest.mark.workers


def _fizzled_error(campaign_id: str) -> str:
    (fizzled,) = _status(campaign_id)["workflow"]["fizzled"]
    return fizzled["error"]


def test_workers_on_no_or_another_database_fail_their_jobs_and_start_nothing(database, tmp_path):
    campaign_id = _submit(category_split_spec("worker-database", seed=5), tmp_path)
    config = write_launchpad_file(tmp_path / "my_launchpad.yaml")
    elsewhere = tmp_path / "elsewhere"  # a node whose environment names no database and runs no server
    _run_until_stuck(database, [_start_worker(config, tmp_path / "bare-node", "cheap",
                                              ALLOYSCREEN_DATA_DIR=str(elsewhere))])
    error = _fizzled_error(campaign_id)
    assert "no database for this campaign's job" in error and str(elsewhere) in error
    assert server.read_state(Settings(data_dir=elsewhere)) is None  # no embedded server was started there
    assert database["campaigns"].count_documents({"_id": campaign_id}) == 1  # nothing written elsewhere either

    assert _alloyscreen("rerun", campaign_id, "--failed").returncode == 0
    _run_until_stuck(database, [_start_worker(config, tmp_path / "other-db-node", "cheap",
                                              ALLOYSCREEN_DB_NAME="not_the_campaigns")])
    error = _fizzled_error(campaign_id)
    assert "database 'not_the_campaigns' (from environment variable ALLOYSCREEN_DB_NAME)" in error
    assert "is not this campaign's" in error
    assert database.client["not_the_campaigns"]["campaigns"].count_documents({}) == 0

    assert _alloyscreen("rerun", campaign_id, "--failed").returncode == 0
    (tmp_path / "right").mkdir()
    _run_workers(database, tmp_path / "right", {"cheap-node": "cheap", "dft-node": "dft"})
    assert _status(campaign_id)["status"] == "completed"
