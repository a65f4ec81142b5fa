"""Queries behind ``alloyscreen status`` and ``top``: one query per hop, plain pymongo."""

from __future__ import annotations

from typing import Any

from fireworks.fw_config import RUN_EXPIRATION_SECS
from pymongo.database import Database

from alloyscreen.campaign.history import backfill_outcomes
from alloyscreen.campaign.objectives import objective_values, rank
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.campaign.workflow import project_launchpad, submitted, workflow_status
from alloyscreen.db.cache import WorkCache
from alloyscreen.errors import AlloyscreenError


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


def load_campaign_spec(database: Database, key: str) -> CampaignSpec:
    """The spec of campaign ``key`` (id, id prefix or name)."""
    return CampaignSpec.model_validate(find_campaign(database, key)["spec"])


def campaign_status(database: Database, key: str, lost_after_s: float = RUN_EXPIRATION_SECS) -> dict[str, Any]:
    """Progress of a campaign: rounds, per-stage validations and core-hours, failures with reasons.

    ``status`` is the stored one, or ``stalled`` when the process running the
    campaign holds its lock no more (it died: no heartbeat). A campaign
    submitted to FireWorks also has ``workflow`` (see
    :func:`~alloyscreen.campaign.workflow.workflow_status`; None otherwise): a
    FIZZLED workflow makes it ``failed``, a lost run ``stalled``.
    """
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    failed = list(database["selections"].find({"campaign_id": campaign["_id"], "outcome.status": "failed"}))
    stages = []
    for stage in spec.stages:
        spent = campaign.get("budgets_spent", {})
        stages.append({
            "stage": stage.name, "calculator": stage.calculator,
            "validations": int(spent.get(f"{stage.name}_validations", 0)), "max_validations": stage.max_validations,
            "core_hours": round(spent.get(f"{stage.name}_core_hours", 0.0), 6), "max_core_hours": stage.max_core_hours,
            "failed": sum(doc["stage"] == stage.name for doc in failed),
        })
    failures = [{"stage": doc["stage"], "candidate_id": doc["candidate_id"],
                 "calculation_id": doc["outcome"]["calculation_id"], "error": doc["outcome"]["error"]}
                for doc in failed]
    status, message = campaign["status"], campaign.get("message")
    held = WorkCache(database["campaigns"]).holder(campaign["_id"])
    if status == "running" and held is not None and held[1]:
        lock = held[0]
        status, message = "stalled", (f"since {lock['heartbeat']:%Y-%m-%d %H:%M:%S} UTC: the process running it "
                                      f"(pid {lock['pid']} on {lock['host']}) stopped; re-run to resume")
    workflow = None
    if submitted(database, campaign["_id"]):
        with project_launchpad() as launchpad:
            workflow = workflow_status(launchpad, campaign["_id"], lost_after_s)
        status, message = _workflow_verdict(campaign["_id"], workflow, status, message)
    return {
        "campaign_id": campaign["_id"], "name": campaign["name"], "status": status, "message": message,
        "round": campaign.get("iteration", 0),
        "selections": database["selections"].count_documents({"campaign_id": campaign["_id"]}),
        "models": database["models"].count_documents({"provenance.campaign_id": campaign["_id"]}),
        "stages": stages, "failures": failures, "workflow": workflow,
    }


def _workflow_verdict(campaign_id: str, workflow: dict[str, Any], status: str,
                      message: str | None) -> tuple[str, str | None]:
    """The status and message of a campaign that did not finish, as its FireWorks workflow tells them."""
    if status not in ("created", "running"):
        return status, message
    if workflow["state"] == "FIZZLED":
        return "failed", (f"workflow FIZZLED: {len(workflow['fizzled'])} Firework(s) failed; "
                          f"`alloyscreen rerun {campaign_id} --failed` reruns them")
    if workflow["lost"]:
        return "stalled", (f"{len(workflow['lost'])} Firework(s) RUNNING without a ping for "
                           f"{workflow['lost_after_s']:.0f} s (lost); `lpad detect_lostruns --time "
                           f"{workflow['lost_after_s']:.0f} --rerun` reruns them")
    return status, message


def top_candidates(database: Database, key: str, count: int = 10) -> list[dict[str, Any]]:
    """The best validated candidates of a campaign, with every stage's label, best first.

    Each stage's column holds its label of the first labelled property. Ranked
    by the first stage's labels; with several objectives by Pareto front first
    (``pareto_front``), each row also holding the other objectives: further
    labels at the first stage and those known from the composition (e.g. ``cost``).
    """
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    rows: dict[str, dict[str, Any]] = {}
    first_labels: dict[str, dict[str, float]] = {}  # candidate -> label property -> value at the first stage
    first = spec.stages[0].name
    for label in campaign_labels(database, campaign["_id"]):
        row = rows.setdefault(label["candidate_id"], {"candidate_id": label["candidate_id"]})
        if label["property"] == spec.target:
            row[label["stage"]] = label["value"]
        if label["stage"] == first:
            first_labels.setdefault(label["candidate_id"], {})[label["property"]] = label["value"]
    compositions = {}
    for candidate in database["candidates"].find({"_id": {"$in": list(rows)}},
                                                 {"formula": 1, "prototype": 1, "composition": 1}):
        rows[candidate["_id"]].update(formula=candidate["formula"], prototype=candidate["prototype"])
        compositions[candidate["_id"]] = candidate["composition"]
    validated = [row for row in rows.values() if len(first_labels.get(row["candidate_id"], {})) == len(spec.targets)]
    values = objective_values(spec, [first_labels[row["candidate_id"]] for row in validated],
                              [compositions[row["candidate_id"]] for row in validated])
    order, fronts = rank(spec, values)
    if len(spec.objectives) > 1:
        for row, front, row_values in zip(validated, fronts, values, strict=True):
            row["pareto_front"] = int(front)
            row.update({o.name: float(v) for o, v in zip(spec.objectives, row_values, strict=True)
                        if o.name != spec.target})
    return [validated[i] for i in order[:count]]


def campaign_labels(database: Database, key: str) -> list[dict[str, Any]]:
    """Every label a campaign obtained, with its stage: the outcomes recorded on its selections.

    Labels and calculations are shared between campaigns (content ids), so the
    campaign's own link to them is the outcome stored on each of its selections.
    One row per labelled property; ``calculation_id``, ``structure_id`` and
    ``core_hours`` are the selection's (its first property's calculation and
    structure, every property's core-hours).
    """
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    backfill_outcomes(database, spec)
    calculators = {stage.name: stage.calculator for stage in spec.stages}
    selections = database["selections"].find(
        {"campaign_id": campaign["_id"], "outcome": {"$ne": None}},
        sort=[("round", 1), ("batch_position", 1)])
    return [{"label_id": s["outcome"]["label_ids"].get(prop), "candidate_id": s["candidate_id"], "stage": s["stage"],
             "round": s["round"], "property": prop, "value": value, "calculator": calculators.get(s["stage"]),
             "calculation_id": s["outcome"]["calculation_id"], "structure_id": s["outcome"]["structure_id"],
             "core_hours": s["outcome"]["core_hours"]}
            for s in selections for prop, value in s["outcome"]["values"].items() if value is not None]


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
