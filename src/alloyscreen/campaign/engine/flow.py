"""The campaign as a jobflow flow: rounds that replace themselves with label jobs and the next round.

round r: train -> score -> select (one job) -> label jobs (one per candidate,
routed by the stage's FireWorks category) -> round r+1 ... until a budget or
the stopping rule ends the loop; then the best candidates climb the fidelity
ladder (one confirmation stage per later rung) and the campaign is closed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import gridfs
from jobflow import Flow, Job, Maker, Response, job
from jobflow.core.job import store_inputs
from monty.json import jsanitize
from pymatgen.core import Structure

from alloyscreen import progress
from alloyscreen.campaign.engine.records import save_campaign
from alloyscreen.campaign.labels.history import (
    backfill_outcomes,
    record_outcome,
    spent_core_hours,
    stage_history,
    stored_batch,
)
from alloyscreen.campaign.labels.labelling import (
    Candidate,
    LabelOutcome,
    candidate_structure,
    placed,
)
from alloyscreen.campaign.round.fidelity import second_stage_batch
from alloyscreen.campaign.round.gnn import train_campaign_gnn
from alloyscreen.campaign.round.models import uncertain_sites
from alloyscreen.campaign.round.scoring import ScoredSlice
from alloyscreen.campaign.round.steps import (
    RoundPlan,
    best_outcomes,
    confirmation_batch,
    plan_round,
    score_round,
    select_round,
    stage_hull,
)
from alloyscreen.campaign.spec import CampaignSpec, SlabSpec, StageSpec, StructureSpec, load_spec
from alloyscreen.candidates import formula
from alloyscreen.db.client import get_database
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.selection import PropertyOutcome
from alloyscreen.structures.makers import StructureMaker
from alloyscreen.validation.adsorption import ADSORPTION_UNITS, AdsorptionMaker
from alloyscreen.validation.maker import ValidationMaker, call_here, routing
from alloyscreen.validation.phases import FREE_ENERGY_PROPERTY, HULL_PROPERTY, StabilityMaker
from alloyscreen.validation.references import ReferenceChoice
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker

logger = logging.getLogger(__name__)
DRIVER_CATEGORY = "cheap"
SHARD_BUCKET = "score_shards"


def _routed(job_: Job, category: str) -> Job:
    """Route ``job_`` (and the jobs it creates) to FireWorks or jobflow-remote workers of ``category``."""
    job_.update_config({"manager_config": routing(category, None)})
    return job_


def _named(job_: Job, name: str) -> Job:
    """Name ``job_`` (FireWorks names its Firework after it; no content id depends on it)."""
    job_.name = name
    return job_


def _label_name(stage: str, round_index: int, candidate: Candidate) -> str:
    """The name of a candidate's label job at a stage, e.g. ``emt r2 Au0.25Cu0.75``."""
    return f"{stage} r{round_index} {formula(candidate.composition)}"


def _confirm_name(spec: CampaignSpec, stage_index: int) -> str:
    """The name of the driver that confirms with stage ``stage_index`` (past the last stage: closes the campaign)."""
    return f"confirm {spec.stages[stage_index].name}" if stage_index < len(spec.stages) else "finish campaign"


def _driver(job_: Job) -> Job:
    """Route a driver job to ``DRIVER_CATEGORY`` without passing that route to the jobs it creates.

    jobflow hands a job's manager_config (and its dynamic config updates) to the
    jobs of its ``Response``: label jobs of a ``dft`` stage would then carry the
    driver's ``cheap`` and never reach a DFT worker. Only the ``store_inputs`` job
    jobflow adds to a replacing flow (it stores the flow's output under the
    driver's uuid) follows the driver.
    """
    route = {"manager_config": routing(DRIVER_CATEGORY, None)}
    job_.update_config(route, dynamic=False)
    job_.update_config(route, function_filter=store_inputs)
    job_.config.pass_manager_config = False
    return job_


def stop_reason(spec: CampaignSpec, round_index: int, history: list[LabelOutcome], spent: float) -> str | None:
    """Why the active-learning loop stops before round ``round_index``, or None to go on.

    ``spent``: the first stage's core-hours so far (:func:`spent_core_hours` of ``history``).
    """
    stage = spec.stages[0]
    if len(history) >= stage.max_validations:
        return f"validation budget of stage {stage.name!r} spent ({len(history)}/{stage.max_validations})"
    if stage.max_core_hours is not None and spent >= stage.max_core_hours:
        return f"core-hour budget of stage {stage.name!r} spent ({spent:.3g}/{stage.max_core_hours})"
    if round_index >= spec.stopping.max_rounds:
        return f"{spec.stopping.max_rounds} rounds done"
    patience, k = spec.stopping.patience, spec.stopping.top_k
    if round_index > patience:
        tops = [{o.candidate.id for o in best_outcomes(spec, [h for h in history if h.round < r], k)}
                for r in range(round_index - patience, round_index + 1)]
        if len(tops[-1]) == k and all(top == tops[-1] for top in tops):
            return f"top-{k} unchanged for {patience} rounds"
    return None


