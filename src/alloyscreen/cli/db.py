"""``alloyscreen db``: the embedded server, schemas and the FireWorks launchpad file."""

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
