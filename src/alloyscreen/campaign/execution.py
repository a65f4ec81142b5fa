"""Run a flow here, or hand it to FireWorks: the same flow either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fireworks import LaunchPad
from jobflow import Flow, Job, run_locally
from jobflow.managers.fireworks import flow_to_workflow

from alloyscreen.campaign.flow import CampaignMaker
from alloyscreen.campaign.spec import CampaignSpec, load_spec
from alloyscreen.db.client import get_database
from alloyscreen.db.init import init_database
from alloyscreen.db.stores import get_job_store, get_launchpad


def run_here(flow: Flow | Job, root_dir: str | None = None) -> dict[str, Any]:
    """Run ``flow`` with jobflow's local manager on the project JobStore."""
    return run_locally(flow, store=get_job_store(), root_dir=root_dir, ensure_success=True, log=False)


def submit(flow: Flow | Job, launchpad: LaunchPad | None = None) -> dict[int, int]:
    """Add ``flow`` to the FireWorks LaunchPad; return FireWorks' id mapping."""
    workflow = flow_to_workflow(flow, store=get_job_store())
    return (launchpad or get_launchpad()).add_wf(workflow)


def run_campaign(spec: CampaignSpec | dict[str, Any] | str | Path) -> str:
    """Run a campaign (a spec, a mapping or a yaml path) to completion here; return its id.

    Running it again resumes: finished calculations and stored rounds are reused.
    """
    spec = spec if isinstance(spec, CampaignSpec) else load_spec(spec)
    init_database(get_database())
    run_here(CampaignMaker().make(spec))
    return spec.campaign_id
