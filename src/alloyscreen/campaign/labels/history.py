"""A campaign's history as its selections store it: the batches chosen and what validating them gave.

Jobs read the history here instead of taking it as input, so a round's stored
input does not grow with the rounds before it, and a resumed round finds the
batch it had chosen.
"""

from __future__ import annotations

from pymongo.database import Database

from alloyscreen.campaign.labels.labelling import Candidate, LabelOutcome
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
    calculations = {key for outcome in outcomes for key in outcome.calculation_ids.values()}
    label_ids = [label_id for outcome in outcomes for label_id in outcome.label_ids.values()]
    for label in database["labels"].find({"_id": {"$in": label_ids}}, {"calculation_ids": 1}):
        calculations.update(label["calculation_ids"])
    return sum(outcome.core_hours for outcome in outcomes) + lost_core_hours(database, "calculations", calculations)


FIRST_PROPERTY_FIELDS = ("value", "label_id", "calculation_id", "structure_id")


def backfill_outcomes(database: Database, spec: CampaignSpec) -> None:
    """Give outcomes stored in an earlier form their per-property fields (once).

    Outcomes of campaigns from before several labels have no ``values`` and
    ``label_ids``; those from before one outcome type per level hold their
    first property's ``value``, ``label_id``, ``calculation_id`` and
    ``structure_id`` beside them: these become that property's entries of
    ``values``, ``label_ids``, ``calculation_ids`` and ``structure_ids`` and
    are removed.
    """
    selections = database["selections"]
    earlier = {"campaign_id": spec.campaign_id, "outcome": {"$ne": None},
               "outcome.calculation_ids": {"$exists": False}}
    for selection in selections.find(earlier, {"outcome": 1}):
        outcome = selection["outcome"]
        first = {name: outcome.get(name) for name in FIRST_PROPERTY_FIELDS}
        values = outcome.get("values") or {spec.target: first["value"]}
        ids = {field: ({spec.target: first[single]} if first[single] else {})
               for field, single in (("calculation_ids", "calculation_id"), ("structure_ids", "structure_id"))}
        label_ids = outcome.get("label_ids") or ({spec.target: first["label_id"]} if first["label_id"] else {})
        selections.update_one({"_id": selection["_id"]}, {
            "$set": {"outcome.values": values, "outcome.label_ids": label_ids,
                     **{f"outcome.{field}": found for field, found in ids.items()}},
            "$unset": {f"outcome.{name}": "" for name in FIRST_PROPERTY_FIELDS}})
