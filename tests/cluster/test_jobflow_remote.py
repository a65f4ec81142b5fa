"""A campaign through jobflow-remote: ``alloyscreen submit --engine jobflow-remote``, then its runner.

The project has one local worker per category: ``cheap`` (the driver jobs and
the EMT screening) runs jobs as shell processes, ``dft`` (an EMT confirmation
stage routed as DFT) submits each of its jobs to the local one-node SLURM.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from alloyscreen.campaign.engine.execution import run_campaign
from alloyscreen.campaign.engine.remote import write_jfremote_project
from alloyscreen.campaign.results.queries import campaign_status, top_candidates

pytestmark = [pytest.mark.workers, pytest.mark.slow]
jobflow_remote = pytest.importorskip(
    "jobflow_remote", reason="jobflow-remote is not installed: `bash scripts/setup.sh` installs it with --no-deps "
                             "(its releases pin pymongo<4.11)")

BIN = Path(sys.executable).parent
FAST = {"delay_checkout": 0.3, "delay_check_run_status": 0.3, "delay_advance_status": 0.3}
TIMEOUT = 240
STAGES = ("emt", "confirm")


def _spec(name: str) -> dict:
    """Four EMT validations (``cheap``), the best one confirmed by EMT on a ``dft`` worker."""
    cell = {"method": "random", "supercell": [1, 1, 1]}
    return {
        "name": name, "seed": 4,
        "candidates": {"elements": ["Cu", "Ni", "Pd"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 4, "acquisition": {"batch_size": 1}, "confirm_top": 1,
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 4, "category": "cheap", "structure": cell},
                   {"name": "confirm", "calculator": "emt", "max_validations": 1, "category": "dft",
                    "structure": cell}],
    }


def _top(database, campaign_id: str) -> list[tuple]:
    return [(row["formula"], *(None if row.get(stage) is None else round(row[stage], 9) for stage in STAGES))
            for row in top_candidates(database, campaign_id)]


def _script(job) -> str:
    """The script the worker ran for ``job`` (local workers: in the job's run directory)."""
    return (Path(job.run_dir) / "submit.sh").read_text()


def test_jobflow_remote_runs_a_campaign_on_shell_and_slurm_workers_like_a_local_run(slurm, database, tmp_path,
                                                                                   monkeypatch):
    folder = tmp_path / "projects"
    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(folder))
    monkeypatch.setattr(jobflow_remote.SETTINGS, "projects_folder", str(folder))
    write_jfremote_project(folder / "jfr-slurm.yaml", ["cheap", "dft"], slurm=["dft"],
                           resources={"partition": "debug", "nodes": 1, "ntasks": 1, "time": "00:05:00"},
                           runner=FAST)
    project = jobflow_remote.ConfigManager().get_project("jfr-slurm")
    controller = project.get_job_controller()
    try:
        controller.reset(max_limit=0)  # a queue of its own: nothing another test left
    finally:
        controller.close()
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(_spec("jfr-split")))
    started = time.monotonic()
    submitted = subprocess.run([str(BIN / "alloyscreen"), "submit", str(spec_path), "--engine", "jobflow-remote",
                                "--project", "jfr-slurm"], env=dict(os.environ), capture_output=True, text=True,
                               timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    campaign_id = submitted.stdout.strip()
    from jobflow_remote.jobs.runner import Runner

    Runner(project_name="jfr-slurm").run_all_jobs(max_seconds=TIMEOUT)
    seconds = time.monotonic() - started
    controller = project.get_job_controller()
    try:
        jobs = controller.get_jobs_info()
    finally:
        controller.close()
    states = {(job.name, job.worker, job.state.value) for job in jobs}
    print(f"\njobflow-remote: {len(jobs)} jobs in {seconds:.0f} s (submit + runner)")
    assert {state for _, _, state in states} == {"COMPLETED"}, sorted(states)
    status = campaign_status(database, campaign_id)
    assert status["status"] == "completed", status
    assert [(s["stage"], s["validations"], s["failed"]) for s in status["stages"]] == [("emt", 4, 0),
                                                                                      ("confirm", 1, 0)]
    (confirm,) = [job for job in jobs if job.name.startswith("confirm r")]  # the dft stage's label job
    assert confirm.worker == "dft" and "#SBATCH --partition=debug" in _script(confirm)  # run by sbatch
    assert {job.worker for job in jobs if job.name.startswith("emt r")} == {"cheap"}
    assert {job.worker for job in jobs if job is not confirm} == {"cheap"}
    assert not any("#SBATCH" in _script(job) for job in jobs if job is not confirm)  # shell processes
    assert _top(database, campaign_id) == _top(database, run_campaign({**_spec("jfr-split"),
                                                                       "name": "jfr-split-local"}))
