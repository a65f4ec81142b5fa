"""``alloyscreen featurize FILE``: descriptors of formulas (one a line) to CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import click

from alloyscreen.descriptors import FEATURE_SET, featurize_file


@click.command("featurize")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Output file, .csv or .parquet by extension (default: FILE stem + .descriptors.csv).",
)
def featurize(file: Path, output: Path | None) -> None:
    """Compute the descriptor set (magpie statistics and HEA parameters) of the formulas in FILE."""
    written = featurize_file(file, output or file.with_name(f"{file.stem}.descriptors.csv"))
    click.echo(f"wrote {written} ({FEATURE_SET})")
