"""``alloyscreen run|submit|status|rerun|top``: campaigns from the command line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from fireworks.fw_config import RUN_EXPIRATION_SECS
from pymongo.errors import PyMongoError

from alloyscreen.campaign.engine.execution import JobFailedError, run_campaign, submit
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.engine.records import save_campaign
from alloyscreen.campaign.engine.routing import routes
from alloyscreen.campaign.engine.workflow import project_launchpad, rerun_failed, submitted
from alloyscreen.campaign.results.queries import campaign_status, find_campaign, load_campaign_spec, top_candidates
from alloyscreen.campaign.spec import load_spec
from alloyscreen.db.client import connect, get_database, resolve_uri
from alloyscreen.db.init import init_database
from alloyscreen.errors import AlloyscreenError, DatabaseError
from alloyscreen.progress import show_progress
from alloyscreen.settings import get_settings
from alloyscreen.terminal import library_noise_to

SPEC = click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))


@click.command()
@SPEC
@click.option("--quiet", is_flag=True, help="No progress bars (a calculation running over 30 s still logs a line).")
@click.option("--verbose", is_flag=True, help="Show library warnings and log records too (always in the log file).")
def run(spec_path: Path, quiet: bool, verbose: bool) -> None:
    """Run a campaign to completion here; re-running resumes without repeating work."""
    spec = load_spec(spec_path)
    logging.getLogger("jobflow").setLevel(logging.WARNING)
    log_path = get_settings().runs_dir / "campaigns" / f"{spec.campaign_id}.log"
    get_database()  # an unreachable database: its one line, before anything else is said
    click.echo(f"campaign {spec.name}: id {spec.campaign_id}, library messages in {log_path}", err=True)
    try:
        with library_noise_to(log_path, verbose):  # stdout carries only the id
            if quiet:
                run_campaign(spec)
            else:
                with show_progress():
                    run_campaign(spec)
    except (JobFailedError, PyMongoError) as error:  # a job raised, or the database went away between jobs
        raise _explain_stop(spec.name, spec_path, error, log_path) from None
    click.echo(spec.campaign_id)


def _explain_stop(name: str, spec_path: Path, error: Exception, log_path: Path) -> AlloyscreenError:
    """One line for a campaign that stopped: the database went away, or a job failed."""
    settings = get_settings()
    try:
        connect(resolve_uri(settings, start=False), settings.server_timeout_ms).close()
    except AlloyscreenError as unreachable:
        again = f"re-run `alloyscreen run {spec_path}` when it is back to resume"
        hint = "" if "re-run" in str(unreachable) else f"; {again}"
        return DatabaseError(f"campaign {name} stopped: {unreachable}{hint}")
    return AlloyscreenError(f"campaign {name} failed: {error}; re-running `alloyscreen run {spec_path}` resumes "
                            f"without repeating finished work (log: {log_path})")


@click.command("submit")
@SPEC
@click.option("--engine", type=click.Choice(["fireworks", "jobflow-remote"]), default="fireworks", show_default=True,
              help="fireworks: the LaunchPad (rlaunch, qlaunch); jobflow-remote: a jobflow-remote project's queue "
                   "(`jf runner start`), one worker per category.")
@click.option("--project", default=None,
              help="jobflow-remote project (default: JFREMOTE_PROJECT, the only project there is, else "
                   "`alloyscreen`, written for the database in use when missing).")
def submit_command(spec_path: Path, engine: str, project: str | None) -> None:
    """Put a campaign on the FireWorks LaunchPad (run it with `rlaunch rapidfire` or `qlaunch`) or jobflow-remote."""
    spec = load_spec(spec_path)
    init_database(get_database())
    if engine == "fireworks":
        ids = submit(CampaignMaker.from_spec(spec).make())
        save_campaign(spec, "created")
        click.echo(f"campaign {spec.name}: id {spec.campaign_id}; fireworks {sorted(ids.values())}", err=True)
    else:
        from alloyscreen.campaign.engine.remote import prepare_project, submit_remote

        categories = routes(spec)
        name, written = prepare_project(categories, project)
        if written is not None:
            click.echo(f"wrote jobflow-remote project {name} ({written}): one shell worker per category", err=True)
        db_ids = submit_remote(CampaignMaker.from_spec(spec).make(), categories, name)
        save_campaign(spec, "created")
        click.echo(f"campaign {spec.name}: id {spec.campaign_id}; jobflow-remote project {name}, {len(db_ids)} jobs "
                   f"queued; run them with `jf -p {name} runner start`", err=True)
    click.echo(spec.campaign_id)


@click.command()
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--lost-after", "lost_after_s", type=click.FloatRange(min=0), default=RUN_EXPIRATION_SECS,
              show_default=True, help="Seconds without a ping after which a RUNNING Firework counts as lost.")
def status(campaign: str, as_json: bool, lost_after_s: float) -> None:
    """Progress of a campaign: stages, budgets spent, failures with reasons; its Fireworks when submitted.

    Then, for each pair of stages, the Spearman rank correlation and the share
    of same-sign labels over the candidates both labelled (none below 3).
    """
    report = campaign_status(get_database(), campaign, lost_after_s)
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    click.echo(f"{report['name']} ({report['campaign_id']}): {report['status']}, round {report['round']}"
               + (f" - {report['message']}" if report["message"] else ""))
    size = f"{report['space_size']:,}" + ("" if report["space_size_is_exact"] else " at most")
    click.echo(f"space: {size} candidates; selections: {report['selections']}, models: {report['models']}")
    for stage in report["stages"]:
        hours = f"{stage['core_hours']:.4g}" + (f"/{stage['max_core_hours']}" if stage["max_core_hours"] else "")
        click.echo(f"  {stage['stage']:<12} {stage['calculator']:<7} validations "
                   f"{stage['validations']}/{stage['max_validations']} ({stage['failed']} failed)  core-hours {hours}")
    for failure in report["failures"]:
        click.echo(f"  failed at {failure['stage']}: candidate {failure['candidate_id']}: {failure['error']}")
    for name, batch in report["next_batch"].items():
        _echo_next_batch(name, batch)
    _echo_agreement(report["stage_agreement"])
    workflow = report["workflow"]
    if workflow is not None:
        counts = ", ".join(f"{count} {state}" for state, count in sorted(workflow["fireworks"].items()))
        click.echo(f"fireworks: workflow {workflow['state']}; {counts}")
        for firework in workflow["fizzled"]:
            click.echo(f"  FIZZLED {firework['name']} (fw {firework['fw_id']}): {firework['error']}")
        for firework in workflow["lost"]:
            click.echo(f"  lost {firework['name']} (fw {firework['fw_id']}): RUNNING, no ping for "
                       f"{workflow['lost_after_s']:.0f} s")


def _echo_next_batch(stage: str, batch: dict) -> None:
    """The estimated core-hours of a DFT stage's chosen batch not yet labelled, or why there is none."""
    if batch["core_hours"] is None:
        click.echo(f"  next batch at {stage}: {batch['note']}")
        return
    click.echo(f"  next batch at {stage}: {batch['candidates']} candidate(s), about {batch['core_hours']:.3g} "
               f"core-hours ({batch['calculations']} calculation(s) to run, {batch['cached']} cached; "
               f"{batch['note']}; {batch['model']})")


