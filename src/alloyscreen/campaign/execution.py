"""Run a flow here, or hand it to FireWorks: the same flow either way."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from fireworks import LaunchPad
from jobflow import CURRENT_JOB, Flow, Job, run_locally
from jobflow.managers.fireworks import flow_to_workflow
from pymongo.errors import PyMongoError

from alloyscreen.campaign.flow import CampaignMaker
from alloyscreen.campaign.records import mark_campaign
from alloyscreen.campaign.spec import CampaignSpec, load_spec
from alloyscreen.db.cache import WorkCache
from alloyscreen.db.client import get_database
from alloyscreen.db.init import init_database
from alloyscreen.db.stores import get_job_store, get_launchpad
from alloyscreen.errors import AlloyscreenError


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
        return run_locally(flow, store=get_job_store(), root_dir=root_dir, ensure_success=True, log=False,
                           raise_immediately=True)
    except Exception as error:
        failed = CURRENT_JOB.job  # jobflow leaves the job that raised as the current one
        raise JobFailedError(failed.name if failed is not None else "?", error) from error


def submit(flow: Flow | Job, launchpad: LaunchPad | None = None) -> dict[int, int]:
    """Add ``flow`` to the FireWorks LaunchPad; return FireWorks' id mapping."""
    workflow = flow_to_workflow(flow, store=get_job_store())
    return (launchpad or get_launchpad()).add_wf(workflow)


def run_campaign(spec: CampaignSpec | dict[str, Any] | str | Path) -> str:
    """Run a campaign (a spec, a mapping or a yaml path) to completion here; return its id.

    Running it again resumes: finished calculations and stored rounds are reused.

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
            run_here(CampaignMaker().make(spec))
    except JobFailedError as error:
        with contextlib.suppress(PyMongoError):  # a database that went away cannot be told
            mark_campaign(spec.campaign_id, "failed", str(error))
        raise
    return spec.campaign_id
