"""``alloyscreen db``: the embedded server, schemas, the FireWorks launchpad file and a jobflow-remote project."""

from __future__ import annotations

import json
from pathlib import Path

import click

from alloyscreen.db import server
from alloyscreen.db.client import close_client, close_clients, connect, get_database, redact
from alloyscreen.db.init import init_database, write_schema_files
from alloyscreen.db.stores import write_launchpad_file
from alloyscreen.errors import AlloyscreenError
from alloyscreen.settings import get_settings


@click.group()
def db() -> None:
    """Start, stop and inspect the database; create collections and indexes."""


@db.command()
@click.option("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: a free one).")
def start(port: int | None) -> None:
    """Start the embedded database server (no-op when it runs already)."""
    settings = get_settings()
    if settings.mongo_uri:
        uri = redact(settings.mongo_uri)
        raise AlloyscreenError(f"ALLOYSCREEN_MONGO_URI is set ({uri}): no embedded server is used")
    state = server.start(settings, port=port)
    click.echo(f"embedded database running: pid {state.pid}, {redact(state.uri)}, storage {state.storage}")


@db.command()
def stop() -> None:
    """Stop the embedded database server (found by its command line if server.json was deleted)."""
    click.echo(server.stop(get_settings()))


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def status(as_json: bool) -> None:
    """Print the URI in use and whether it answers."""
    settings = get_settings()
    embedded = not settings.mongo_uri
    state = server.running_state(settings) if embedded else None
    uri = settings.mongo_uri or (state.uri if state else None)
    answering = False
    reason = "embedded database not running (alloyscreen db start)" if uri is None else None
    if uri is not None:
        try:
            close_client(connect(uri, settings.server_timeout_ms, settings))
            answering = True
        except AlloyscreenError as error:
            reason = str(error)
    report = {"uri": redact(uri) if uri else None, "embedded": embedded, "database": settings.db_name,
              "answering": answering, "reason": reason}
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"uri: {report['uri']}\ndatabase: {settings.db_name}\nembedded: {embedded}\n"
                   f"answering: {answering}" + (f" ({reason})" if reason else ""))
    if not answering:
        raise SystemExit(1)


@db.command()
@click.option("--auth", "auth", is_flag=True,
              help="Embedded server only: require a user and password (kept in a 0600 file); idempotent.")
def init(auth: bool) -> None:
    """Create collections with schema validators and indexes (running it twice changes nothing)."""
    if auth:
        settings = get_settings()
        if settings.mongo_uri:
            raise AlloyscreenError("--auth is for the embedded server: ALLOYSCREEN_MONGO_URI carries its credentials")
        click.echo(server.enable_auth(settings))
        close_clients()  # the server restarted: forget clients of its old port
    for change in init_database(get_database()):
        indexes = ", ".join(change["new_indexes"]) or "none"
        click.echo(f"{change['collection']}: validator {change['validator']}, new indexes: {indexes}")


@db.command("write-schemas")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("db_schemas"))
def write_schemas(directory: Path) -> None:
    """Regenerate db_schemas/*.json from the pydantic models."""
    for path in write_schema_files(directory):
        click.echo(str(path))


@db.command("launchpad-file")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=Path("my_launchpad.yaml"))
def launchpad_file(path: Path) -> None:
    """Write my_launchpad.yaml for the database in use (for lpad, rlaunch, qlaunch)."""
    write_launchpad_file(path)
    click.echo(f"wrote {path}: use `lpad -l {path}` and `rlaunch -l {path} rapidfire`")


def _resource(text: str) -> tuple[str, int | str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise click.BadParameter(f"{text!r}; allowed: KEY=VALUE (e.g. partition=compute, ntasks=32, time=04:00:00)")
    return key, int(value) if value.isdigit() else value


@db.command("jfremote-project")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--category", "categories", multiple=True, default=("cheap", "dft"), show_default=True,
              help="One worker per category (repeat); `cheap`, the driver jobs', is always added.")
@click.option("--slurm", "slurm", multiple=True, metavar="CATEGORY",
              help="This category's worker submits to SLURM (repeat); the others run jobs as shell processes.")
@click.option("--resource", "resources", multiple=True, metavar="KEY=VALUE",
              help="Default SLURM resources of the SLURM workers (repeat; qtoolkit names: partition, nodes, ntasks, "
                   "time, account...).")
def jfremote_project(path: Path, categories: tuple[str, ...], slurm: tuple[str, ...],
                     resources: tuple[str, ...]) -> None:
    """Write a jobflow-remote project for the database in use (put it in JFREMOTE_PROJECTS_FOLDER, ~/.jfremote)."""
    from alloyscreen.campaign.engine.remote import write_jfremote_project

    asked = dict(_resource(text) for text in resources)
    project = write_jfremote_project(path, categories, slurm, asked or None)
    workers = ", ".join(sorted(project["workers"]))
    click.echo(f"wrote {path}: jobflow-remote project {path.stem}, workers {workers}; "
               f"`alloyscreen submit SPEC --engine jobflow-remote --project {path.stem}`, then "
               f"`jf -p {path.stem} runner start`")
