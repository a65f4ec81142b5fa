"""The ``alloyscreen`` command: one line on stderr and a non-zero exit for bad input."""

from __future__ import annotations

import sys

import click

from alloyscreen.cli.campaign import rerun, run, status, submit_command, top
from alloyscreen.cli.db import db
from alloyscreen.cli.featurize import featurize
from alloyscreen.cli.phases import phases
from alloyscreen.cli.report import report
from alloyscreen.cli.screen import screen_command
from alloyscreen.cli.validate import validate
from alloyscreen.cli.worker import worker_check
from alloyscreen.errors import AlloyscreenError


class _Group(click.Group):
    """A click group that turns project errors into one clear line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AlloyscreenError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="alloyscreen")
def cli() -> None:
    """High-throughput screening of alloys and high-entropy alloys."""


for command in (db, run, submit_command, status, rerun, top, screen_command, report, featurize, validate, phases,
                worker_check):
    cli.add_command(command)