def _echo_agreement(agreement: list[dict]) -> None:
    """Each pair of stages' rank correlation and sign agreement, or why there is none."""
    if not agreement:
        return
    properties = {row["property"] for row in agreement}
    click.echo("stage agreement (candidates labelled at both stages):")
    for row in agreement:
        pair = " -> ".join(row["stages"]) + (f" [{row['property']}]" if len(properties) > 1 else "")
        if row["sign_agreement"] is None:
            click.echo(f"  {pair}: {row['note']}")
            continue
        spearman = f"{row['spearman']:.3f}" if row["spearman"] is not None else f"- ({row['note']})"
        click.echo(f"  {pair}: n {row['n']}, Spearman {spearman}, same sign {row['sign_agreement']:.0%}")


@click.command()
@click.argument("campaign")
@click.option("--failed", is_flag=True, help="Rerun the campaign's FIZZLED Fireworks.")
def rerun(campaign: str, failed: bool) -> None:
    """Rerun a submitted campaign's failed Fireworks; COMPLETED ones never run again."""
    if not failed:
        raise AlloyscreenError("say what to rerun; allowed: --failed (the campaign's FIZZLED Fireworks); "
                               "lost runs: `lpad detect_lostruns --time SECONDS --rerun`")
    database = get_database()
    found = find_campaign(database, campaign)
    name = f"campaign {found['name']} ({found['_id']})"
    if not submitted(database, found["_id"]):
        raise AlloyscreenError(f"{name} was not submitted to FireWorks: no Firework to rerun "
                               f"(`alloyscreen run SPEC` resumes a local run)")
    with project_launchpad() as launchpad:
        again = rerun_failed(launchpad, found["_id"])
    if not again:
        click.echo(f"{name}: no FIZZLED Firework, nothing to rerun")
        return
    listed = ", ".join(f"{firework['name']} (fw {firework['fw_id']})" for firework in again)
    click.echo(f"{name}: {len(again)} FIZZLED Firework(s) set to run again: {listed}; "
               f"start rlaunch or qlaunch to run them")


@click.command()
@click.argument("campaign")
@click.option("-n", "count", type=click.IntRange(min=1), default=10, show_default=True, help="How many candidates.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def top(campaign: str, count: int, as_json: bool) -> None:
    """The best validated candidates of a campaign, with each stage's label (the campaign's target unit).

    Ranked by the most trusted label: first the candidates the last stage of
    the fidelity ladder labelled, in its order, then those whose highest stage
    is the one before, and so on (column ranked_by; front: the Pareto front at
    that stage).
    """
    rows = top_candidates(get_database(), campaign, count)
    if as_json:
        click.echo(json.dumps(rows))
        return
    spec = load_campaign_spec(get_database(), campaign)
    columns = [stage.name for stage in spec.stages] + [o.name for o in spec.objectives if o.name != spec.target]
    front = "front" if len(spec.objectives) > 1 else ""
    widths = [max(14, len(c) + 2) for c in columns]  # a long property name keeps a gap before it
    by = max(11, *(len(stage.name) + 2 for stage in spec.stages))
    named = max(9, *(len(row["formula"]) + 2 for row in rows)) if rows else 9  # a long formula keeps its gap
    click.echo(f"{'rank':<5}{front:<6}{'formula':<{named}}{'proto':<6}{'ranked_by':<{by}}"
               + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for rank, row in enumerate(rows, start=1):
        values = "".join(f"{row[c]:>{w}.4g}" if c in row else f"{'-':>{w}}" for c, w in zip(columns, widths,
                                                                                               strict=True))
        click.echo(f"{rank:<5}{row.get('pareto_front', ''):<6}{row['formula']:<{named}}{row['prototype']:<6}"
                   f"{row['ranked_by_stage']:<{by}}{values}")
