"""Run a flow here, or hand it to FireWorks: the same flow either way."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from fireworks import LaunchPad
from jobflow import CURRENT_JOB, Flow, Job, run_locally
from jobflow.managers.fireworks import flow_to_workflow
from pymongo.errors import PyMongoError

from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.engine.records import mark_campaign
from alloyscreen.campaign.engine.workflow import project_launchpad
from alloyscreen.campaign.spec import CampaignSpec, load_spec
from alloyscreen.db.cache import WorkCache
from alloyscreen.db.client import get_database
from alloyscreen.db.identity import database_id
from alloyscreen.db.init import init_database
from alloyscreen.db.stores import get_job_store
from alloyscreen.errors import AlloyscreenError, DatabaseError


class JobFailedError(AlloyscreenError):
    """A job raised: the first line of its error, and which job it was (the error is the cause)."""

    def __init__(self, job_name: str, error: BaseException):
        line = (str(error).strip().splitlines() or [""])[0]
        own = isinstance(error, AlloyscreenError)  # our errors are one line naming the value and what is allowed
        super().__init__(f"{line if own else f'{type(error).__name__}: {line}'} (job {job_name})")
        self.job_name = job_name


def run_here(flow: Flow | Job, root_dir: str | None = None) -> dict[str, Any]:
    """Run ``flow`` with jobflow's local manager on the project JobStore.

    Raises
    ------
    JobFailedError
        A job raised: the run stops there, with that job's error as the cause.
    """
    try:
        with get_job_store() as store:
            return run_locally(flow, store=store, root_dir=root_dir, ensure_success=True, log=False,
                               raise_immediately=True)
    except Exception as error:
        failed = CURRENT_JOB.job  # jobflow leaves the job that raised as the current one
        raise JobFailedError(failed.name if failed is not None else "?", error) from error


def _forget_outputs(metadata: dict[str, Any]) -> None:
    """Remove the job store's outputs (and their GridFS data) whose metadata holds ``metadata``."""
    with get_job_store() as store:
        store.remove_docs({f"metadata.{key}": value for key, value in metadata.items()})


def submit(flow: Flow | Job, launchpad: LaunchPad | None = None) -> dict[int, int]:
    """Add ``flow`` to the FireWorks LaunchPad (default: the project's); return FireWorks' id mapping.

    Its jobs run only on this database (:mod:`alloyscreen.db.identity`): a
    worker whose environment names none, or another, fails them in one line.
    """
    flow.update_metadata({"manager": "fireworks"}, dynamic=True)
    workflow = flow_to_workflow(flow, store=get_job_store(database_id(get_database())))
    if launchpad is not None:
        return launchpad.add_wf(workflow)
    with project_launchpad() as own:
        return own.add_wf(workflow)


def run_campaign(spec: CampaignSpec | dict[str, Any] | str | Path) -> str:
    """Run a campaign (a spec, a mapping or a yaml path) to completion here; return its id.

    Running it again resumes: finished calculations and stored rounds are reused.
    Every job's output document in the job store carries ``metadata.campaign_id``
    and ``metadata.manager: local``; those of earlier local runs of the campaign
    are removed first, so a resumed or repeated run does not add to the store.

    While it runs, this process holds the campaign's lock (a heartbeat in
    ``locks``): a second run of the same campaign is refused, and ``status``
    calls a campaign whose process died ``stalled``.

    Raises
    ------
    JobFailedError
        A job raised; the campaign is then marked ``failed`` with that line.
    LockHeldError
        The campaign is running in another live process.
    """
    spec = spec if isinstance(spec, CampaignSpec) else load_spec(spec)
    database = get_database()
    init_database(database)
    try:
        with WorkCache(database["campaigns"]).hold(spec.campaign_id):
            flow = CampaignMaker.from_spec(spec).make()
            tag = {"campaign_id": spec.campaign_id, "manager": "local"}
            flow.update_metadata(tag)  # dynamic: jobs created while it runs carry it too
            _forget_outputs(tag)
            run_here(flow)
    except JobFailedError as error:
        with contextlib.suppress(PyMongoError, DatabaseError):  # a database that went away cannot be told
            mark_campaign(spec.campaign_id, "failed", str(error))
        raise
    return spec.campaign_id
