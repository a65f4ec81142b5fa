"""``alloyscreen validate``: one formula or structure file through one calculator, cached."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click
from pymatgen.core import Structure

from alloyscreen.campaign.labelling import Candidate, label_candidate
from alloyscreen.campaign.rounds import descriptor_matrix
from alloyscreen.campaign.spec import StageSpec, StructureSpec
from alloyscreen.candidates import candidate_id, prototype_from_vec
from alloyscreen.db.client import get_database
from alloyscreen.db.init import init_database
from alloyscreen.descriptors import parse_formula
from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import validate as validate_structure
from alloyscreen.validation.targets import elemental_references, mixing_energy_per_atom


def _settings(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise AlloyscreenError(f"--settings {text!r} is not JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise AlloyscreenError(f"--settings {text!r} must be a JSON object, e.g. '{{\"ecutwfc\": 40}}'")
    return value


def _prototype(composition: dict[str, float], prototype: str) -> str:
    if prototype != "auto":
        return prototype
    return str(prototype_from_vec(descriptor_matrix([composition], ["vec"])[:, 0])[0])


@click.command()
@click.argument("target")
@click.option("--calculator", "-c", type=click.Choice(["emt", "chgnet", "qe", "vasp"]), default="emt",
              show_default=True, help="Validation calculator.")
@click.option("--mode", type=click.Choice(["static", "relax", "vc-relax"]), default="vc-relax", show_default=True)
@click.option("--prototype", type=click.Choice(["auto", "fcc", "bcc", "hcp"]), default="auto", show_default=True,
              help="Lattice of a formula (auto: VEC rule).")
@click.option("--method", type=click.Choice(["sqs", "random"]), default="sqs", show_default=True,
              help="Structure of a formula: special quasirandom or random solid solution.")
@click.option("--supercell", nargs=3, type=int, default=None, help="Repeats of the conventional cell (default: auto).")
@click.option("--settings", "settings_json", default=None, help="Calculator settings as a JSON object.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def validate(target: str, calculator: str, mode: str, prototype: str, method: str, supercell: tuple[int, ...] | None,
             settings_json: str | None, seed: int, as_json: bool) -> None:
    """Validate TARGET (a formula such as CoCrFeNi, or a structure file) and print its mixing energy."""
    settings = _settings(settings_json)
    init_database(get_database())
    with contextlib.redirect_stdout(sys.stderr):  # calculators print; stdout carries the result only
        if Path(target).is_file():
            structure = Structure.from_file(target)
            calculation, reused = validate_structure(structure, calculator, settings, mode)
            value = None
            if calculation.status == "completed":
                references = elemental_references([el.symbol for el in structure.composition], calculator, settings)
                value = mixing_energy_per_atom(calculation, references)
            report = {"calculation_id": calculation.id, "status": calculation.status, "reused": reused,
                      "error": calculation.error}
        else:
            composition = parse_formula(target)
            lattice = _prototype(composition, prototype)
            stage = StageSpec(name="validate", calculator=calculator, mode=mode, settings=settings,
                              structure=StructureSpec(method=method, supercell=supercell or None), max_validations=1)
            candidate = Candidate(id=candidate_id(composition, lattice), composition=composition, prototype=lattice)
            outcome = label_candidate(candidate, stage, None, 0, seed)
            value = outcome.value
            report = {"candidate_id": candidate.id, "prototype": lattice, "calculation_id": outcome.calculation_id,
                      "status": outcome.status, "reused": outcome.reused, "error": outcome.error}
    report["mixing_energy_per_atom"] = value
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, item in report.items():
        click.echo(f"{key}: {item}")
    if report["status"] != "completed":
        raise SystemExit(1)
