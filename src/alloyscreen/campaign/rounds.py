"""One active-learning round: train on the labels so far, score the space, choose a batch.

A round's choice is stored (``selections``) before anything is validated, so a
killed campaign resumes with the same batch; models, predictions and
selections have content ids, so nothing is stored twice.
"""

from __future__ import annotations

import gridfs
import numpy as np
from pydantic import BaseModel, Field

from alloyscreen import progress
from alloyscreen.campaign.labelling import Candidate, LabelOutcome
from alloyscreen.campaign.models import load_stored_model, store_model
from alloyscreen.campaign.objectives import (
    best_outcomes,
    composition_objectives,
    labelled_column,
    objective_of,
    objective_values,
    rank,
    utilities,
)
from alloyscreen.campaign.ranking import rerank
from alloyscreen.campaign.scoring import ScoredSlice, score_space
from alloyscreen.campaign.spec import CampaignSpec, StageSpec
from alloyscreen.candidates import CandidateSpace
from alloyscreen.candidates.chunk import candidate_document
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_many
from alloyscreen.descriptors import FEATURE_SET, Compositions, featurize
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.acquisition import acquisition_scores
from alloyscreen.surrogates.crossval import fit_calibrated, min_labels_for_cv
from alloyscreen.surrogates.ensemble import MIN_LABELS, EnsembleRegressor
from alloyscreen.surrogates.records import Scored, prediction_documents, selection_documents, selection_id
from alloyscreen.surrogates.registry import model_document
from alloyscreen.surrogates.selection import Batch, select_batch, select_pareto_batch, select_stratified

CV_FOLDS = 5


def descriptor_matrix(compositions: list[dict[str, float]], columns: list[str] | None) -> np.ndarray:
    """Descriptors of explicit compositions (element -> fraction maps)."""
    elements = sorted({element for composition in compositions for element in composition})
    dense = np.array([[composition.get(e, 0.0) for e in elements] for composition in compositions])
    return featurize(Compositions.from_dense(elements, dense), columns).values


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


def _train(spec: CampaignSpec, labelled: list[LabelOutcome], round_index: int) -> str:
    """Fit the ensemble (calibrated when labels allow), store it in the registry; return its model id."""
    X = descriptor_matrix([outcome.candidate.composition for outcome in labelled], spec.descriptors)
    y = np.array([outcome.value for outcome in labelled])
    model = EnsembleRegressor(spec.surrogate.learner, spec.surrogate.n_members,
                              learner_params=spec.surrogate.params or None, random_state=spec.seed + round_index)
    metrics = None
    if spec.surrogate.calibrate and len(y) >= min_labels_for_cv(CV_FOLDS):
        metrics = fit_calibrated(model, X, y, n_splits=CV_FOLDS, seed=spec.seed)
    else:
        model.fit(X, y)
    blob = model.to_bytes()
    document = model_document(model, blob, spec.target, [o.label_id for o in labelled if o.label_id],
                              feature_set=FEATURE_SET, cv=metrics,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id))
    return store_model(get_database(), document, blob).id


def _model_scorer(spec: CampaignSpec, model: EnsembleRegressor, labelled: list[LabelOutcome], round_index: int):
    """Score with the surrogate's acquisition; with several objectives one column per objective.

    Objectives known from the composition enter as their exact utility. The
    ``random`` strategy stays one random score (the baseline ignores objectives).
    """
    objective = objective_of(spec)
    y_labelled = np.array([outcome.value for outcome in labelled])
    strategy = spec.acquisition.strategy
    options = {"kappa": spec.acquisition.kappa} if strategy == "ucb" else {}
    pareto = len(spec.objectives) > 1 and strategy != "random"

    def scorer(comps: Compositions, X: np.ndarray, positions: np.ndarray):
        mean, std, members = model.predict_moments(X, members=strategy == "thompson")
        rng = np.random.default_rng([spec.seed, round_index])  # the same draw for every chunk
        learned = acquisition_scores(strategy, objective, mean, std, members=members, y_labelled=y_labelled,
                                     rng=rng, **options)
        if not pareto:
            return mean, std, learned
        scores = utilities(spec, composition_objectives(spec, comps))
        scores[:, labelled_column(spec)] = learned
        return mean, std, scores

    return scorer


