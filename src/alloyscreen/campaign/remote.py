"""Labels from a calculator that runs only as a workflow (VASP through atomate2).

Such a stage cannot validate inside its label job: the label job replaces
itself with one validation job for the candidate's structure, one per
candidate crystal of each of its elements (each calculation once: atomate2's
jobs on a cache miss, the cached calculation otherwise), and a job that turns
their results into the label exactly as an in-process stage does. The label
job's FireWorks category reaches every one of these jobs.
"""

from __future__ import annotations

from jobflow import Flow, Job, job
from pymatgen.core import Structure

from alloyscreen.campaign.labelling import Candidate, LabelOutcome, candidate_structure, mixing_energy_outcome
from alloyscreen.campaign.rounds import conclude_label
from alloyscreen.campaign.spec import StageSpec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import ValidationOutput, prepare, validation_job
from alloyscreen.validation.references import choose_reference, reference_crystals


def remote_label_flow(candidate: Candidate, stage: StageSpec, campaign_id: str, round_index: int, seed: int) -> Flow:
    """Return the validation jobs of ``candidate`` and of its references, then the job labelling it.

    ``stage.settings`` must be those resolved for the campaign's element pool.
    """
    structure, structure_id = candidate_structure(candidate, stage, seed)
    route = {"_category": stage.category}
    jobs: dict[str, Job] = {}

    def calculation(crystal: Structure, mode: str, parents: list[str] | None = None):
        key = prepare(crystal, stage.calculator, stage.settings, mode)[3]
        if key not in jobs:  # a pure element's candidate cell is also one of its reference crystals
            jobs[key] = validation_job(crystal, stage.calculator, stage.settings, mode,
                                       candidate.id if parents else None, parents, route)
        return jobs[key].output

    validated = calculation(structure, stage.mode, [structure_id, candidate.id])
    references = {element: {name: calculation(crystal, "vc-relax") for name, crystal in
                            reference_crystals(element, stage.calculator, stage.settings).items()}
                  for element in candidate.composition}
    label = remote_label_job(candidate, stage, campaign_id, round_index, structure_id, validated, references)
    return Flow([*jobs.values(), label], output=label.output, name=f"{stage.name} {candidate.id}")


@job
def remote_label_job(candidate: Candidate, stage: StageSpec, campaign_id: str, round_index: int, structure_id: str,
                     validated: ValidationOutput, references: dict[str, dict[str, ValidationOutput]]) -> LabelOutcome:
    """Label ``candidate`` from its finished validation and reference jobs; store the outcome on its selection."""
    chosen = None
    failed = None
    if validated.calculation.status == "completed":
        try:
            chosen = {element: choose_reference(element, {name: out.calculation for name, out in crystals.items()})
                      for element, crystals in references.items()}
        except AlloyscreenError as error:  # every crystal of an element failed
            failed = LabelOutcome(candidate=candidate, stage=stage.name, round=round_index, status="failed",
                                  error=str(error), calculation_id=validated.calculation.id,
                                  structure_id=structure_id, reused=validated.reused)
    outcome = failed or mixing_energy_outcome(candidate, stage, round_index, structure_id, validated.calculation,
                                              validated.reused, chosen)
    return conclude_label(campaign_id, stage, outcome)
