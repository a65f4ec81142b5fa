"""Queries behind ``alloyscreen status`` and ``top``: one query per hop, plain pymongo."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective


def find_campaign(database: Database, key: str) -> dict[str, Any]:
    """Return the campaign whose id (or unique id prefix, or latest with that name) is ``key``."""
    found = database["campaigns"].find_one({"_id": key})
    if found is None:
        by_prefix = list(database["campaigns"].find({"_id": {"$regex": f"^{key}"}}).limit(2)) if key.isalnum() else []
        by_name = list(database["campaigns"].find({"name": key}).sort("provenance.created_at", -1).limit(1))
        matches = by_prefix if len(by_prefix) == 1 else by_name
        found = matches[0] if matches else None
    if found is None:
        known = [f"{c['_id']} ({c['name']})" for c in database["campaigns"].find({}, {"name": 1}).limit(10)]
        raise AlloyscreenError(f"no campaign {key!r}; known: {', '.join(known) or 'none'}")
    return found


def campaign_status(database: Database, key: str) -> dict[str, Any]:
    """Progress of a campaign: rounds, per-stage validations and core-hours, failures with reasons."""
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    calculations = database["calculations"]
    in_campaign = {"provenance.campaign_id": campaign["_id"]}
    stages = []
    for stage in spec.stages:
        spent = campaign.get("budgets_spent", {})
        stages.append({
            "stage": stage.name, "calculator": stage.calculator,
            "validations": int(spent.get(f"{stage.name}_validations", 0)), "max_validations": stage.max_validations,
            "core_hours": round(spent.get(f"{stage.name}_core_hours", 0.0), 6), "max_core_hours": stage.max_core_hours,
        })
    failures = [{"calculation_id": doc["_id"], "formula": doc.get("formula"), "error": doc.get("error")}
                for doc in calculations.find({**in_campaign, "status": "failed"}, {"formula": 1, "error": 1})]
    return {
        "campaign_id": campaign["_id"], "name": campaign["name"], "status": campaign["status"],
        "message": campaign.get("message"), "round": campaign.get("iteration", 0),
        "selections": database["selections"].count_documents({"campaign_id": campaign["_id"]}),
        "models": database["models"].count_documents({"provenance.campaign_id": campaign["_id"]}),
        "stages": stages, "failures": failures,
    }


def top_candidates(database: Database, key: str, count: int = 10) -> list[dict[str, Any]]:
    """The best validated candidates of a campaign, with every stage's label, best first."""
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    ids = database["selections"].distinct("candidate_id", {"campaign_id": campaign["_id"]})
    calculators = {stage.calculator for stage in spec.stages}
    rows: dict[str, dict[str, Any]] = {}
    for candidate in database["candidates"].find({"_id": {"$in": ids}}, {"formula": 1, "prototype": 1}):
        rows[candidate["_id"]] = {"candidate_id": candidate["_id"], "formula": candidate["formula"],
                                  "prototype": candidate["prototype"]}
    labels = database["labels"].find({"candidate_id": {"$in": ids}, "calculator": {"$in": sorted(calculators)},
                                      "value": {"$ne": None}})
    for label in labels:
        rows[label["candidate_id"]][label["calculator"]] = label["value"]
    first = spec.stages[0].calculator
    objective = spec.objectives[0]
    utility = Objective(objective.property, objective.direction, objective.target).utility
    ranked = sorted((row for row in rows.values() if first in row), key=lambda row: -float(utility(row[first])))
    return ranked[:count]


def _stage_of(spec: CampaignSpec, calculator: str | None, generator: dict[str, Any]) -> str | None:
    """The first stage whose calculator and structure recipe match a calculation; None if none does."""
    for stage in spec.stages:
        recipe = stage.structure
        if (stage.calculator == calculator and generator.get("method") == recipe.method
                and (recipe.supercell is None or list(recipe.supercell) == generator.get("supercell"))):
            return stage.name
    return None


def campaign_labels(database: Database, key: str) -> list[dict[str, Any]]:
    """Every label of a campaign's selected candidates, with the stage it belongs to.

    Labels are shared between campaigns (keyed by candidate, calculations and
    references), so a label belongs to a stage when its calculator and the
    recipe of its structure (label -> calculation -> structure) match the stage's;
    labels matching no stage of this campaign are left out.
    """
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    ids = database["selections"].distinct("candidate_id", {"campaign_id": campaign["_id"]})
    labels = list(database["labels"].find(
        {"candidate_id": {"$in": ids}, "value": {"$ne": None}},
        {"candidate_id": 1, "property": 1, "value": 1, "calculator": 1, "calculation_ids": 1}))
    calculation_ids = [label["calculation_ids"][0] for label in labels if label["calculation_ids"]]
    calculations = {doc["_id"]: doc for doc in database["calculations"].find(
        {"_id": {"$in": calculation_ids}}, {"provenance.parents": 1, "core_hours": 1})}
    structure_of = {cid: doc["provenance"]["parents"][0] for cid, doc in calculations.items()
                    if doc["provenance"].get("parents")}
    generators = {doc["_id"]: doc["generator"] for doc in database["structures"].find(
        {"_id": {"$in": sorted(set(structure_of.values()))}}, {"generator.method": 1, "generator.supercell": 1})}
    rows = []
    for label in labels:
        calculation_id = label["calculation_ids"][0] if label["calculation_ids"] else None
        structure_id = structure_of.get(calculation_id)
        stage = _stage_of(spec, label.get("calculator"), generators.get(structure_id, {}))
        if stage is not None:
            rows.append({"label_id": label["_id"], "candidate_id": label["candidate_id"], "stage": stage,
                         "property": label["property"], "value": label["value"], "calculator": label["calculator"],
                         "calculation_id": calculation_id, "structure_id": structure_id,
                         "core_hours": calculations[calculation_id].get("core_hours")})
    return rows


def campaign_rounds(database: Database, key: str) -> dict[str, list[dict[str, Any]]]:
    """A campaign's selections, predictions (top slice per round) and the models they came from."""
    campaign_id = find_campaign(database, key)["_id"]
    selections = list(database["selections"].find(
        {"campaign_id": campaign_id}, {"provenance": 0}, sort=[("round", 1), ("batch_position", 1)]))
    predictions = list(database["predictions"].find(
        {"campaign_id": campaign_id}, {"provenance": 0}, sort=[("round", 1), ("rank", 1)]))
    model_ids = sorted({doc["model_id"] for doc in selections + predictions if doc.get("model_id")})
    models = list(database["models"].find({"_id": {"$in": model_ids}}, {"hyperparameters": 0}))
    return {"selections": selections, "predictions": predictions, "models": models}
