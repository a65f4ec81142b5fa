"""A campaign's history as its selections store it: the batches chosen and what validating them gave.

Jobs read the history here instead of taking it as input, so a round's stored
input does not grow with the rounds before it, and a resumed round finds the
batch it had chosen.
"""

from __future__ import annotations

from pymongo.database import Database

from alloyscreen.campaign.labelling import Candidate, LabelOutcome
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.db.cache import lost_core_hours
from alloyscreen.db.client import get_database
from alloyscreen.surrogates.records import selection_id


def stored_batch(campaign_id: str, stage: str, round_index: int) -> list[Candidate] | None:
    """The batch already chosen for ``stage`` in this round (a resumed campaign), or None.

    A batch whose selections were only partly stored (the process died while
    writing them, before any was labelled) is removed: the round chooses again.
    """
    query = {"campaign_id": campaign_id, "stage": stage, "round": round_index}
    selections = get_database()["selections"]
    chosen = list(selections.find(query, sort=[("batch_position", 1)]))
    if chosen and len(chosen) < (chosen[0].get("batch_size") or 0) and all(s["outcome"] is None for s in chosen):
        selections.delete_many({**query, "outcome": None})
        return None
    if not chosen:
        return None
    ids = [selection["candidate_id"] for selection in chosen]
    found = _candidates(ids)
    return [found[i] for i in ids]


def _candidates(ids: list[str]) -> dict[str, Candidate]:
    """Candidate id -> :class:`Candidate`, from the ``candidates`` collection."""
    return {doc["_id"]: Candidate(id=doc["_id"], composition=doc["composition"], prototype=doc["prototype"])
            for doc in get_database()["candidates"].find({"_id": {"$in": list(set(ids))}})}


def record_outcome(campaign_id: str, outcome: LabelOutcome) -> None:
    """Store on its selection what validating a candidate gave (the campaign's own link to its label)."""
    key = selection_id(campaign_id, outcome.stage, outcome.round, outcome.candidate.id)
    get_database()["selections"].update_one({"_id": key}, {"$set": {"outcome": outcome.stored().model_dump()}})


def stage_history(campaign_id: str, stage: str, before_round: int | None = None) -> list[LabelOutcome]:
    """The outcomes of ``stage`` stored on the campaign's selections (rounds before ``before_round``), in order.

    Jobs read the history here instead of taking it as input, so a round's
    stored input does not grow with the rounds before it.
    """
    query: dict = {"campaign_id": campaign_id, "stage": stage, "outcome": {"$ne": None}}
    if before_round is not None:
        query["round"] = {"$lt": before_round}
    chosen = list(get_database()["selections"].find(query, sort=[("round", 1), ("batch_position", 1)]))
    candidates = _candidates([selection["candidate_id"] for selection in chosen])
    return [LabelOutcome(candidate=candidates[s["candidate_id"]], stage=stage, round=s["round"],
                         **{**s["outcome"], "core_hours": s["outcome"].get("core_hours") or 0.0}) for s in chosen]


def spent_core_hours(outcomes: list[LabelOutcome]) -> float:
    """Core-hours a stage spent on ``outcomes``, and those lost with killed attempts at their calculations.

    The calculations are each outcome's main one and those its labels cite as
    their own (an adsorption site's; not the shared elemental references).
    """
    database = get_database()
    calculations = {outcome.calculation_id for outcome in outcomes if outcome.calculation_id}
    label_ids = [label_id for outcome in outcomes for label_id in outcome.label_ids.values()]
    for label in database["labels"].find({"_id": {"$in": label_ids}}, {"calculation_ids": 1}):
        calculations.update(label["calculation_ids"])
    return sum(outcome.core_hours for outcome in outcomes) + lost_core_hours(database, "calculations", calculations)


def backfill_outcomes(database: Database, spec: CampaignSpec) -> None:
    """Give outcomes stored before campaigns learned several labels their ``values`` and ``label_ids`` (once)."""
    selections = database["selections"]
    stored = {"campaign_id": spec.campaign_id, "outcome": {"$ne": None}, "outcome.values": {"$exists": False}}
    for selection in selections.find(stored, {"outcome": 1}):
        outcome = selection["outcome"]
        label_ids = {spec.target: outcome["label_id"]} if outcome.get("label_id") else {}
        selections.update_one({"_id": selection["_id"]}, {"$set": {"outcome.values": {spec.target: outcome["value"]},
                                                                   "outcome.label_ids": label_ids}})