def _random_scorer(seed: int, round_index: int):
    def scorer(comps: Compositions, X: np.ndarray, positions: np.ndarray):
        rng = np.random.default_rng([seed, round_index, int(positions[0])])
        nan = np.full(len(positions), np.nan)
        return nan, nan, rng.random(len(positions))

    return scorer


def _store_round(spec: CampaignSpec, round_index: int, scored: ScoredSlice, batch: Batch, acquisition: str,
                 model_id: str | None, fronts: np.ndarray | None, ranker_id: str | None = None) -> None:
    """Store candidates, the top-slice predictions, the ranking and the selections of a round.

    The ranking file holds the summary of every scored candidate and, for a
    space up to the setting ``full_ranking_max``, every candidate's score
    (metadata ``full``).
    """
    database = get_database()
    campaign_id = spec.campaign_id
    provenance = current_job_provenance(campaign_id=campaign_id, parents=[model_id] if model_id else [])
    keep = min(len(scored.ids), spec.acquisition.keep_top) if model_id else 0
    rows = sorted(set(range(keep)) | {int(i) for i in batch.indices})
    insert_many(database["candidates"], (
        candidate_document(scored.compositions[r], scored.prototypes[r], campaign_id, provenance) for r in rows))
    if model_id:
        bucket = gridfs.GridFS(database, "rankings")
        name = f"{campaign_id}-round-{round_index}"
        if not bucket.exists(filename=name):
            bucket.put(scored.ranking_blob(), filename=name, metadata={
                "campaign_id": campaign_id, "candidates": scored.summary.rows, "full": scored.ranking is not None})
        pareto = scored.scores.ndim == 2
        top = Scored(np.asarray(scored.ids), scored.mean, scored.std,
                     scored.scores[:, labelled_column(spec)] if pareto else scored.scores,
                     fronts=scored.fronts if pareto else None, objective_scores=scored.scores if pareto else None)
        insert_many(database["predictions"], prediction_documents(
            top, campaign_id, round_index, model_id, spec.target, acquisition, top=keep, provenance=provenance))
    insert_many(database["selections"], selection_documents(
        batch, campaign_id, round_index, acquisition, model_id, pareto_ranks=fronts, stage=spec.stages[0].name,
        provenance=provenance, ranker_id=ranker_id))


class RoundPlan(BaseModel):
    """How a round scores the space: the model (None: random picks), acquisition, diversity, sizes."""

    round: int = Field(description="active-learning round")
    model_id: str | None = Field(None, description="surrogate in the model registry; None for the random round")
    acquisition: str = Field(description="acquisition function, 'random' or 'direct' (stratified initial design)")
    diversity: str = Field(description="diversity method of the batch")
    size: int = Field(description="candidates to choose")
    keep: int = Field(description="top slice kept by each scoring job")


def plan_round(spec: CampaignSpec, round_index: int, history: list[LabelOutcome], size: int) -> RoundPlan:
    """Train (and store) the round's surrogate when there are enough labels; say how to score."""
    labelled = [outcome for outcome in history if outcome.value is not None]
    keep = max(spec.acquisition.keep_top, int(np.ceil(spec.acquisition.pool_factor * size))) + len(history)
    if len(labelled) < max(spec.initial_random, MIN_LABELS):
        if spec.initial_design == "direct" and not history:
            return RoundPlan(round=round_index, acquisition="direct", diversity="none", size=size,
                             keep=max(keep, spec.direct_sample))
        return RoundPlan(round=round_index, acquisition="random", diversity="none", size=size, keep=keep)
    return RoundPlan(round=round_index, model_id=_train(spec, labelled, round_index), size=size, keep=keep,
                     acquisition=spec.acquisition.strategy, diversity=spec.acquisition.diversity)


