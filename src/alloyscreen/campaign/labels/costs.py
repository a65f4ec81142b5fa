"""What DFT work will cost before it runs: ``alloyscreen validate``'s plan and a stage's next batch.

Both plan the calculations of a mixing-energy label (the structure and its
elemental references) with :func:`alloyscreen.validation.plan.plan_label`:
which are cached, and the core-hours of the others from the calculator's cost
model fitted to the cache (:mod:`alloyscreen.validation.cost`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pymatgen.core import Structure
from pymongo.database import Database

from alloyscreen.campaign.labels.labelling import Candidate
from alloyscreen.campaign.spec import CampaignSpec, StageSpec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.bulk import SQS_MIN_ATOMS, choose_supercell
from alloyscreen.structures.makers import StructureMaker
from alloyscreen.validation.cost import fitted_model, is_dft
from alloyscreen.validation.plan import DftPlan, cheaper_options, plan_label
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker

if TYPE_CHECKING:
    from alloyscreen.campaign.engine.flow import StageMaker

BULK_NOTE = "the structure and elemental references of each candidate's mixing energy"


def validate_plan(label: MixingEnergyMaker, stage: StageSpec, seed: int, given: Structure | None = None,
                  candidate: Candidate | None = None) -> DftPlan | None:
    """The plan of ``alloyscreen validate`` (a DFT ``stage``) with the cheaper options; None for other calculators.

    The structure is ``given``, or the one labelling makes of ``candidate``
    (same Maker, seed and cell sizes). A structure or settings that cannot be
    made give no plan: the calculation that follows reports them.
    """
    if not is_dft(stage.calculator) or (given is None and candidate is None):
        return None
    maker = stage.structure_maker(seed)
    try:
        structure = given or _structure(maker, candidate, stage.calculator)  # type: ignore[arg-type]
        model = fitted_model(stage.calculator)
        plan = plan_label(structure, label, model=model)
        smaller, option = (None, "") if candidate is None else _smaller_cell(maker, candidate, len(structure))
        plan.cheaper = cheaper_options(structure, label, plan, smaller, option, model=model)
    except AlloyscreenError:
        return None
    return plan


def _structure(maker: StructureMaker, candidate: Candidate, calculator: str) -> Structure:
    """The structure labelling makes of ``candidate`` (:func:`~.labelling.candidate_structure`)."""
    cell_atoms = get_calculator(calculator).cell_atoms
    return maker.generate(candidate.composition, candidate.prototype, cell_atoms).structure


def _smaller_cell(maker: StructureMaker, candidate: Candidate, n_atoms: int) -> tuple[Structure | None, str]:
    """The smallest cell under ``n_atoms`` atoms holding the composition, and the ``validate`` options making it.

    The Maker's method first (an SQS needs ``SQS_MIN_ATOMS``), then a random
    (in so small a cell: ordered) arrangement.
    """
    for method in dict.fromkeys([maker.method, "random"]):
        fewest = SQS_MIN_ATOMS if method == "sqs" else 1
        try:
            repeats = choose_supercell(candidate.composition, candidate.prototype, min_atoms=fewest,
                                       max_atoms=n_atoms - 1, max_error=maker.max_error)
            smaller = replace(maker, method=method, supercell=repeats)
            cell = smaller.generate(candidate.composition, candidate.prototype).structure
        except AlloyscreenError:
            continue
        option = (f"--method {method} " if method != maker.method else "") + "--supercell {} {} {}".format(*repeats)
        return cell, option
    return None, ""


def next_batch_core_hours(database: Database, campaign: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Stage -> estimated core-hours of its chosen, not yet labelled batch, for each DFT stage.

    Each entry: ``candidates`` (selections without an outcome), ``core_hours``
    (None when nothing is pending or it cannot be estimated), ``calculations``
    (to run, each once: references are shared), ``cached`` (already in the
    cache), ``model`` and ``note`` (what is counted, or why there is no estimate).
    """
    from alloyscreen.campaign.engine.flow import CampaignMaker

    spec = CampaignSpec.model_validate(campaign["spec"])
    estimates = {}
    for stage in CampaignMaker.from_spec(spec).stages:
        if is_dft(stage.calculator):
            pending = [selection["candidate_id"] for selection in database["selections"].find(
                {"campaign_id": campaign["_id"], "stage": stage.name, "outcome": None}, {"candidate_id": 1})]
            estimates[stage.name] = _batch_estimate(database, stage, pending)
    return estimates


def _batch_estimate(database: Database, stage: StageMaker, pending: list[str]) -> dict[str, Any]:
    """The estimate of one stage's pending candidates (:func:`next_batch_core_hours`)."""
    entry: dict[str, Any] = {"candidates": len(pending), "core_hours": None, "calculations": 0, "cached": 0,
                             "model": None, "note": BULK_NOTE}
    if not pending:
        return {**entry, "note": "no batch chosen and waiting: the next round chooses it"}
    label = next((label for label in stage.labels.values() if isinstance(label, MixingEnergyMaker)), None)
    if label is None:
        return {**entry, "note": "a dG_H label's slabs and sites: not estimated"}
    planned: dict[str, Any] = {}
    try:
        model = fitted_model(stage.calculator, database)
        for found in database["candidates"].find({"_id": {"$in": pending}}):
            candidate = Candidate(id=found["_id"], composition=found["composition"], prototype=found["prototype"])
            plan = plan_label(_structure(stage.structure, candidate, stage.calculator), label, database, model)
            planned.update((calc.calculation_id, calc) for calc in plan.calculations)
    except AlloyscreenError as error:
        return {**entry, "note": f"not estimated: {error}"}
    to_run = [calc for calc in planned.values() if calc.cached in ("no", "rerun")]
    return {**entry, "core_hours": sum(calc.core_hours for calc in to_run), "calculations": len(to_run),
            "cached": len(planned) - len(to_run), "model": model.basis(stage.calculator)}
