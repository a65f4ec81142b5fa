"""``alloyscreen worker-check``: what a FireWorks worker will run of a campaign, before it is queued."""

from __future__ import annotations

from pathlib import Path

import click

from alloyscreen.campaign.engine.routing import worker_duties
from alloyscreen.campaign.results.queries import load_campaign_spec
from alloyscreen.db.client import get_database


@click.command("worker-check")
@click.argument("fworker_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("campaign")
def worker_check(fworker_file: Path, campaign: str) -> None:
    """What the worker of FWORKER_FILE (``rlaunch -w``) runs of CAMPAIGN; a category no job carries fails."""
    spec = load_campaign_spec(get_database(), campaign)
    name, duties = worker_duties(fworker_file, spec)
    click.echo(f"worker {name} runs of campaign {spec.name}: {'; '.join(duties)}")
