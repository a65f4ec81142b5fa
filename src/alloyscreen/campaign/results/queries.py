"""Queries behind ``alloyscreen status`` and ``top``: one query per hop, plain pymongo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any

import numpy as np
from fireworks.fw_config import RUN_EXPIRATION_SECS
from pymongo.database import Database
from scipy.stats import spearmanr

from alloyscreen.campaign.engine.workflow import project_launchpad, submitted, workflow_status
from alloyscreen.campaign.labels.costs import next_batch_core_hours
from alloyscreen.campaign.labels.history import backfill_outcomes
from alloyscreen.campaign.round.objectives import objective_values, rank
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.candidates.space import CandidateSpace
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
    backfill_outcomes(database, CampaignSpec.model_validate(found["spec"]))
    return found


def load_campaign_spec(database: Database, key: str) -> CampaignSpec:
    """The spec of campaign ``key`` (id, id prefix or name)."""
    return CampaignSpec.model_validate(find_campaign(database, key)["spec"])


def campaign_status(database: Database, key: str, lost_after_s: float = RUN_EXPIRATION_SECS) -> dict[str, Any]:
    """Progress of a campaign: its space's size, rounds, per-stage validations and core-hours, failures with reasons.

    ``stage_agreement``: how far each pair of stages agrees on the candidates
    both labelled (:func:`stage_agreement`).

    ``status`` is the stored one, or ``stalled`` when the process running the
    campaign holds its lock no more (it died: no heartbeat). A campaign
    submitted to FireWorks also has ``workflow`` (see
    :func:`~alloyscreen.campaign.engine.workflow.workflow_status`; None otherwise): a
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
                 "calculation_ids": doc["outcome"]["calculation_ids"], "error": doc["outcome"]["error"]}
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
    space = CandidateSpace(spec.candidates)
    return {
        "campaign_id": campaign["_id"], "name": campaign["name"], "status": status, "message": message,
        "round": campaign.get("iteration", 0), "space_size": space.size, "space_size_is_exact": space.size_is_exact,
        "selections": database["selections"].count_documents({"campaign_id": campaign["_id"]}),
        "models": database["models"].count_documents({"provenance.campaign_id": campaign["_id"]}),
        "stages": stages, "failures": failures, "workflow": workflow,
        "stage_agreement": stage_agreement(spec, campaign_labels(database, campaign["_id"])),
        "next_batch": next_batch_core_hours(database, campaign),
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

    Ranked by the most trusted label each candidate has (see :func:`rank_by_stage`):
    ``ranked_by_stage`` names the stage its rank comes from. Each stage's
    column holds its label of the first labelled property; with several
    objectives each row also has ``pareto_front`` and the other objectives at
    that stage (further labels, and those known from the composition, e.g. ``cost``).
    """
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    labels = campaign_labels(database, campaign["_id"])
    candidates = {doc["_id"]: doc for doc in database["candidates"].find(
        {"_id": {"$in": sorted({label["candidate_id"] for label in labels})}},
        {"formula": 1, "prototype": 1, "composition": 1})}
    rows = rank_by_stage(spec, labels, {key: doc["composition"] for key, doc in candidates.items()})[:count]
    for row in rows:
        row.update(formula=candidates[row["candidate_id"]]["formula"],
                   prototype=candidates[row["candidate_id"]]["prototype"])
    return rows


def _labels_by_stage(labels: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Stage -> candidate id -> label property -> value (a candidate's first label where it has several)."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    for label in labels:
        if label["value"] is not None:
            found.setdefault(label["stage"], {}).setdefault(label["candidate_id"], {}).setdefault(
                label["property"], float(label["value"]))
    return found


def rank_by_stage(spec: CampaignSpec, labels: Iterable[Mapping[str, Any]],
                  compositions: Mapping[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Every candidate with a full set of labels at some stage, ranked by its most trusted one, best first.

    A candidate's rank comes from the highest stage (last in spec order: the
    fidelity ladder runs cheapest first) that gave it a value of every labelled
    property. Candidates ranked at the highest stage come first, in their order
    there; then those whose best stage is the next one down, and so on. So a
    candidate a DFT stage labelled sits above every candidate only EMT has
    seen, whatever EMT said of either.

    Within a stage the order is :func:`~alloyscreen.campaign.round.objectives.rank`'s:
    the utility of the objective, or with several objectives the Pareto front
    then the first labelled objective. The fronts are those among every
    candidate that stage labelled (also those ranked at a higher stage), so
    ``pareto_front`` keeps its meaning "non-dominated at this stage" when a
    candidate moves up the ladder; labels of different stages are never
    compared with each other.

    ``labels``: rows of :func:`campaign_labels` (``candidate_id``, ``stage``,
    ``property``, ``value``); ``compositions``: candidate id -> composition.
    Each row holds ``candidate_id``, each stage's label of the first labelled
    property (under the stage's name, where it has one), ``ranked_by_stage``
    and, with several objectives, ``pareto_front`` and the other objectives'
    values at that stage.
    """
    by_stage = _labels_by_stage(labels)
    names = [stage.name for stage in spec.stages]
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        for candidate, found in by_stage.get(name, {}).items():
            row = rows.setdefault(candidate, {"candidate_id": candidate})
            if spec.target in found:
                row[name] = found[spec.target]
    ranked: list[dict[str, Any]] = []
    placed: set[str] = set()
    for name in reversed(names):
        stage_labels = by_stage.get(name, {})
        full = [candidate for candidate, found in stage_labels.items() if all(t in found for t in spec.targets)]
        values = objective_values(spec, [stage_labels[c] for c in full], [compositions[c] for c in full])
        order, fronts = rank(spec, values)
        for i in order:
            if full[i] in placed:
                continue
            placed.add(full[i])
            row = {**rows[full[i]], "ranked_by_stage": name}
            if len(spec.objectives) > 1:
                row["pareto_front"] = int(fronts[i])
                row.update({o.name: float(v) for o, v in zip(spec.objectives, values[i], strict=True)
                            if o.name != spec.target})
            ranked.append(row)
    return ranked


MIN_PAIRS = 3
"""Fewest candidates labelled at two stages for their rank correlation and sign agreement."""


def stage_agreement(spec: CampaignSpec, labels: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """How far each pair of stages agrees, over the candidates both labelled: one row per pair and labelled property.

    ``spearman``: Spearman's rank correlation of the two stages' labels
    (:func:`scipy.stats.spearmanr`); ``sign_agreement``: the fraction of those
    candidates whose two labels have the same sign (``numpy.sign``: a zero
    agrees only with a zero). With fewer than :data:`MIN_PAIRS` candidates
    (``n``) the ``note`` says why (labels all equal at one stage:
    ``spearman`` alone is None).

    ``labels``: rows of :func:`campaign_labels`. Pairs are in spec order, the
    cheaper stage first (``stages``).
    """
    by_stage = _labels_by_stage(labels)
    names = [stage.name for stage in spec.stages]
    agreement = []
    for prop in spec.targets:
        for lower, higher in combinations(names, 2):
            first = {c: v[prop] for c, v in by_stage.get(lower, {}).items() if prop in v}
            second = {c: v[prop] for c, v in by_stage.get(higher, {}).items() if prop in v}
            both = [candidate for candidate in first if candidate in second]
            x = np.array([first[c] for c in both])
            y = np.array([second[c] for c in both])
            row: dict[str, Any] = {"stages": [lower, higher], "property": prop, "n": len(both), "spearman": None,
                                   "sign_agreement": None, "note": None}
            if len(both) < MIN_PAIRS:
                row["note"] = f"n = {len(both)} < {MIN_PAIRS}: too few candidates labelled at both stages"
                agreement.append(row)
                continue
            row["sign_agreement"] = float(np.mean(np.sign(x) == np.sign(y)))
            if np.ptp(x) == 0 or np.ptp(y) == 0:
                row["note"] = f"every label at {lower if np.ptp(x) == 0 else higher} is equal: no rank correlation"
            else:
                row["spearman"] = float(spearmanr(x, y).statistic)
            agreement.append(row)
    return agreement


def campaign_labels(database: Database, key: str) -> list[dict[str, Any]]:
    """Every label a campaign obtained, with its stage: the outcomes recorded on its selections.

    Labels and calculations are shared between campaigns (content ids), so the
    campaign's own link to them is the outcome stored on each of its selections.
    One row per labelled property, with its main calculation and structure;
    ``core_hours`` is the selection's (every property's, each calculation once).
    """
    campaign = find_campaign(database, key)
    spec = CampaignSpec.model_validate(campaign["spec"])
    calculators = {stage.name: stage.calculator for stage in spec.stages}
    selections = database["selections"].find(
        {"campaign_id": campaign["_id"], "outcome": {"$ne": None}},
        sort=[("round", 1), ("batch_position", 1)])
    return [{"label_id": s["outcome"]["label_ids"].get(prop), "candidate_id": s["candidate_id"], "stage": s["stage"],
             "round": s["round"], "property": prop, "value": value, "calculator": calculators.get(s["stage"]),
             "calculation_id": s["outcome"]["calculation_ids"].get(prop),
             "structure_id": s["outcome"]["structure_ids"].get(prop),
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
