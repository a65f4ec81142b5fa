"""Turn a selected candidate into a label of the campaign target: its structures and its outcome.

- ``mixing_energy``: bulk structure (SQS or random) -> :class:`MixingEnergyMaker`
  (in this process, or as jobs for calculators that run only as a workflow);
- ``delta_g_h``: slab of the close-packed facet (made here) ->
  :class:`HydrogenAdsorptionMaker` (one job per site).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.campaign.spec import SlabSpec, StageSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import SelectionOutcome
from alloyscreen.structures import GeneratedStructure, choose_supercell, make_slab
from alloyscreen.structures.bulk import SQS_MIN_ATOMS, random_solid_solution, special_quasirandom_structure
from alloyscreen.structures.elements import element_structure
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker


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


def placed(candidate: Candidate, stage: StageSpec, round_index: int, outcome: SelectionOutcome) -> LabelOutcome:
    """A label Maker's outcome with its candidate, stage and round."""
    return LabelOutcome(candidate=candidate, stage=stage.name, round=round_index,
                        **{**outcome.model_dump(), "core_hours": outcome.core_hours or 0.0})


def failed_outcome(candidate: Candidate, stage: StageSpec, round_index: int, error: Exception) -> LabelOutcome:
    """The outcome of a candidate whose label could not even be started (no structure, bad settings)."""
    return LabelOutcome(candidate=candidate, stage=stage.name, round=round_index, status="failed", error=str(error))


def label_candidate(candidate: Candidate, stage: StageSpec, label: MixingEnergyMaker, campaign_id: str | None,
                    round_index: int, seed: int) -> LabelOutcome:
    """Make ``candidate``'s structure for ``stage`` and label its mixing energy here with ``label``.

    A candidate whose structure cannot be made (e.g. a fixed supercell too small
    for its fractions) or whose settings the pool cannot have comes back
    failed with the reason; the campaign goes on.
    """
    try:
        structure, structure_id = candidate_structure(candidate, stage, seed)
        outcome = label.run(structure, candidate.id, [structure_id, candidate.id], structure_id, campaign_id)
    except AlloyscreenError as error:
        return failed_outcome(candidate, stage, round_index, error)
    return placed(candidate, stage, round_index, outcome)
