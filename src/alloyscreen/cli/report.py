"""``alloyscreen report``: a campaign's results as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import click

from alloyscreen.campaign.results.report import write_report
from alloyscreen.db.client import get_database


@click.command()
@click.argument("campaign")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write  [default: <campaign>-report.html]")
def report(campaign: str, output: Path | None) -> None:
    """Write an HTML report (ranking, parity, learning and discovery curves, Pareto, composition maps)."""
    path = write_report(get_database(), campaign, output or Path(f"{campaign}-report.html"))
    click.echo(str(path))
