"""``alloyscreen phases``: the competing phases of an element pool, their hull and pair enthalpies, cached."""

from __future__ import annotations

import json

import click

from alloyscreen.cli.validate import parse_settings
from alloyscreen.db.client import get_database
from alloyscreen.db.init import init_database
from alloyscreen.errors import AlloyscreenError
from alloyscreen.settings import get_settings
from alloyscreen.structures.prototypes import PROTOTYPES
from alloyscreen.terminal import library_noise_to
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.phases import pool_hull
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.registry import CALCULATORS, is_remote
from alloyscreen.validation.targets import MixingEnergyMaker


@click.command()
@click.argument("elements", nargs=-1, required=True)
@click.option("--calculator", "-c", type=click.Choice(sorted(n for n in CALCULATORS if not is_remote(n))),
              default="emt", show_default=True, help="Calculator that relaxes every phase.")
@click.option("--settings", "settings_json", default=None, help="Calculator settings as a JSON object.")
@click.option("--prototypes", default=",".join(PROTOTYPES), show_default=True, help="Comma-separated prototypes.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def phases(elements: tuple[str, ...], calculator: str, settings_json: str | None, prototypes: str,
           as_json: bool) -> None:
    """Relax the ordered phases of every pair of ELEMENTS; print their formation energies and the hull.

    Formation energies in eV/atom against the same calculator's vc-relaxed elements.
    """
    settings = parse_settings(settings_json)
    pool = sorted(set(elements))
    if len(pool) < 2:
        raise AlloyscreenError(f"competing phases need a pair, got elements {pool}; allowed: two elements or more")
    init_database(get_database())
    with library_noise_to(get_settings().runs_dir / "phases.log", False):  # stdout carries the result only
        settings = pool_settings(calculator, pool, settings)  # bad input: one line, exit 2
        label = MixingEnergyMaker(name="phases", validation=ValidationMaker(calculator=calculator, settings=settings))
        hull = pool_hull(label, pool, [name.strip() for name in prototypes.split(",") if name.strip()])
    energies, on_hull = {phase.name: phase.formation_energy for phase in hull.phases}, hull.stable()
    if as_json:
        click.echo(json.dumps({"pool": pool, "calculator": calculator, "phases": energies, "on_hull": on_hull,
                               "pair_enthalpies": {f"{a}-{b}": v for (a, b), v in hull.pair_enthalpies().items()}}))
        return
    for name, value in sorted(energies.items(), key=lambda item: item[1]):
        click.echo(f"{name:<16} {value:+.4f} eV/atom{'  on the hull' if name in on_hull else ''}")
    if not on_hull:
        click.echo(f"no phase lies below the elements: the hull of {'-'.join(pool)} is the elements alone")