def _record_progress(spec: CampaignSpec, stage: StageSpec, outcomes: list[LabelOutcome], **fields: Any) -> float:
    """Store a stage's spent budget (validations, core-hours) and other campaign fields; return its core-hours."""
    core_hours = spent_core_hours(outcomes)
    spent = {f"budgets_spent.{stage.name}_validations": float(len(outcomes)),
             f"budgets_spent.{stage.name}_core_hours": core_hours}
    get_database()["campaigns"].update_one({"_id": spec.campaign_id}, {"$set": {**spent, **fields}})
    return core_hours


@job
def label_job(maker: StageMaker, candidate: Candidate, campaign_id: str, round_index: int) -> LabelOutcome | Response:
    """Label ``candidate`` with each label Maker of the stage ``maker`` (one per label property of the campaign).

    The bulk structure and the slab are made once per job, by the stage's
    structure and slab Makers; labels share their calculations through the
    cache (a bulk relaxation is run once). A label Maker whose jobs come as one
    job with its inputs given (a calculator that runs here) is executed in this
    job; the others (dG_H: one job per site; VASP) replace this job with their
    flows and a job storing the outcome on the selection.
    """
    cell_atoms = get_calculator(maker.validation.calculator).cell_atoms
    made: dict[bool, tuple[Structure, str]] = {}  # slab or bulk -> the candidate's structure and its id

    def structure_of(slab: bool) -> tuple[Structure, str]:
        if slab not in made:
            made[slab] = candidate_structure(candidate, maker.slab if slab else maker.structure, cell_atoms)
        return made[slab]

    outcomes: dict[str, Any] = {}
    flows = []
    for target, label in maker.labels.items():
        try:
            structure, structure_id = structure_of(isinstance(label, AdsorptionMaker))
            if isinstance(label, AdsorptionMaker) and label.site_choice == "uncertain":
                label = replace(label, chosen=uncertain_sites(get_database(), campaign_id, target, structure,
                                                              label.site_kinds, label.max_sites or 1))
            jobs = label.make(structure, candidate.id, [structure_id, candidate.id], structure_id, campaign_id)
            if isinstance(jobs, Job) and not jobs.input_references:
                outcomes[target] = call_here(jobs)
                continue
        except AlloyscreenError as error:  # no slab, no structure, or settings the pool cannot have
            outcomes[target] = PropertyOutcome(status="failed", error=str(error))
            continue
        flows.append(jobs)
        outcomes[target] = jobs.output
    if not flows:
        return conclude_label(campaign_id, maker, placed(candidate, maker.name, round_index, outcomes))
    concluded = _named(conclude_job(candidate, maker, campaign_id, round_index, outcomes),
                       f"{_label_name(maker.name, round_index, candidate)} conclude")
    return Response(replace=Flow([*flows, concluded], output=concluded.output, name=f"{maker.name} {candidate.id}"))


def conclude_label(campaign_id: str, stage: StageMaker, outcome: LabelOutcome) -> LabelOutcome:
    """Store ``outcome`` on its selection and advance the stage's progress bar; return it."""
    record_outcome(campaign_id, outcome)
    progress.report(f"{stage.name} ({stage.calculator})", total=stage.max_validations)
    return outcome


@job
def conclude_job(candidate: Candidate, stage: StageMaker, campaign_id: str, round_index: int,
                 outcomes: dict[str, PropertyOutcome]) -> LabelOutcome:
    """Store the label Makers' outcomes (label property -> outcome) on the candidate's selection."""
    return conclude_label(campaign_id, stage, placed(candidate, stage.name, round_index, outcomes))


def stability_options(spec: CampaignSpec) -> dict[str, dict[str, Any]]:
    """Label property -> temperature (K), prototypes and hull elements of each stability target (hull, free energy)."""
    return {objective.name: {"temperature": objective.temperature or 0.0, "prototypes": list(spec.phases.prototypes),
                             "elements": spec.candidate_elements}
            for objective in spec.labelled_objectives if objective.name in (HULL_PROPERTY, FREE_ENERGY_PROPERTY)}


