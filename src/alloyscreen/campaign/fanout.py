"""Labels whose calculations run as jobs of their own, then one job makes the label.

- dG_H: the clean slab, H2 and H on every chosen site are separate jobs (in
  parallel under FireWorks);
- a mixing energy from a calculator that runs only as a workflow (VASP through
  atomate2): one job for the candidate's structure and one per candidate
  crystal of each of its elements (each calculation once).

The label job replaces itself with these jobs (the cached calculation comes
back at once; VASP runs atomate2's jobs on a cache miss) and a job that turns
their results into the outcome as an in-process label does. The label job's
FireWorks category reaches every one of these jobs.
"""

from __future__ import annotations

from jobflow import Flow, Job, job
from pymatgen.core import Structure

from alloyscreen.campaign.labelling import (
    Candidate,
    LabelOutcome,
    candidate_slab,
    candidate_structure,
    mixing_energy_outcome,
)
from alloyscreen.campaign.rounds import conclude_label
from alloyscreen.campaign.spec import StageSpec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.structure import AdsorptionSite
from alloyscreen.structures import find_sites
from alloyscreen.structures.adsorption import choose_sites
from alloyscreen.validation.maker import ValidationOutput, prepare, validation_job
from alloyscreen.validation.references import reference_crystals
from alloyscreen.validation.targets import delta_g_h_label, hydrogen_adsorption_jobs


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
    crystals = {element: {name: output.calculation for name, output in found.items()}
                for element, found in references.items()}
    return conclude_label(campaign_id, stage, mixing_energy_outcome(
        candidate, stage, round_index, structure_id, validated.calculation, validated.reused, crystals))


def hydrogen_label_flow(candidate: Candidate, stage: StageSpec, campaign_id: str, round_index: int,
                        seed: int) -> Flow:
    """Return the calculation jobs of ``candidate``'s dG_H (one per site) and the job labelling it."""
    slab, structure_id = candidate_slab(candidate, stage.slab, seed)
    sites = choose_sites(find_sites(slab.structure), list(stage.slab.site_kinds), stage.slab.max_sites, seed)
    calculations = hydrogen_adsorption_jobs(slab.structure, sites, stage.calculator, stage.settings, candidate.id,
                                            [structure_id, candidate.id], campaign_id)
    label = hydrogen_outcome_job(candidate, stage, campaign_id, round_index, structure_id, sites,
                                 *calculations.outputs)
    return Flow([*calculations.jobs, label], output=label.output, name=f"{stage.name} {candidate.id}")


@job
def hydrogen_outcome_job(candidate: Candidate, stage: StageSpec, campaign_id: str, round_index: int,
                         structure_id: str, sites: list[AdsorptionSite], clean: ValidationOutput, h2: ValidationOutput,
                         covered: list[ValidationOutput]) -> LabelOutcome:
    """Label ``candidate`` with dG_H (eV, the most stable site; every site kept on the label).

    Core-hours: the clean slab and the H calculations (H2 is shared by every
    label, so it is not charged to any).
    """
    charged = [clean.calculation, *(c.calculation for c in covered)]
    outcome = {"candidate": candidate, "stage": stage.name, "round": round_index, "structure_id": structure_id,
               "calculation_id": clean.calculation.id, "reused": all(c.reused for c in (clean, *covered)),
               "core_hours": sum(float(c.core_hours or 0.0) for c in charged)}
    try:
        label = delta_g_h_label(candidate.id, sites, clean.calculation, h2.calculation,
                                [c.calculation for c in covered])
    except AlloyscreenError as error:
        return conclude_label(campaign_id, stage, LabelOutcome(**outcome, status="failed", error=str(error)))
    if label.value is None:
        errors = sorted({c.calculation.error or "?" for c in covered})
        result = LabelOutcome(**outcome, status="failed", label_id=label.id,
                              error=f"all {len(sites)} H calculations failed: {'; '.join(errors)}")
    else:
        result = LabelOutcome(**outcome, status="completed", value=label.value, label_id=label.id)
    return conclude_label(campaign_id, stage, result)