def score_round(spec: CampaignSpec, plan: RoundPlan, history: list[LabelOutcome],
                shard: tuple[int, int] = (0, 1)) -> ScoredSlice:
    """Score the space (or one shard of it) as ``plan`` says, showing progress when a bar is shown."""
    if plan.model_id is None:
        scorer = _random_scorer(spec.seed, plan.round)
    else:
        model = load_stored_model(get_database(), plan.model_id)
        scorer = _model_scorer(spec, model, [o for o in history if o.value is not None], plan.round)
    space = CandidateSpace(spec.candidates)
    bar, total = f"round {plan.round} scoring", space.size if space.size_is_exact else None
    scored = score_space(space, spec.descriptors, scorer, plan.keep, chunk_size=spec.acquisition.chunk_size,
                         shard=shard,
                         progress=lambda n: progress.report(bar, n, total=total, unit="candidate"))
    progress.finish(bar)
    return scored


def select_round(spec: CampaignSpec, plan: RoundPlan, history: list[LabelOutcome],
                 scored: ScoredSlice) -> list[Candidate]:
    """Choose the batch from the scored slice (skipping labelled candidates) and store the round.

    With one score column per objective the batch is taken front by front;
    with one, a ``ranker`` re-scores the slice's best first (:func:`rerank`).
    """
    exclude = {outcome.candidate.id for outcome in history}
    fronts, ranker_id = None, None
    if plan.acquisition == "direct":
        batch = select_stratified(scored.X, scored.ids, plan.size, exclude_ids=exclude, seed=spec.seed)
    elif scored.scores.ndim == 2:
        batch, fronts = select_pareto_batch(scored.fronts, scored.scores[:, labelled_column(spec)], scored.X,
                                            scored.ids, plan.size, exclude_ids=exclude, diversity=plan.diversity,
                                            seed=spec.seed + plan.round)
    else:
        scores, ranker_id = rerank(spec, plan.round, history, scored, plan.size, plan.acquisition)
        batch = select_batch(scores, scored.X, scored.ids, plan.size, exclude_ids=exclude,
                             diversity=plan.diversity, pool_factor=spec.acquisition.pool_factor,
                             seed=spec.seed + plan.round)
    _store_round(spec, plan.round, scored, batch, plan.acquisition, plan.model_id, fronts, ranker_id)
    return [Candidate(id=scored.ids[r], composition=scored.compositions[r], prototype=scored.prototypes[r])
            for r in batch.indices]


def conclude_label(campaign_id: str, stage: StageSpec, outcome: LabelOutcome) -> LabelOutcome:
    """Store ``outcome`` on its selection and advance the stage's progress bar; return it."""
    record_outcome(campaign_id, outcome)
    progress.report(f"{stage.name} ({stage.calculator})", total=stage.max_validations)
    return outcome


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


def confirmation_batch(spec: CampaignSpec, stage_index: int, round_index: int,
                       previous: list[LabelOutcome]) -> list[Candidate]:
    """Choose (or find, when resumed) the best candidates of the previous stage for stage ``stage_index``."""
    stage, before = spec.stages[stage_index], spec.stages[stage_index - 1]
    stored = stored_batch(spec.campaign_id, stage.name, round_index)
    if stored is not None:
        return stored
    best = best_outcomes(spec, previous, min(spec.confirm_top, stage.max_validations))
    values = objective_values(spec, [o.value for o in best], [o.candidate.composition for o in best])
    utility = utilities(spec, values)[:, labelled_column(spec)]
    _, fronts = rank(spec, values)
    by = f"{spec.labelled_objective.direction} {spec.target}"
    if len(spec.objectives) > 1:
        by = f"Pareto front on {', '.join(o.name for o in spec.objectives)}, then {by}"
    provenance = current_job_provenance(campaign_id=spec.campaign_id,
                                        parents=[outcome.label_id for outcome in best if outcome.label_id])
    insert_many(get_database()["selections"], (SelectionDocument(
        id=selection_id(spec.campaign_id, stage.name, round_index, outcome.candidate.id),
        campaign_id=spec.campaign_id, stage=stage.name, round=round_index, candidate_id=outcome.candidate.id,
        acquisition="confirm", score=float(score), batch_position=position, batch_size=len(best),
        pareto_rank=int(front) if len(spec.objectives) > 1 else None,
        reason=f"rank {position} of stage {before.name!r} by {by}", provenance=provenance)
        for position, (outcome, score, front) in enumerate(zip(best, utility, fronts, strict=True))))
    return [outcome.candidate for outcome in best]