def _label_jobs(maker: CampaignMaker, spec: CampaignSpec, stage_index: int, candidates: list[Candidate],
                round_index: int) -> list[Job]:
    """The label jobs of ``candidates`` at stage ``stage_index`` of the campaign ``spec`` (``maker.campaign()``)."""
    return [maker.stages[stage_index].make(c, spec.campaign_id, round_index) for c in candidates]


def _labels_then(labels: list[Job], following: Job, name: str) -> Response:
    """Replace the current job by ``labels`` and the driver job ``following`` that takes their outputs."""
    following = _driver(following)
    return Response(replace=Flow([*labels, following], output=following.output, name=name))


@job
def active_learning_round(maker: CampaignMaker, campaign_id: str, round_index: int,
                          previous: list[LabelOutcome]) -> Response:
    """Run round ``round_index``: choose a batch and replace this job by its label jobs and the next round.

    ``previous``: the outcomes of the round before (references that order the
    jobs); the whole history is read from the campaign's selections, so the
    stored input of a round does not grow with the rounds before it. With
    ``acquisition.shards > 1`` the scoring fans out into that many jobs and a
    selection job, so that FireWorks spreads a large space over its workers.
    """
    spec = maker.campaign()
    stage = spec.stages[0]
    history = stage_history(spec.campaign_id, stage.name, before_round=round_index)
    spent = _record_progress(spec, stage, history, iteration=round_index)
    reason = stop_reason(spec, round_index, history, spent)
    if reason is not None:
        return _continue(maker, spec, campaign_id, round_index, [], reason)
    size = spec.initial_random if round_index == 0 else spec.acquisition.batch_size
    size = min(size, stage.max_validations - len(history))
    batch = stored_batch(spec.campaign_id, stage.name, round_index)
    if batch is None:
        plan = plan_round(spec, round_index, history, size)
        if spec.multi_fidelity:  # stored first: a resumed round that finds its batch finds this one too
            second_stage_batch(spec, round_index, history, size, plan.acquisition, plan.delta_model_id)
        if spec.acquisition.shards > 1:
            shards = [_driver(_named(score_shard(maker, plan, index),
                                     f"round {round_index} shard {index} of {spec.acquisition.shards}"))
                      for index in range(spec.acquisition.shards)]
            select = _driver(_named(select_from_shards(maker, campaign_id, plan, [j.output for j in shards]),
                                    f"round {round_index} select"))
            return Response(replace=Flow([*shards, select], output=select.output, name=f"round {round_index} scoring"))
        batch = select_round(spec, plan, history, score_round(spec, plan, history))
    return _continue(maker, spec, campaign_id, round_index, batch, None)


@job
def score_shard(maker: CampaignMaker, plan: RoundPlan, index: int) -> str:
    """Score shard ``index`` of the space; store its top slice in GridFS; return the file name."""
    spec = maker.campaign()
    name = f"{spec.campaign_id}-round-{plan.round}-shard-{index}-of-{spec.acquisition.shards}"
    bucket = gridfs.GridFS(get_database(), SHARD_BUCKET)
    if not bucket.exists(filename=name):  # a resumed round keeps the slices it scored
        history = stage_history(spec.campaign_id, spec.stages[0].name, before_round=plan.round)
        scored = score_round(spec, plan, history, shard=(index, spec.acquisition.shards))
        bucket.put(scored.to_bytes(), filename=name, metadata={"campaign_id": spec.campaign_id})
    return name


@job
def select_from_shards(maker: CampaignMaker, campaign_id: str, plan: RoundPlan, names: list[str]) -> Response:
    """Merge the shards' slices, choose the round's batch and go on as an unsharded round would."""
    spec = maker.campaign()
    history = stage_history(spec.campaign_id, spec.stages[0].name, before_round=plan.round)
    bucket = gridfs.GridFS(get_database(), SHARD_BUCKET)
    slices = [ScoredSlice.from_bytes(bucket.get_last_version(filename=name).read()) for name in names]
    batch = stored_batch(spec.campaign_id, spec.stages[0].name, plan.round)
    if batch is None:
        batch = select_round(spec, plan, history, ScoredSlice.merge(slices, plan.keep))
    return _continue(maker, spec, campaign_id, plan.round, batch, None)


