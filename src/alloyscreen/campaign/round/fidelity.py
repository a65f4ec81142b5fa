"""The multi-fidelity loop (``fidelity: {mode: multi}``): a Δ model, and a second-stage batch every round.

The Δ model learns (second − first stage) on the candidates labelled at both;
before it can be trained, the residuals' mean and spread stand in for it
(:func:`~alloyscreen.surrogates.multifidelity.residual_prior`). Each round the
second stage takes the first-stage-labelled candidates with the best
acquisition score of their predicted second-stage value, as many as the
round's core-hour share buys (:func:`~alloyscreen.surrogates.multifidelity.expensive_count`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from alloyscreen.campaign.labels.history import spent_core_hours, stage_history, stored_batch
from alloyscreen.campaign.labels.labelling import Candidate, LabelOutcome
from alloyscreen.campaign.round.models import descriptor_matrix, load_stored_model, train_surrogate
from alloyscreen.campaign.round.objectives import moment_scores
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_many
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.ensemble import MIN_LABELS
from alloyscreen.surrogates.multifidelity import expensive_count, residual_prior
from alloyscreen.surrogates.records import selection_id

logger = logging.getLogger(__name__)
ACQUISITION = "multi-fidelity"

DeltaPredictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Descriptors -> the Δ model's mean and spread (label units)."""


def second_stage_history(spec: CampaignSpec, round_index: int) -> list[LabelOutcome]:
    """The second stage's outcomes of the rounds before ``round_index`` (the first stage's: the round's history)."""
    return stage_history(spec.campaign_id, spec.stages[1].name, before_round=round_index)


def _pairs(prop: str, cheap: list[LabelOutcome],
           expensive: list[LabelOutcome]) -> list[tuple[LabelOutcome, LabelOutcome, float]]:
    """(first, second stage outcome, second minus first value of ``prop``) of the candidates labelled at both."""
    first = {outcome.candidate.id: (outcome, value) for outcome in cheap
             if (value := outcome.value_of(prop)) is not None}
    return [(first[o.candidate.id][0], o, value - first[o.candidate.id][1])
            for o in expensive if (value := o.value_of(prop)) is not None and o.candidate.id in first]


def _values(prop: str, outcomes: list[LabelOutcome]) -> list[float]:
    """The values of ``prop`` among ``outcomes`` (those that have one)."""
    return [value for outcome in outcomes if (value := outcome.value_of(prop)) is not None]


def train_delta(spec: CampaignSpec, round_index: int, cheap: list[LabelOutcome],
                expensive: list[LabelOutcome], final: bool = False) -> str | None:
    """Train and store the Δ model on the candidates labelled at both stages; None (logged) with too few.

    ``final``: the round's batch spends the first stage's validations (its spread is calibrated afresh).

    ``cheap``, ``expensive``: the first and second stage's outcomes of the rounds before.
    """
    pairs = _pairs(spec.target, cheap, expensive)
    if len(pairs) < MIN_LABELS:
        logger.info("campaign %s round %d: no Δ model: %d candidates labelled at both stages, %d needed; the "
                    "residuals' mean and spread stand in", spec.name, round_index, len(pairs), MIN_LABELS)
        return None
    label_ids = [label_id for *pair, _ in pairs for outcome in pair if (label_id := outcome.label_ids.get(spec.target))]
    return train_surrogate(spec, [cheap.candidate.composition for cheap, _, _ in pairs],
                           [residual for _, _, residual in pairs], label_ids, round_index,
                           delta_baseline=spec.stages[0].name, final=final)


def delta_predictor(model_id: str | None, prop: str, cheap: list[LabelOutcome],
                    expensive: list[LabelOutcome]) -> DeltaPredictor:
    """The stored Δ model ``model_id``, or (None) the residual prior of ``prop`` in ``cheap`` and ``expensive``."""
    if model_id is not None:
        model = load_stored_model(get_database(), model_id)
        return lambda X: model.predict_moments(X)[:2]
    mean, spread = residual_prior([residual for _, _, residual in _pairs(prop, cheap, expensive)],
                                  _values(prop, cheap))
    return lambda X: (np.full(len(X), mean), np.full(len(X), spread))


