"""jobflow-remote as the cluster engine: a project on the database in use, one worker per category.

jobflow-remote runs a job on the worker its ``manager_config["worker"]`` names;
the campaign sets it to the job's category wherever it sets FireWorks'
``_category`` (:func:`alloyscreen.validation.maker.routing`), so a project with
one worker per category routes a campaign the way category-split FireWorks
workers do. The project's queue store and job store are on the campaign's
database (the job store with the collections :func:`get_job_store` uses), and
its execution config exports the ``ALLOYSCREEN_*`` settings, so the jobs read
and write the campaign's collections.

jobflow-remote is imported lazily: it is installed with ``--no-deps`` by
``scripts/setup.sh`` (every release pins pymongo<4.11; it runs on the
project's pymongo).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from jobflow import Flow, Job

from alloyscreen.campaign.engine.flow import DRIVER_CATEGORY
from alloyscreen.db.client import close_client, connect, described, get_database, resolve_uri
from alloyscreen.db.identity import COLLECTION, KEY, database_id
from alloyscreen.db.server import write_private
from alloyscreen.db.stores import DATA, OUTPUTS, uri_store_spec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.settings import Settings, get_settings

EXEC_CONFIG = "alloyscreen"
DEFAULT_PROJECT = "alloyscreen"
QUEUE = {"jobs": "jf_jobs", "flows_collection": "jf_flows", "auxiliary_collection": "jf_auxiliary",
         "batches_collection": "jf_batches"}
INSTALL = ("jobflow-remote is not installed: run `bash scripts/setup.sh`, which installs jobflow-remote 1.0.1 and "
           "its dependencies with `pip install --no-deps` (its releases pin pymongo<4.11)")


def _jobflow_remote() -> Any:
    """The jobflow_remote package, or one line saying how to install it."""
    try:
        import jobflow_remote
    except ImportError:
        raise AlloyscreenError(INSTALL) from None
    return jobflow_remote


def worker_environment(settings: Settings | None = None) -> dict[str, str]:
    """The ``ALLOYSCREEN_*`` settings a worker needs, shell-quoted (jobflow-remote writes ``export K=V`` as is).

    The database is named by its URI (the embedded server's too: a worker then
    never starts a server of its own), its name and the data directory; every
    other setting given in the environment or the config file goes along.
    """
    settings = settings or get_settings()
    values: dict[str, Any] = {name: getattr(settings, name) for name in sorted(settings.model_fields_set)}
    values.update(mongo_uri=resolve_uri(settings), db_name=settings.db_name, data_dir=settings.data_dir)
    return {f"ALLOYSCREEN_{name.upper()}": shlex.quote(str(value)) for name, value in values.items()
            if value is not None}


def jfremote_project(name: str, categories: Iterable[str], slurm: Iterable[str] = (),
                     resources: dict[str, Any] | None = None, runner: dict[str, Any] | None = None,
                     settings: Settings | None = None) -> dict[str, Any]:
    """A jobflow-remote project (a mapping, as its yaml file holds it) on the database in use.

    Parameters
    ----------
    name
        Project name (jobflow-remote finds the project by it: ``JFREMOTE_PROJECT``, ``jf -p``).
    categories
        One local worker per category, named after it; the driver category (``cheap``) is always added.
    slurm
        Categories whose worker submits to SLURM (sbatch on this host); the others run jobs as shell processes.
    resources
        Default SLURM resources of those workers (qtoolkit names: ``partition``, ``nodes``, ``ntasks``, ``time``...).
    runner
        jobflow-remote runner options (e.g. ``delay_checkout``, seconds); unset: its defaults.
    """
    settings = settings or get_settings()
    slurm = set(slurm)
    names = sorted({DRIVER_CATEGORY, *categories, *slurm})
    jf = Path(sys.executable).parent / "jf"
    root = settings.data_dir / "jfremote" / name

    def worker(category: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "local", "scheduler_type": "slurm" if category in slurm else "shell",
                                "work_dir": str(settings.runs_dir / "jfremote" / name / category),
                                "execution_cmd": f"{jf} -fe execution run {{}}"}
        if category in slurm and resources:
            spec["resources"] = dict(resources)
        return spec

    queue = {key: value for key, value in QUEUE.items() if key != "jobs"}
    project: dict[str, Any] = {
        "name": name,
        "base_dir": str(root),
        "workers": {category: worker(category) for category in names},
        "queue": {"store": uri_store_spec(QUEUE["jobs"], settings=settings), **queue},
        "exec_config": {EXEC_CONFIG: {"export": worker_environment(settings)}},
        "jobstore": {"docs_store": uri_store_spec(OUTPUTS, settings=settings),
                     "additional_stores": {"data": uri_store_spec(DATA, "GridFSStore", settings)}},
    }
    if runner:
        project["runner"] = dict(runner)
    return project


def write_jfremote_project(path: Path, categories: Iterable[str], slurm: Iterable[str] = (),
                           resources: dict[str, Any] | None = None, runner: dict[str, Any] | None = None,
                           settings: Settings | None = None) -> dict[str, Any]:
    """Write a jobflow-remote project file (named after ``path``'s stem) for the database in use; return it.

    It is checked by jobflow-remote's own model first, and written readable by
    this user only (0600): the URI may hold a password.
    """
    _jobflow_remote()
    from jobflow_remote.config.base import Project

    project = jfremote_project(path.stem, categories, slurm, resources, runner, settings)
    Project.model_validate(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(project, sort_keys=False))
    return project


def projects_folder() -> Path:
    """jobflow-remote's projects folder (``JFREMOTE_PROJECTS_FOLDER``, default ``~/.jfremote``)."""
    return Path(_jobflow_remote().SETTINGS.projects_folder)


def prepare_project(categories: Iterable[str], name: str | None = None) -> tuple[str, Path | None]:
    """The project to submit to, and the file written for it when there was none to choose.

    ``name`` unset: jobflow-remote's current project (``JFREMOTE_PROJECT``), else
    the only project in the folder, else ``alloyscreen``; a folder with no
    project gets ``alloyscreen``, one shell worker per category on the database
    in use. A project named but missing is refused by :func:`submit_remote`.
    """
    jobflow_remote = _jobflow_remote()
    from jobflow_remote.config.manager import ConfigManager

    known = ConfigManager().projects_data
    name = name or jobflow_remote.SETTINGS.project
    if name is not None or DEFAULT_PROJECT in known:
        return name or DEFAULT_PROJECT, None
    if len(known) == 1:
        return next(iter(known)), None
    if known or any(projects_folder().glob("*.*")):  # several, or one that does not parse: said when loaded
        return DEFAULT_PROJECT, None
    path = projects_folder() / f"{DEFAULT_PROJECT}.yaml"
    write_jfremote_project(path, categories)
    return DEFAULT_PROJECT, path


def _load_project(name: str | None) -> Any:
    """jobflow-remote's project ``name`` (None: its current project), or one line naming the ones there are."""
    _jobflow_remote()
    from jobflow_remote.config.manager import ConfigManager

    manager = ConfigManager()
    try:
        return manager.get_project(name)
    except Exception as error:
        known = ", ".join(sorted(manager.projects)) or "none"
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise AlloyscreenError(f"jobflow-remote project {name or '(current)'!r}: {line}; projects in "
                               f"{projects_folder()}: {known} (`alloyscreen db jfremote-project PATH` writes "
                               "one)") from None


def check_project(project: Any, categories: Iterable[str]) -> None:
    """Refuse, in one line, a project lacking a worker for a category, or whose queue is on another database."""
    missing = sorted(set(categories) - set(project.workers))
    if missing:
        raise AlloyscreenError(f"jobflow-remote project {project.name!r} has no worker for category {missing[0]!r}; "
                               f"its workers: {', '.join(sorted(project.workers)) or 'none'}; allowed: a project "
                               f"with one worker per category of the campaign ({', '.join(sorted(categories))})")
    settings = get_settings()
    expected = database_id(get_database(settings))  # made first: a new database gets its id here
    store = project.get_queue_store()
    host = str(getattr(store, "host", "localhost"))
    port = getattr(store, "port", 27017)
    uri = getattr(store, "uri", None) or (host if "://" in host else f"mongodb://{host}:{port}")
    client = connect(uri, settings.server_timeout_ms)
    try:
        found = (client[store.database][COLLECTION].find_one(KEY) or {}).get("uuid")
    finally:
        close_client(client)
    if found != expected:
        raise AlloyscreenError(f"jobflow-remote project {project.name!r} keeps its queue in database "
                               f"{store.database!r} at {described(uri, settings)}, not the campaign's "
                               f"({settings.db_name!r} from {settings.source_of('db_name')}); allowed: a project "
                               "on the database in use (`alloyscreen db jfremote-project PATH` writes one)")


def submit_remote(flow: Flow | Job, categories: Iterable[str], project_name: str | None = None) -> list[str]:
    """Add ``flow`` to jobflow-remote's queue of project ``project_name``; return the jobs' db ids.

    The project needs a worker per category and its queue on the database in
    use; a queue never used is initialised (as ``jf admin reset`` does).
    Jobs without a worker of their own run on the driver's (``cheap``).
    """
    jobflow_remote = _jobflow_remote()
    project = _load_project(project_name)
    check_project(project, categories)
    controller = project.get_job_controller()
    try:
        if controller.auxiliary.find_one({"next_id": {"$exists": True}}) is None:
            if controller.jobs.count_documents({}) or controller.flows.count_documents({}):
                raise AlloyscreenError(f"jobflow-remote project {project.name!r}: its queue holds jobs but no "
                                       "next_id; run `jf admin reset` if it may be emptied")
            controller.reset(max_limit=0)
    finally:
        controller.close()
    flow.update_metadata({"manager": "jobflow-remote"}, dynamic=True)
    exec_config = EXEC_CONFIG if EXEC_CONFIG in project.exec_config else None
    return jobflow_remote.submit_flow(flow, worker=DRIVER_CATEGORY, project=project.name, exec_config=exec_config)