def _continue(maker: CampaignMaker, spec: CampaignSpec, campaign_id: str, round_index: int,
              batch: list[Candidate], reason: str | None) -> Response:
    """Replace the current job by the batch's label jobs and the next round, or by the confirmation stages.

    ``spec``: the campaign as ``maker`` has it (:meth:`CampaignMaker.campaign`), resolved by the calling driver.
    """
    stage = spec.stages[0]
    if reason is None and not batch:
        if round_index == 0:  # only filters can empty a space that was checked at load
            raise AlloyscreenError(f"no candidate of the space passes the descriptor windows "
                                   f"{spec.candidates.windows} and the single-phase filter "
                                   f"{spec.phases.single_phase}; allowed: filters that some candidate meets")
        reason = "every candidate of the space is labelled"
    second = (stored_batch(spec.campaign_id, spec.stages[1].name, round_index) or []) if spec.multi_fidelity else []
    if reason is not None:
        logger.info("campaign %s: active learning stops: %s", spec.name, reason)
        first = 2 if spec.multi_fidelity else 1  # a multi-fidelity loop labelled at the second stage already
        confirm = _named(confirm_stage(maker, first, round_index, [], reason), _confirm_name(spec, first))
        if second:  # chosen for this round before its first-stage batch came back empty
            return _labels_then(_label_jobs(maker, spec, 1, second, round_index), confirm, f"round {round_index}")
        return Response(replace=_driver(confirm))
    logger.info("campaign %s round %d: validating %d candidates with %s", spec.name, round_index, len(batch),
                stage.calculator)
    labels = _label_jobs(maker, spec, 0, batch, round_index)
    if second:
        labels += _label_jobs(maker, spec, 1, second, round_index)
    following = _named(active_learning_round(maker, campaign_id, round_index + 1, [j.output for j in labels]),
                       f"round {round_index + 1}")
    return _labels_then(labels, following, f"round {round_index}")


@job
def confirm_stage(maker: CampaignMaker, stage_index: int, round_index: int, previous: list[LabelOutcome],
                  reason: str) -> Response | dict[str, Any]:
    """Validate the best candidates of the previous stage with stage ``stage_index``; close at the end.

    ``previous``: the previous stage's new outcomes (references that order the
    jobs); every stage's outcomes are read from the campaign's selections.
    """
    spec = maker.campaign()
    if stage_index >= len(spec.stages):
        return finish_campaign(spec, reason)
    before, stage = spec.stages[stage_index - 1], spec.stages[stage_index]
    best = confirmation_batch(spec, stage_index, round_index, stage_history(spec.campaign_id, before.name))
    logger.info("campaign %s: stage %s validates %d candidates", spec.name, stage.name, len(best))
    labels = _label_jobs(maker, spec, stage_index, best, round_index)
    following = _named(confirm_stage(maker, stage_index + 1, round_index, [j.output for j in labels], reason),
                       _confirm_name(spec, stage_index + 1))
    return _labels_then(labels, following, f"stage {stage.name}")


def finish_campaign(spec: CampaignSpec, reason: str) -> dict[str, Any]:
    """Record the final budgets and status; return a summary (best candidates per stage)."""
    outcomes = {stage.name: stage_history(spec.campaign_id, stage.name) for stage in spec.stages}
    for stage in spec.stages:
        _record_progress(spec, stage, outcomes[stage.name], status="completed", message=reason)
    return {"campaign_id": spec.campaign_id, "reason": reason, "best": {
        name: [{"candidate_id": o.candidate.id, "composition": o.candidate.composition, "values": o.values}
               for o in best_outcomes(spec, stage_outcomes, spec.stopping.top_k)]
        for name, stage_outcomes in outcomes.items()}}


@job
def start_campaign(maker: CampaignMaker) -> str:
    """Mark the campaign running (storing it first if needed) with its stages as ``maker`` has them; return its id."""
    spec = maker.campaign()
    backfill_outcomes(get_database(), spec)  # a campaign resumed after its outcomes were stored in an earlier form
    return save_campaign(spec, "running")


@job
def competing_phases_job(maker: CampaignMaker, stage_index: int, campaign_id: str) -> str:
    """Relax the pool's competing phases with stage ``stage_index`` before the rounds need them; pass the id on.

    Routed to the stage's category, so a DFT hull runs on DFT workers, not in
    a driver job; the rounds and label jobs then read the phases from the cache.
    """
    spec = maker.campaign()
    stage_hull(spec, spec.stages[stage_index])
    return campaign_id


