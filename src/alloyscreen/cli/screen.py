"""``alloyscreen screen``: a campaign's whole candidate space through a stored surrogate, validating nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from alloyscreen.campaign.round.screen import Screen, screen
from alloyscreen.errors import AlloyscreenError
from alloyscreen.progress import show_progress

OUT_SUFFIXES = (".csv", ".json")


@click.command("screen")
@click.argument("source", metavar="SPEC_OR_CAMPAIGN")
@click.option("--model", "model_id", default=None, help="Model id in the registry  [default: the campaign's latest]")
@click.option("-n", "count", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best candidates.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes, each scoring a contiguous part of the space.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result: .csv (the best candidates) or .json (everything --json prints).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def screen_command(source: str, model_id: str | None, count: int, workers: int, out: Path | None, as_json: bool,
                   quiet: bool) -> None:
    """Predict every candidate of a campaign's space (spec file or stored campaign) and show the best.

    Ranks by the predicted mean of the labelled objective in the campaign's
    direction; prints the spread (calibrated std) beside it, and the count,
    min, mean, max and quantiles of the predicted mean over the whole space.
    """
    if out is not None and out.suffix not in OUT_SUFFIXES:
        raise AlloyscreenError(f"--out {str(out)!r}; allowed: a file ending in {' or '.join(OUT_SUFFIXES)}")
    if quiet:
        result = screen(source, model_id, count, workers)
    else:
        with show_progress():
            result = screen(source, model_id, count, workers)
    if out is not None:
        _write(result, out)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    _print(result)


def _write(result: Screen, path: Path) -> None:
    """Write the best candidates (.csv) or the whole result (.json)."""
    if path.suffix == ".json":
        path.write_text(json.dumps(result.to_dict(), indent=1) + "\n")
        return
    rows = result.top()
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["rank", "candidate_id", "formula", "prototype", "mean", "std",
                                                    "position"])
        writer.writeheader()
        writer.writerows(rows)


def _print(result: Screen) -> None:
    """The summary of the space, then the best candidates, as text."""
    summary = result.to_dict()["summary"]
    unit = result.unit
    click.echo(f"campaign {result.campaign} ({result.campaign_id}), model {result.model_id}: "
               f"{result.scored.summary.rows:,} candidates in {result.seconds:.1f} s "
               f"({result.workers} worker{'s' * (result.workers > 1)})")
    if summary["count"]:
        quantiles = "  ".join(f"{key} {value:.4g}" for key, value in summary.items() if key.startswith("p"))
        click.echo(f"predicted {result.target} ({unit}): min {summary['min']:.4g}  mean {summary['mean']:.4g}  "
                   f"max {summary['max']:.4g}")
        click.echo(f"quantiles: {quantiles}")
    click.echo(f"best by predicted {result.target} ({result.direction}):")
    click.echo(f"{'rank':<5}{'formula':<34}{'proto':<6}{'mean':>12}{'std':>12}")
    for row in result.top():
        click.echo(f"{row['rank']:<5}{row['formula']:<34}{row['prototype']:<6}{row['mean']:>12.4g}{row['std']:>12.4g}")
