"""Turn a selected candidate into a label: structure -> validation -> mixing energy."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.campaign.spec import StageSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.structures.bulk import random_solid_solution, special_quasirandom_structure
from alloyscreen.validation.maker import validate
from alloyscreen.validation.targets import build_label, elemental_references, mixing_energy_per_atom, store_label


class Candidate(BaseModel):
    """A candidate as the loop passes it around."""

    id: str = Field(description="candidate id")
    composition: dict[str, float] = Field(description="element -> atomic fraction")
    prototype: str = Field(description="fcc, bcc or hcp")


class LabelOutcome(BaseModel):
    """What validating one candidate at one stage gave."""

    candidate: Candidate = Field(description="the candidate")
    stage: str = Field(description="stage name")
    round: int = Field(description="round the candidate was selected in")
    value: float | None = Field(None, description="mixing energy (eV/atom); None when the calculation failed")
    status: str = Field(description="completed or failed")
    error: str | None = Field(None, description="why the calculation failed, if it did")
    calculation_id: str | None = Field(None, description="id of the calculation (None: no structure could be made)")
    structure_id: str | None = Field(None, description="id of the structure validated")
    label_id: str | None = Field(None, description="id of the label document")
    core_hours: float = Field(0.0, description="core-hours the calculation took (when it first ran)")
    reused: bool = Field(description="True when the calculation came from the cache")


def candidate_structure(candidate: Candidate, stage: StageSpec, seed: int) -> tuple[Structure, str]:
    """Generate and store the stage's structure of ``candidate``; return it and its document id."""
    generate = special_quasirandom_structure if stage.structure.method == "sqs" else random_solid_solution
    options: dict[str, Any] = {"seed": seed, "max_error": stage.structure.max_error}
    if stage.structure.supercell is not None:
        options["supercell"] = tuple(stage.structure.supercell)
    if stage.structure.method == "sqs":
        options["iterations"] = stage.structure.iterations
    generated = generate(candidate.composition, candidate.prototype, **options)
    document = generated.to_document(candidate_id=candidate.id,
                                     provenance=current_job_provenance(parents=[candidate.id]))
    insert_document(get_database()["structures"], document)
    return generated.structure, document.id


def label_candidate(candidate: Candidate, stage: StageSpec, campaign_id: str, round_index: int,
                    seed: int) -> LabelOutcome:
    """Validate ``candidate`` with ``stage``'s calculator and store its mixing-energy label.

    A candidate whose structure cannot be made (e.g. a fixed supercell too small
    for its fractions) comes back failed with the reason; the campaign goes on.
    """
    try:
        structure, structure_id = candidate_structure(candidate, stage, seed)
    except AlloyscreenError as error:
        return LabelOutcome(candidate=candidate, stage=stage.name, round=round_index, status="failed",
                            error=str(error), reused=False)
    calculation, reused = validate(structure, stage.calculator, stage.settings, stage.mode,
                                   parents=[structure_id, candidate.id], campaign_id=campaign_id)
    outcome = {"candidate": candidate, "stage": stage.name, "round": round_index, "calculation_id": calculation.id,
               "structure_id": structure_id,
               "status": calculation.status, "reused": reused,
               "core_hours": float(calculation.core_hours or 0.0)}
    if calculation.status != "completed":
        return LabelOutcome(**outcome, error=calculation.error)
    references = elemental_references(list(candidate.composition), stage.calculator, stage.settings)
    value = mixing_energy_per_atom(calculation, references)
    label = build_label(candidate.id, "mixing_energy_per_atom", value, "eV/atom", calculation.calculator,
                   [calculation.id], [references[element].id for element in sorted(references)])
    store_label(label)
    return LabelOutcome(**outcome, value=value, label_id=label.id)