def hull_stages(spec: CampaignSpec) -> list[int]:
    """The stages whose competing phases the rounds need: the single-phase filter's, the first for a stability label."""
    needed = {spec.stages.index(spec.phases_stage)} if spec.phases.single_phase is not None else set()
    if HULL_PROPERTY in spec.targets:
        needed.add(0)
    return sorted(needed)


@job
def train_campaign_gnn_job(maker: CampaignMaker, outcomes_ready: Any) -> str | None:
    """Train the campaign's ``gnn`` once ``outcomes_ready`` (the last stage's output) exists; return its id or None."""
    document = train_campaign_gnn(get_database(), maker.campaign())
    return None if document is None else document.id


LabelMaker = MixingEnergyMaker | AdsorptionMaker


def _plain(makers: Any) -> Any:
    """Makers as plain JSON data (tuples as lists), to compare a tree that went through a store with a fresh one."""
    return json.loads(json.dumps(jsanitize(makers, strict=True)))


def label_maker(spec: CampaignSpec, stage: StageSpec, validation: ValidationMaker, target: str) -> LabelMaker:
    """The Maker of ``stage``'s label of ``target``, its settings resolved for the campaign's pool when it runs."""
    pool = spec.element_pool
    if target in ADSORPTION_UNITS:
        return AdsorptionMaker(name=stage.name, validation=validation, site_kinds=list(stage.slab.site_kinds),
                               max_sites=stage.slab.max_sites, seed=spec.seed, pool=pool, prop=target,
                               site_choice=stage.slab.site_choice)
    if target in (HULL_PROPERTY, FREE_ENERGY_PROPERTY):
        return StabilityMaker(name=stage.name, validation=validation, pool=pool,
                              antiferromagnetic=list(stage.antiferromagnetic), prop=target,
                              **stability_options(spec)[target])
    return MixingEnergyMaker(name=stage.name, validation=validation, pool=pool,
                             antiferromagnetic=list(stage.antiferromagnetic), references=stage.references)


@dataclass
class StageMaker(Maker):
    """One rung of the fidelity ladder as a Maker: the Makers of its structures and labels, and its budgets.

    ``validation`` holds the calculator, its settings, the calculation mode and
    the FireWorks category (the stage's competing phases use it); ``structure``
    makes the bulk cells and ``slab`` the surfaces of dG_H; ``labels`` holds one
    label Maker per label property of the campaign, each with its own
    validation Maker. All are named after the stage, so jobflow's
    ``update_maker_kwargs(..., class_filter=ValidationMaker, name_filter=stage)``
    on a campaign flow reaches every calculation of the stage.
    ``references``: the elemental references of its mixing energies (ground
    state or search; its stability labels always search). ``accept_unfit``:
    elements of the pool its calculator is known to get wrong, accepted.
    """

    name: str = "stage"
    validation: ValidationMaker = field(default_factory=ValidationMaker)
    structure: StructureMaker = field(default_factory=StructureMaker)
    slab: StructureMaker = field(default_factory=lambda: StructureMaker(method="slab"))
    labels: dict[str, LabelMaker] = field(default_factory=dict)
    max_validations: int = 1
    max_core_hours: float | None = None
    antiferromagnetic: list[str] = field(default_factory=list)
    references: ReferenceChoice = "ground_state"
    accept_unfit: list[str] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: CampaignSpec, stage: StageSpec) -> StageMaker:
        """The Maker of the campaign ``spec``'s stage ``stage``, seeded with the campaign's seed."""
        validation = stage.validation_maker()
        return cls(name=stage.name, validation=validation, structure=stage.structure_maker(spec.seed),
                   slab=stage.slab_maker(spec.seed),
                   labels={target: label_maker(spec, stage, validation, target) for target in spec.targets},
                   max_validations=stage.max_validations, max_core_hours=stage.max_core_hours,
                   antiferromagnetic=list(stage.antiferromagnetic), references=stage.references,
                   accept_unfit=list(stage.accept_unfit))

    @property
    def calculator(self) -> str:
        """The stage's calculator (registry name)."""
        return self.validation.calculator

    def stage_spec(self, stage: StageSpec) -> StageSpec:
        """The spec's ``stage`` as this Maker has it now (a Maker changed after the spec was read)."""
        slab = self.slab.slab
        sites = next((label for label in self.labels.values() if isinstance(label, AdsorptionMaker)), None)
        recipe = StructureSpec(method=self.structure.method, supercell=self.structure.supercell,
                               max_error=self.structure.max_error, iterations=self.structure.iterations)
        return stage.model_copy(update=dict(
            name=self.name, calculator=self.validation.calculator, mode=self.validation.mode,
            settings=dict(self.validation.settings), structure=recipe,
            slab=SlabSpec(**slab, max_error=self.slab.max_error,
                          **({"max_sites": sites.max_sites, "site_kinds": sites.site_kinds,
                              "site_choice": sites.site_choice}
                             if isinstance(sites, AdsorptionMaker) else
                             {"max_sites": stage.slab.max_sites, "site_kinds": stage.slab.site_kinds,
                              "site_choice": stage.slab.site_choice})),
            max_validations=self.max_validations, max_core_hours=self.max_core_hours,
            category=self.validation.category or get_calculator(self.validation.calculator).category,
            retries=self.validation.retries, antiferromagnetic=list(self.antiferromagnetic),
            references=self.references, accept_unfit=list(self.accept_unfit)))

    def make(self, candidate: Candidate, campaign_id: str, round_index: int) -> Job:
        """Return the label job of ``candidate`` (every label Maker) at this stage, routed to its category."""
        job_ = _named(label_job(self, candidate, campaign_id, round_index),
                      _label_name(self.name, round_index, candidate))
        return _routed(job_, self.validation.category or get_calculator(self.validation.calculator).category)


