"""``alloyscreen validate``: one formula or structure file through one calculator, cached."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pymatgen.core import Structure

from alloyscreen.campaign.labels.costs import validate_plan
from alloyscreen.campaign.labels.labelling import Candidate, candidate_structure, label_candidate
from alloyscreen.campaign.round.models import descriptor_matrix
from alloyscreen.campaign.spec import StageSpec, StructureSpec
from alloyscreen.candidates import candidate_id, prototype_from_vec
from alloyscreen.candidates.spec import PROTOTYPES
from alloyscreen.db.client import get_database
from alloyscreen.db.init import init_database
from alloyscreen.descriptors import parse_formula
from alloyscreen.errors import AlloyscreenError
from alloyscreen.settings import get_settings
from alloyscreen.terminal import library_noise_to
from alloyscreen.validation.maker import call_here
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.references import REFERENCE_CHOICES, ReferenceChoice
from alloyscreen.validation.registry import CALCULATORS, get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker
from alloyscreen.validation.vasp import VaspCalculator


def parse_settings(text: str | None) -> dict:
    """The calculator settings of a ``--settings`` option (a JSON object; none: {}), or one clear error."""
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


def _calculation_report(calculation_id: str | None) -> dict:
    """The relaxed structure (pymatgen dict) and volume per atom (Å^3/atom) of a stored calculation."""
    found = get_database()["calculations"].find_one({"_id": calculation_id}) if calculation_id else None
    final = (found or {}).get("final_structure")
    if final is None:
        return {"final_structure": None, "volume_per_atom": None}
    structure = Structure.from_dict(final)
    return {"final_structure": final, "volume_per_atom": structure.volume / len(structure)}


def _reference_crystals(label_id: str | None) -> dict[str, str] | None:
    """Element -> the crystal that won as its reference (fcc, bcc, hcp, bcc-afm ...), from the label."""
    found = get_database()["labels"].find_one({"_id": label_id}, {"details.references": 1}) if label_id else None
    references = ((found or {}).get("details") or {}).get("references") or {}
    return {element: reference["crystal"] for element, reference in references.items()} or None


def _write_vasp_inputs(structure: Structure, settings: dict, mode: str, directory: Path) -> dict:
    """Write the VASP inputs of ``structure`` into ``directory`` (VASP runs only on a cluster)."""
    calc = VaspCalculator()
    physics, _ = calc.resolve(structure, pool_settings("vasp", [el.symbol for el in structure.composition],
                                                        settings), mode)
    files = calc.write_inputs(structure, physics, directory)
    click.echo(f"VASP does not run here: wrote {', '.join(files)} to {directory}; submit them with your VASP "
               "(POTCAR.spec names the POTCARs), or run a campaign stage under FireWorks", err=True)
    return {"status": "inputs written", "directory": str(directory), "files": files}


@click.command()
@click.argument("target")
@click.option("--calculator", "-c", type=click.Choice(sorted(CALCULATORS)), default="emt", show_default=True,
              help="Validation calculator (vasp: write the inputs to submit).")
@click.option("--mode", type=click.Choice(["static", "relax", "vc-relax"]), default="vc-relax", show_default=True)
@click.option("--prototype", type=click.Choice(PROTOTYPES), default="auto", show_default=True,
              help="Lattice of a formula (auto: VEC rule).")
@click.option("--method", type=click.Choice(["sqs", "random"]), default="sqs", show_default=True,
              help="Structure of a formula: special quasirandom or random solid solution.")
@click.option("--supercell", nargs=3, type=int, default=None,
              help="Repeats of the conventional cell (default: the smallest the calculator allows).")
@click.option("--settings", "settings_json", default=None, help="Calculator settings as a JSON object.")
@click.option("--directory", type=click.Path(path_type=Path), default=None,
              help="Where --calculator vasp writes its inputs (default: ./vasp-FORMULA).")
@click.option("--seed", default=0, show_default=True)
@click.option("--references", type=click.Choice(REFERENCE_CHOICES), default="ground_state", show_default=True,
              help="Elemental references: each element's ground-state crystal, or search: the lowest of fcc, bcc, "
                   "hcp (and antiferromagnetic starts).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--verbose", is_flag=True, help="Show library warnings and log records too (always in the log file).")
def validate(target: str, calculator: str, mode: str, prototype: str, method: str, supercell: tuple[int, ...] | None,
             settings_json: str | None, directory: Path | None, seed: int, as_json: bool, verbose: bool,
             references: ReferenceChoice) -> None:
    """Validate TARGET (a formula such as CoCrFeNi, or a structure file) and print its mixing energy.

    Prints the relaxed structure and its volume per atom too; exits non-zero when the calculation failed.
    """
    settings = parse_settings(settings_json)
    init_database(get_database())
    with library_noise_to(get_settings().runs_dir / "validate.log", verbose):  # stdout carries the result only
        given = Structure.from_file(target) if Path(target).is_file() else None
        composition = parse_formula(target) if given is None else given.composition.fractional_composition.as_dict()
        pool_settings(calculator, list(composition), settings)  # bad input: one line, exit 2
        stage = StageSpec(name="validate", calculator=calculator, mode=mode, settings=settings,
                          structure=StructureSpec(method=method, supercell=supercell or None), max_validations=1)
        label = MixingEnergyMaker(name="validate", validation=stage.validation_maker(), references=references)
        report: dict[str, Any]
        if given is None:
            lattice = _prototype(composition, prototype)
            candidate = Candidate(id=candidate_id(composition, lattice), composition=composition, prototype=lattice)
            report = {"candidate_id": candidate.id, "prototype": lattice}
        else:
            report = {"formula": given.composition.reduced_formula}
        plan = validate_plan(label, stage, seed, given, candidate if given is None else None)
        if plan is not None:  # a DFT calculation says what it will cost before it starts
            click.echo(plan.describe(), err=True)
            report.update({"plan": plan.model_dump(mode="json")} if as_json else {})
        if calculator == "vasp":
            structure = given or candidate_structure(candidate, stage.structure_maker(seed),
                                                     get_calculator("vasp").cell_atoms)[0]
            folder = directory or Path(f"vasp-{structure.composition.reduced_formula}")
            report.update(_write_vasp_inputs(structure, settings, mode, folder))
        else:
            outcome = (call_here(label.make(given)) if given is not None
                       else label_candidate(candidate, stage, label, None, seed))
            report.update({"calculation_id": outcome.calculation_id, "status": outcome.status,
                           "reused": outcome.reused, "error": outcome.error, "mixing_energy_per_atom": outcome.value,
                           "reference_crystals": _reference_crystals(outcome.label_id)})
            report.update(_calculation_report(outcome.calculation_id))
    if as_json:
        click.echo(json.dumps(report))
    else:
        for key, item in report.items():
            if key != "final_structure":
                click.echo(f"{key}: {item}")
        if report.get("final_structure"):
            click.echo(f"final_structure:\n{Structure.from_dict(report['final_structure'])}")
    if report["status"] not in ("completed", "inputs written"):
        raise SystemExit(1)
