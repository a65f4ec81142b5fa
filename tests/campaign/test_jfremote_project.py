"""jobflow-remote as the engine: the project file, and what ``submit --engine jobflow-remote`` refuses.

The end-to-end run (shell and SLURM workers) is in tests/cluster/test_jobflow_remote.py.
"""

from __future__ import annotations

import stat

import pytest
import yaml
from click.testing import CliRunner
from tests.campaign.checks import category_split_spec

from alloyscreen.cli.main import cli
from alloyscreen.db.stores import DATA, OUTPUTS
from alloyscreen.settings import get_settings

pytestmark = pytest.mark.workers

jobflow_remote = pytest.importorskip(
    "jobflow_remote", reason="jobflow-remote is not installed: `bash scripts/setup.sh` installs it with --no-deps "
                             "(its releases pin pymongo<4.11)")


@pytest.fixture
def projects(tmp_path, monkeypatch):
    """An empty jobflow-remote projects folder (jobflow-remote reads its settings once, at import)."""
    folder = tmp_path / "projects"
    folder.mkdir()
    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(folder))
    monkeypatch.setattr(jobflow_remote.SETTINGS, "projects_folder", str(folder))
    monkeypatch.setattr(jobflow_remote.SETTINGS, "project", None)
    return folder


def _alloyscreen(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_jfremote_project_has_a_worker_per_category_on_the_database_in_use(database, projects):
    from jobflow_remote.config.base import Project

    path = projects / "cluster.yaml"
    result = _alloyscreen("db", "jfremote-project", str(path), "--slurm", "dft", "--resource", "partition=debug",
                          "--resource", "ntasks=4")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the URI may hold a password
    project = Project.model_validate(yaml.safe_load(path.read_text()))
    assert project.name == "cluster"
    workers = {name: (worker.scheduler_type, worker.resources) for name, worker in project.workers.items()}
    assert workers == {"cheap": ("shell", None), "dft": ("slurm", {"partition": "debug", "ntasks": 4})}
    settings = get_settings()
    assert project.get_queue_store().database == settings.db_name
    jobstore = project.get_jobstore()
    assert (jobstore.docs_store.collection_name, jobstore.additional_stores["data"].collection_name) == (OUTPUTS, DATA)
    exported = project.exec_config["alloyscreen"].export
    assert exported["ALLOYSCREEN_DB_NAME"] == settings.db_name
    assert exported["ALLOYSCREEN_MONGO_URI"].strip("'") == project.get_queue_store().uri


def test_submit_refuses_a_category_without_a_worker_and_a_queue_on_another_database(database, projects, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(category_split_spec("jfr-refused", seed=1)))  # categories cheap and dft
    assert _alloyscreen("db", "jfremote-project", str(projects / "cheap-only.yaml"), "--category", "cheap",
                        ).exit_code == 0
    refused = _alloyscreen("submit", str(spec_path), "--engine", "jobflow-remote", "--project", "cheap-only")
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "no worker for category 'dft'" in refused.stderr, refused.stderr

    elsewhere = projects / "elsewhere.yaml"
    from alloyscreen.campaign.engine.remote import write_jfremote_project

    write_jfremote_project(elsewhere, ["dft"], settings=get_settings(db_name=get_settings().db_name + "_other"))
    refused = _alloyscreen("submit", str(spec_path), "--engine", "jobflow-remote", "--project", "elsewhere")
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "not the campaign's" in refused.stderr, refused.stderr
    assert database["campaigns"].find_one({"name": "jfr-refused"}) is None  # nothing recorded

    missing = _alloyscreen("submit", str(spec_path), "--engine", "jobflow-remote", "--project", "cheap-onyl")
    assert missing.exit_code == 2
    assert missing.stderr.count("\n") == 1 and "cheap-only, elsewhere" in missing.stderr, missing.stderr


def test_submit_writes_a_project_when_there_is_none(database, projects, tmp_path):
    from jobflow_remote.jobs.state import JobState

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(category_split_spec("jfr-written", seed=2)))
    result = _alloyscreen("submit", str(spec_path), "--engine", "jobflow-remote")
    assert result.exit_code == 0, result.output
    assert "wrote jobflow-remote project alloyscreen" in result.stderr
    campaign = database["campaigns"].find_one({"name": "jfr-written"})
    assert campaign["status"] == "created" and result.stdout.strip() == campaign["_id"]
    project = jobflow_remote.ConfigManager().get_project("alloyscreen")
    assert set(project.workers) == {"cheap", "dft"}
    controller = project.get_job_controller()
    try:
        jobs = {job.name: (job.worker, job.state) for job in controller.get_jobs_info()}
        print(jobs)
        assert jobs["start jfr-written"] == ("cheap", JobState.READY)
        controller.reset(max_limit=0)  # leave the queue empty for the cluster test
    finally:
        controller.close()