def incumbents(prop: str, cheap: list[LabelOutcome], expensive: list[LabelOutcome]) -> list[float]:
    """The values of ``prop`` an improvement is measured against: second-stage labels, else the first stage's."""
    return _values(prop, expensive) or _values(prop, cheap)


def round_delta(spec: CampaignSpec, round_index: int, delta_model_id: str | None,
                cheap: list[LabelOutcome]) -> tuple[DeltaPredictor, list[float]]:
    """The round's Δ predictor and the values improvements are measured against (``cheap``: the round's history)."""
    expensive = second_stage_history(spec, round_index)
    return (delta_predictor(delta_model_id, spec.target, cheap, expensive),
            incumbents(spec.target, cheap, expensive))


def _mean_core_hours(outcomes: list[LabelOutcome]) -> float | None:
    spent = [outcome.core_hours for outcome in outcomes if outcome.core_hours]
    return float(np.mean(spent)) if spent else None


def second_stage_batch(spec: CampaignSpec, round_index: int, cheap: list[LabelOutcome], cheap_calls: int,
                       acquisition: str, delta_model_id: str | None) -> list[Candidate]:
    """Choose (and store) the second stage's candidates of round ``round_index`` (or find them, resumed).

    ``cheap``: the first stage's outcomes of the rounds before; ``cheap_calls``:
    its batch of the round; ``delta_model_id``: the round's Δ model (None: the
    residual prior).
    """
    stage = spec.stages[1]
    chosen = stored_batch(spec.campaign_id, stage.name, round_index)
    if chosen is not None:
        return chosen
    expensive = second_stage_history(spec, round_index)
    done = {outcome.candidate.id for outcome in expensive}
    open_ = [outcome for outcome in cheap
             if outcome.value_of(spec.target) is not None and outcome.candidate.id not in done]
    spent = spent_core_hours(expensive)
    per_calculation = _mean_core_hours(expensive)
    count = expensive_count(cheap_calls, _mean_core_hours(cheap), per_calculation, spec.fidelity.share)
    count = min(count, stage.max_validations - len(expensive), len(open_))
    if stage.max_core_hours is not None and per_calculation:
        count = min(count, int((stage.max_core_hours - spent) // per_calculation))
    if count <= 0:
        return []
    X = descriptor_matrix([outcome.candidate.composition for outcome in open_], spec.descriptors)
    delta_mean, delta_std = delta_predictor(delta_model_id, spec.target, cheap, expensive)(X)
    labels = np.array(_values(spec.target, open_), dtype=float)
    scores = moment_scores(spec, acquisition, round_index, labels + delta_mean, delta_std,
                           incumbents(spec.target, cheap, expensive))
    rows = np.argsort(-scores, kind="stable")[:count]
    provenance = current_job_provenance(campaign_id=spec.campaign_id,
                                        parents=[label_id for r in rows
                                                 if (label_id := open_[r].label_ids.get(spec.target))])
    reason = (f"{acquisition} of the predicted {stage.name} value given the {spec.stages[0].name} label; "
              f"{count} calculations are {spec.fidelity.share:g} of the round's core-hours")
    insert_many(get_database()["selections"], (SelectionDocument(
        id=selection_id(spec.campaign_id, stage.name, round_index, open_[r].candidate.id),
        campaign_id=spec.campaign_id, stage=stage.name, round=round_index, candidate_id=open_[r].candidate.id,
        acquisition=ACQUISITION, score=float(scores[r]), batch_position=position, batch_size=len(rows),
        reason=reason, model_id=delta_model_id, provenance=provenance) for position, r in enumerate(rows)))
    logger.info("campaign %s round %d: stage %s labels %d candidates", spec.name, round_index, stage.name, len(rows))
    return [open_[r].candidate for r in rows]
