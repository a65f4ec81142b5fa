"""Bad specs fail at load with one line and write nothing; an error inside a job reaches the user and the status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from tests.campaign.test_campaign import COLLECTIONS, _spec

from alloyscreen.campaign.results.queries import campaign_status
from alloyscreen.campaign.spec import load_spec
from alloyscreen.cli.main import cli

BIN = Path(sys.executable).parent


def _run(path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "alloyscreen"), "run", "--quiet", str(path)], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=600)


def _changed(spec: dict, where: str, value) -> dict:
    *path, key = where.split(".")
    inner = spec
    for part in path:
        inner = inner[int(part)] if part.isdigit() else inner[part]
    inner[key] = value
    return spec


@pytest.mark.parametrize(("where", "value", "expected"), [
    ("candidates.elements", ["Cu", "Xx"], "unknown element symbol 'Xx'; allowed: symbols H to Og"),
    ("candidates.sampling.step", 0, "grid step 0.0; allowed: a step that divides 1"),
    ("candidates.sampling.step", -0.25, "grid step -0.25; allowed: a step that divides 1"),
    ("candidates.n_components", 5, "candidates.n_components 5 is more than the 4 elements available; allowed: 1..4"),
    ("candidates.min_fraction", {"Cu": 0.8, "Ni": 0.8}, "leave the candidate space empty"),
    ("acquisition.strategy", "bogus", "unknown acquisition function 'bogus'; allowed: ei, greedy, random"),
    ("candidates.elements", ["Cu", "Ni", "Fe"], "stage 'emt': emt cannot treat element(s) ['Fe']"),
    ("stages.0.antiferromagnetic", ["Co"], "antiferromagnetic element 'Co' is not in the element pool"),
    ("stages.0.antiferromagnetic", ["Ni"], "antiferromagnetic starts need spin-polarised calculations"),
])
def test_bad_spec_is_one_line_at_load_and_writes_nothing(database, tmp_path, where, value, expected):
    spec = _changed(_spec("bad"), where, value)
    if where == "candidates.min_fraction":
        spec["candidates"]["required"] = ["Cu", "Ni"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    before = {name: database[name].count_documents({}) for name in (*COLLECTIONS, "campaigns")}
    result = CliRunner().invoke(cli, ["run", "--quiet", str(path)])  # the command in this process: see below
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and expected in lines[0], result.stderr
    assert {name: database[name].count_documents({}) for name in (*COLLECTIONS, "campaigns")} == before


def test_a_bad_spec_is_one_line_from_the_installed_command_too(database, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_changed(_spec("bad"), "candidates.elements", ["Cu", "Xx"])))
    result = _run(path)  # a process of its own, as a user runs it: nothing else reaches stderr
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: invalid campaign spec: unknown element symbol 'Xx'; allowed: symbols H to Og (e.g. 'Pt')"]


def test_a_space_above_the_size_limit_names_its_size_and_what_to_do(tmp_path):
    spec = _spec("huge")
    spec["candidates"].update(n_components=[2, 4], sampling={"kind": "grid", "step": 0.01})
    load_spec(spec)  # under the default limit
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = _run(path, ALLOYSCREEN_MAX_SPACE_SIZE="1000")
    assert result.returncode == 2
    assert "above the limit of 1,000 (setting ALLOYSCREEN_MAX_SPACE_SIZE); allowed: a sample" in result.stderr
    assert "holds 176,847 candidates" in result.stderr  # the exact count, with thousands separators


def test_an_error_inside_a_job_is_the_one_line_and_the_campaign_is_failed(database, tmp_path):
    spec = _spec("bad-params", validations=7)
    spec["surrogate"] = {"params": {"max_depth": -3}}  # free-form booster parameters: XGBoost refuses at training
    path = tmp_path / "bad-params.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = _run(path)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2, result.stderr
    assert last.startswith("error: campaign bad-params failed: XGBoostError: value -3 for Parameter max_depth")
    assert "(job round 1)" in last and "resumes without repeating finished work" in last
    assert f"{load_spec(spec).campaign_id}.log)" in last  # where the library messages went
    status = campaign_status(database, load_spec(spec).campaign_id)
    assert status["status"] == "failed" and "max_depth" in status["message"]
    assert status["stages"][0]["validations"] == 5  # the random round was labelled and kept


def test_the_terminal_shows_the_projects_lines_and_the_log_file_the_rest(database, tmp_path):
    spec = _spec("quiet-terminal", validations=6)
    path = tmp_path / "quiet.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = _run(path, PYTHONWARNINGS="always::ResourceWarning")  # no unclosed database client at exit either
    campaign_id = load_spec(spec).campaign_id
    assert result.returncode == 0 and result.stdout.strip() == campaign_id, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"campaign quiet-terminal: id {campaign_id}, library messages in ")
    log = Path(first.rsplit(" ", 1)[1]).read_text()
    assert "FutureWarning: cd is deprecated" in log  # jobflow's, once per place
    assert "Warning" not in result.stderr


def test_a_round_whose_selections_were_partly_stored_is_chosen_again_whole(database):
    from alloyscreen.campaign.engine.execution import run_campaign

    spec = load_spec(_spec("partial-round", validations=7))
    run_campaign(spec)
    query = {"campaign_id": spec.campaign_id, "stage": "emt", "round": 1}
    chosen = [s["candidate_id"] for s in database["selections"].find(query, sort=[("batch_position", 1)])]
    assert len(chosen) == 2
    # as if the process died while writing round 1: one of its two selections stored, none labelled yet
    database["selections"].delete_many({**query, "batch_position": 1})
    database["selections"].update_many(query, {"$set": {"outcome": None}})
    run_campaign(spec)
    again = list(database["selections"].find(query, sort=[("batch_position", 1)]))
    assert [s["candidate_id"] for s in again] == chosen and all(s["outcome"] for s in again)


def test_a_rerun_replaces_the_job_outputs_of_the_last_run(database):
    from alloyscreen.campaign.engine.execution import run_campaign

    spec = load_spec(_spec("outputs-once", validations=6))
    run_campaign(spec)
    outputs = database["jobflow_outputs"]
    this_campaign = {"metadata.campaign_id": spec.campaign_id, "metadata.manager": "local"}
    first, total = outputs.count_documents(this_campaign), outputs.count_documents({})
    run_campaign(spec)  # every job runs again (reusing its stored work) and stores its output again
    assert first > 0 and outputs.count_documents(this_campaign) == first
    assert outputs.count_documents({}) == total  # jobs created while it ran carry the campaign too


def test_a_second_run_of_a_running_campaign_is_refused_in_one_line(database, tmp_path):
    from alloyscreen.db.cache import WorkCache

    spec = _spec("held")
    path = tmp_path / "held.yaml"
    path.write_text(yaml.safe_dump(spec))
    campaign_id = load_spec(spec).campaign_id
    with WorkCache(database["campaigns"]).hold(campaign_id):  # this process runs it, as far as anyone can tell
        result = _run(path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 2, result.stderr  # the campaign's id line, then the refusal
    assert lines[-1].startswith(f"error: campaign {campaign_id} is in use by pid {os.getpid()} on ")
    assert database["locks"].count_documents({"_id": f"campaigns:{campaign_id}"}) == 0  # released on exit


def test_descriptor_windows_that_no_candidate_meets_fail_the_campaign_in_one_line(database, tmp_path):
    spec = _spec("empty-windows")
    spec["candidates"]["windows"] = {"vec": [100, 200]}  # only streaming the space can tell it is empty
    path = tmp_path / "empty.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = _run(path)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and "no candidate of the space passes the descriptor windows" in last, last
    status = campaign_status(database, load_spec(spec).campaign_id)
    assert status["status"] == "failed" and status["selections"] == 0