@dataclass
class CampaignMaker(Maker):
    """The campaign as a tree of Makers: its spec's campaign-wide settings and one :class:`StageMaker` per stage.

    Build it with :meth:`from_spec`. The driver jobs carry this Maker and
    nothing else, and read the campaign from it in one place,
    :meth:`campaign`; so ``flow.update_maker_kwargs`` changes a stage's
    settings for every job the campaign creates later. The campaign id is then
    the hash of the spec with the changed stages: it is another campaign.
    """

    name: str = "campaign"
    spec: CampaignSpec | None = None
    stages: list[StageMaker] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: CampaignSpec) -> CampaignMaker:
        """The campaign's tree of Makers: ``spec`` and one :class:`StageMaker` per stage of it."""
        return cls(name="campaign", spec=spec, stages=[StageMaker.from_spec(spec, stage) for stage in spec.stages])

    def campaign(self) -> CampaignSpec:
        """The campaign with this Maker's stages (validated like any spec): the spec itself while the tree is its own.

        A tree changed (``update_maker_kwargs``) is another campaign, with
        another id. Raises when the change is one a spec cannot hold (one label
        Maker's settings apart from its stage's).
        """
        spec = self.spec
        if spec is None:
            raise AlloyscreenError("this CampaignMaker has no spec; allowed: CampaignMaker.from_spec(spec)")
        if _plain(self.stages) == _plain(CampaignMaker.from_spec(spec).stages):
            return spec
        data = spec.model_dump(mode="json")
        data["stages"] = [maker.stage_spec(stage).model_dump(mode="json")
                          for maker, stage in zip(self.stages, spec.stages, strict=True)]
        changed = load_spec(data)
        for maker, rebuilt in zip(self.stages, CampaignMaker.from_spec(changed).stages, strict=True):
            if _plain(maker) != _plain(rebuilt):
                raise AlloyscreenError(
                    f"the Makers of stage {maker.name!r} were changed apart from each other (e.g. one label Maker's "
                    f"settings, not its stage's); allowed: changes every Maker of the stage shares, e.g. "
                    f"update_maker_kwargs(..., class_filter=ValidationMaker, name_filter={maker.name!r})")
        return changed

    def make(self) -> Flow:
        """Return the flow: register the campaign, then the first active-learning round."""
        spec = self.campaign()
        register = _driver(_named(start_campaign(self), f"start {spec.name}"))
        jobs: list[Job | Flow] = [register]
        campaign_id = register.output
        for index in hull_stages(spec):
            stage = spec.stages[index]
            phases = _routed(_named(competing_phases_job(self, index, campaign_id), f"phases {stage.name}"),
                             stage.category)
            jobs.append(phases)
            campaign_id = phases.output
        first = _driver(_named(active_learning_round(self, campaign_id, 0, []), "round 0"))
        jobs.append(first)
        if spec.gnn is not None:  # after the last stage: first.output resolves to finish_campaign's summary
            jobs.append(_driver(_named(train_campaign_gnn_job(self, first.output), "train gnn")))
        flow = Flow(jobs, output=first.output, name=f"{self.name} {spec.name}")
        # every job's metadata (and so its Firework's spec) names the campaign, jobs created later too
        flow.update_metadata({"campaign_id": spec.campaign_id}, dynamic=True)
        return flow
