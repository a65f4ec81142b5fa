"""Turn a selected candidate into labels of the campaign's targets: its structures and its outcome.

- ``mixing_energy`` (and the stability labels derived from it): bulk structure
  (SQS or random) -> :class:`MixingEnergyMaker` (in this process, or as jobs for
  calculators that run only as a workflow);
- adsorption labels (``delta_g_h``, ``her_activity``, ``delta_g_oh``, ...):
  slab of the close-packed facet (made here) -> :class:`AdsorptionMaker`
  (one job per site).

The label Makers' outcomes of one candidate at one stage merge into one
:class:`LabelOutcome` (:func:`placed`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.campaign.spec import StageSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import PropertyOutcome, SelectionOutcome
from alloyscreen.schemas.structure import Prototype
from alloyscreen.structures.makers import StructureMaker
from alloyscreen.validation.maker import call_here
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker


class Candidate(BaseModel):
    """A candidate as the loop passes it around."""

    id: str = Field(description="candidate id")
    composition: dict[str, float] = Field(description="element -> atomic fraction")
    prototype: Prototype = Field(description="parent lattice: fcc, bcc or hcp")


class LabelOutcome(SelectionOutcome):
    """What validating one candidate at one stage gave: the selection's outcome, with its candidate and place.

    The label job returns it, the selection stores its :class:`SelectionOutcome`
    part, and the next rounds read it back from the selections
    (:func:`alloyscreen.campaign.labels.history.stage_history`).
    """

    candidate: Candidate = Field(description="the candidate")
    stage: str = Field(description="stage name")
    round: int = Field(description="round the candidate was selected in")
    core_hours: float = Field(0.0, ge=0, description="core-hours the label's calculations took (when they first ran)")

    def stored(self) -> SelectionOutcome:
        """The part stored on the selection (its candidate, stage and round are the selection's own)."""
        return SelectionOutcome.model_validate(self.model_dump(include=set(SelectionOutcome.model_fields)))


def candidate_structure(candidate: Candidate, maker: StructureMaker,
                        cell_atoms: tuple[int, int] = (1, 256)) -> tuple[Structure, str]:
    """Generate ``candidate``'s structure with ``maker`` and store it (once); return it and its document id.

    ``cell_atoms``: the calculator's range of atoms per cell, for a supercell
    the maker chooses itself (:meth:`StructureMaker.generate`).
    """
    generated = maker.generate(candidate.composition, candidate.prototype, cell_atoms)
    document = generated.to_document(candidate_id=candidate.id,
                                     provenance=current_job_provenance(parents=[candidate.id]))
    insert_document(get_database()["structures"], document)
    return generated.structure, document.id


def placed(candidate: Candidate, stage: str, round_index: int,
           outcomes: dict[str, PropertyOutcome]) -> LabelOutcome:
    """The candidate's outcome at a stage and round, merged from its label Makers' (label property -> outcome).

    It is completed when every property is; a calculation two labels share (a
    hull distance and a mixing energy of one relaxation) is charged once.
    """
    failed = {prop: outcome.error for prop, outcome in outcomes.items() if outcome.status == "failed"}
    error = "; ".join(f"{prop}: {why}" for prop, why in failed.items()) if len(outcomes) > 1 else (
        next(iter(outcomes.values())).error)
    charged = {outcome.calculation_id: outcome.core_hours or 0.0 for outcome in outcomes.values()}
    return LabelOutcome(
        candidate=candidate, stage=stage, round=round_index, status="failed" if failed else "completed",
        error=error or None, values={prop: outcome.value for prop, outcome in outcomes.items()},
        label_ids={prop: label_id for prop, outcome in outcomes.items() if (label_id := outcome.label_id)},
        calculation_ids={prop: key for prop, outcome in outcomes.items() if (key := outcome.calculation_id)},
        structure_ids={prop: key for prop, outcome in outcomes.items() if (key := outcome.structure_id)},
        core_hours=sum(charged.values()), reused=all(outcome.reused for outcome in outcomes.values()))


def label_candidate(candidate: Candidate, stage: StageSpec, label: MixingEnergyMaker, campaign_id: str | None,
                    seed: int) -> PropertyOutcome:
    """Make ``candidate``'s structure for ``stage`` and label it here with ``label`` (a mixing energy or stability).

    A candidate whose structure cannot be made (e.g. a fixed supercell too small
    for its fractions) or whose settings the pool cannot have comes back
    failed with the reason; the campaign goes on.
    """
    try:
        cell_atoms = get_calculator(stage.calculator).cell_atoms
        structure, structure_id = candidate_structure(candidate, stage.structure_maker(seed), cell_atoms)
        return call_here(label.make(structure, candidate.id, [structure_id, candidate.id], structure_id, campaign_id))
    except AlloyscreenError as error:
        return PropertyOutcome(status="failed", error=str(error))
