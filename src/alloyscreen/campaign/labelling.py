"""Turn a selected candidate into a label of the campaign target: its structures and its outcome.

- ``mixing_energy``: bulk structure (SQS or random) -> validation -> mixing energy
  (in-process here; VASP through :mod:`alloyscreen.campaign.fanout`);
- ``delta_g_h``: slab of the close-packed facet (made here) -> adsorption sites ->
  dG_H of H on each, one job per site (:mod:`alloyscreen.campaign.fanout`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.campaign.spec import SlabSpec, StageSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import SelectionOutcome
from alloyscreen.structures import GeneratedStructure, choose_supercell, make_slab
from alloyscreen.structures.bulk import SQS_MIN_ATOMS, random_solid_solution, special_quasirandom_structure
from alloyscreen.structures.elements import element_structure
from alloyscreen.validation.maker import validate
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import store_mixing_energy_label


class Candidate(BaseModel):
    """A candidate as the loop passes it around."""

    id: str = Field(description="candidate id")
    composition: dict[str, float] = Field(description="element -> atomic fraction")
    prototype: str = Field(description="fcc, bcc or hcp")


class LabelOutcome(SelectionOutcome):
    """What validating one candidate at one stage gave: the selection's outcome, with its candidate and place.

    The label job returns it, the selection stores its :class:`SelectionOutcome`
    part, and the next rounds read it back from the selections
    (:func:`alloyscreen.campaign.rounds.stage_history`).
    """

    candidate: Candidate = Field(description="the candidate")
    stage: str = Field(description="stage name")
    round: int = Field(description="round the candidate was selected in")
    core_hours: float = Field(0.0, ge=0, description="core-hours the label's calculations took (when they first ran)")
    reused: bool = Field(False, description="True when the calculation came from the cache")

    def stored(self) -> SelectionOutcome:
        """The part stored on the selection (its candidate, stage and round are the selection's own)."""
        return SelectionOutcome.model_validate(self.model_dump(include=set(SelectionOutcome.model_fields)))


def candidate_structure(candidate: Candidate, stage: StageSpec, seed: int) -> tuple[Structure, str]:
    """Generate and store the stage's structure of ``candidate``; return it and its document id.

    A pure element gets its primitive cell (the cell of its reference crystal).
    Without a fixed supercell, the smallest near-isotropic supercell that holds
    the fractions within ``max_error``, inside the calculator's ``cell_atoms``
    range (a few atoms for DFT, 32 and more for potentials; an SQS needs at
    least ``SQS_MIN_ATOMS``), is used and recorded.
    """
    if len(candidate.composition) == 1:
        generated = element_structure(next(iter(candidate.composition)), candidate.prototype)
        return generated.structure, _store_structure(generated, candidate)
    generate = special_quasirandom_structure if stage.structure.method == "sqs" else random_solid_solution
    options: dict[str, Any] = {"seed": seed, "max_error": stage.structure.max_error}
    if stage.structure.supercell is not None:
        options["supercell"] = tuple(stage.structure.supercell)
    else:
        fewest, most = get_calculator(stage.calculator).cell_atoms
        fewest = max(fewest, SQS_MIN_ATOMS) if stage.structure.method == "sqs" else fewest
        options["supercell"] = choose_supercell(candidate.composition, candidate.prototype, min_atoms=fewest,
                                                max_atoms=most, max_error=stage.structure.max_error)
    if stage.structure.method == "sqs":
        options["iterations"] = stage.structure.iterations
    generated = generate(candidate.composition, candidate.prototype, **options)
    return generated.structure, _store_structure(generated, candidate)


def _store_structure(generated: GeneratedStructure, candidate: Candidate) -> str:
    """Insert the ``structures`` document of ``candidate``'s generated structure (once); return its id."""
    document = generated.to_document(candidate_id=candidate.id,
                                     provenance=current_job_provenance(parents=[candidate.id]))
    insert_document(get_database()["structures"], document)
    return document.id


def candidate_slab(candidate: Candidate, slab: SlabSpec, seed: int) -> tuple[GeneratedStructure, str]:
    """Generate and store the close-packed slab of ``candidate``; return it and its document id."""
    generated = make_slab(candidate.composition, candidate.prototype, size=slab.size, layers=slab.layers,
                          fixed_layers=slab.fixed_layers, vacuum=slab.vacuum, seed=seed, max_error=slab.max_error)
    return generated, _store_structure(generated, candidate)


def mixing_energy_label(candidate: Candidate, stage: StageSpec, campaign_id: str | None, round_index: int,
                        seed: int) -> LabelOutcome:
    """Validate ``candidate``'s bulk structure and label its mixing energy (eV/atom).

    A candidate whose structure cannot be made (e.g. a fixed supercell too small
    for its fractions) comes back failed with the reason; the campaign goes on.
    """
    try:
        structure, structure_id = candidate_structure(candidate, stage, seed)
    except AlloyscreenError as error:
        return failed_outcome(candidate, stage, round_index, error)
    calculation, reused = validate(structure, stage.calculator, stage.settings, stage.mode,
                                   parents=[structure_id, candidate.id], campaign_id=campaign_id)
    return mixing_energy_outcome(candidate, stage, round_index, structure_id, calculation, reused)


def mixing_energy_outcome(candidate: Candidate, stage: StageSpec, round_index: int, structure_id: str,
                          calculation: CalculationDocument, reused: bool,
                          crystals: dict[str, dict[str, CalculationDocument]] | None = None) -> LabelOutcome:
    """Label a finished calculation of ``candidate`` (against the lowest of ``crystals``, default: computed here)."""
    outcome = {"candidate": candidate, "stage": stage.name, "round": round_index, "calculation_id": calculation.id,
               "structure_id": structure_id, "status": calculation.status, "reused": reused,
               "core_hours": float(calculation.core_hours or 0.0)}
    if calculation.status != "completed":
        return LabelOutcome(**outcome, error=calculation.error)
    try:
        label = store_mixing_energy_label(calculation, candidate.id, stage.settings, crystals)
    except AlloyscreenError as error:  # e.g. every reference crystal of an element failed
        return LabelOutcome(**{**outcome, "status": "failed"}, error=str(error))
    return LabelOutcome(**outcome, value=label.value, label_id=label.id)


def pooled_stage(stage: StageSpec, candidate: Candidate, target: str, pool: list[str] | None) -> StageSpec:
    """``stage`` with its settings resolved for ``pool`` (default: the candidate's elements, and H for delta_g_h)."""
    pool = pool or [*candidate.composition, *(["H"] if target == "delta_g_h" else [])]
    return stage.model_copy(update={"settings": pool_settings(stage.calculator, pool, stage.settings)})


def failed_outcome(candidate: Candidate, stage: StageSpec, round_index: int, error: Exception) -> LabelOutcome:
    """The outcome of a candidate whose label could not even be started (no structure, bad settings)."""
    return LabelOutcome(candidate=candidate, stage=stage.name, round=round_index, status="failed", error=str(error),
                        reused=False)


def label_candidate(candidate: Candidate, stage: StageSpec, campaign_id: str | None, round_index: int, seed: int,
                    pool: list[str] | None = None) -> LabelOutcome:
    """Validate ``candidate`` in-process with ``stage``'s calculator and store its mixing-energy label.

    The stage's settings are resolved once for the element ``pool`` (default:
    the candidate's elements), so the label and its references share them.
    Failures come back as failed outcomes with the reason. (dG_H labels and
    VASP stages run as jobs of their own: :mod:`alloyscreen.campaign.fanout`.)
    """
    try:
        stage = pooled_stage(stage, candidate, "mixing_energy_per_atom", pool)
    except AlloyscreenError as error:
        return failed_outcome(candidate, stage, round_index, error)
    return mixing_energy_label(candidate, stage, campaign_id, round_index, seed)
