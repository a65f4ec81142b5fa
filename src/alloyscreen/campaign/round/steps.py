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
from alloyscreen.campaign.labels.history import stored_batch
from alloyscreen.campaign.labels.labelling import Candidate, LabelOutcome
from alloyscreen.campaign.round.fidelity import DeltaPredictor, round_delta, second_stage_history, train_delta
from alloyscreen.campaign.round.models import SITE_ACTIVITIES, load_stored_model, train_site_model, train_surrogate
from alloyscreen.campaign.round.objectives import (
    best_outcomes,
    composition_objectives,
    labelled_column,
    labelled_columns,
    labelled_outcomes,
    labelled_with,
    objective_values,
    objectives_of,
    rank,
    utilities,
)
from alloyscreen.campaign.round.ranking import rerank
from alloyscreen.campaign.round.scoring import ScoredSlice, score_space
from alloyscreen.campaign.spec import CampaignSpec, StageSpec
from alloyscreen.candidates import CandidateSpace
from alloyscreen.candidates.chunk import candidate_document
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_many
from alloyscreen.descriptors import Compositions
from alloyscreen.descriptors.pairs import single_phase
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.acquisition import acquisition_scores
from alloyscreen.surrogates.ensemble import MIN_LABELS, EnsembleRegressor
from alloyscreen.surrogates.multifidelity import expensive_moments
from alloyscreen.surrogates.records import Scored, prediction_documents, selection_documents, selection_id
from alloyscreen.surrogates.selection import Batch, select_batch, select_pareto_batch, select_stratified
from alloyscreen.surrogates.sites import SiteActivityModel
from alloyscreen.validation.phases import PhaseHull, pool_hull
from alloyscreen.validation.targets import MixingEnergyMaker


def _model_scorer(spec: CampaignSpec, models: list[EnsembleRegressor], y_labelled: list[list[float]],
                  round_index: int, delta: DeltaPredictor | None = None):
    """Score with the surrogates' acquisition; with several objectives one column per objective.

    ``models``: one surrogate per labelled objective, in spec order; the mean
    and spread returned are ``(n,)`` with one, ``(n, k)`` with ``k`` of them.
    Objectives known from the composition enter as their exact utility. The
    ``random`` strategy stays one random score (the baseline ignores objectives).
    ``y_labelled``: per labelled objective, the values improvements are
    measured against. With ``delta`` (a multi-fidelity loop) the score is that
    of the second stage's value predicted from the first stage's
    (:func:`expensive_moments`).
    """
    objectives, columns = objectives_of(spec), labelled_columns(spec)
    strategy = spec.acquisition.strategy
    options = {"kappa": spec.acquisition.kappa} if strategy == "ucb" else {}
    pareto = len(spec.objectives) > 1 and strategy != "random"

    def scorer(comps: Compositions, X: np.ndarray, positions: np.ndarray):
        rng = np.random.default_rng([spec.seed, round_index])  # the same draws for every chunk
        means, stds, learned = [], [], []
        for model, column, y in zip(models, columns, y_labelled, strict=True):
            if isinstance(model, SiteActivityModel):  # from each candidate's simulated surface
                mean, std, members = model.predict_moments_of(comps.as_dicts(), members=strategy == "thompson")
            else:
                mean, std, members = model.predict_moments(X, members=strategy == "thompson")
            if delta is not None:
                delta_mean, delta_std = delta(X)
                mean, std = expensive_moments(mean, std, delta_mean, delta_std)
                if members is not None:  # each member draws its own Δ
                    draws = np.random.default_rng([spec.seed, round_index, int(positions[0])])
                    members = members + delta_mean + draws.standard_normal(members.shape) * delta_std
            learned.append(acquisition_scores(strategy, objectives[column], mean, std, members=members,
                                              y_labelled=y, rng=rng, **options))
            means.append(mean)
            stds.append(std)
        mean, std = (means[0], stds[0]) if len(models) == 1 else (np.column_stack(means), np.column_stack(stds))
        if not pareto:
            return mean, std, learned[0]
        scores = utilities(spec, composition_objectives(spec, comps))
        scores[:, columns] = np.column_stack(learned)
        return mean, std, scores

    return scorer


def _random_scorer(seed: int, round_index: int):
    def scorer(comps: Compositions, X: np.ndarray, positions: np.ndarray):
        rng = np.random.default_rng([seed, round_index, int(positions[0])])
        nan = np.full(len(positions), np.nan)
        return nan, nan, rng.random(len(positions))

    return scorer


def stage_hull(spec: CampaignSpec, stage: StageSpec) -> PhaseHull:
    """The hull of the campaign's competing phases at ``stage``'s calculator and settings (relaxed once, cached)."""
    label = MixingEnergyMaker(name=stage.name, validation=stage.validation_maker(), pool=spec.element_pool,
                              antiferromagnetic=list(stage.antiferromagnetic))
    return pool_hull(label, spec.candidate_elements, spec.phases.prototypes)


def _single_phase_only(spec: CampaignSpec, scorer):
    """``scorer`` with the candidates outside the single-phase window scored NaN (never kept); as is without one."""
    criterion = spec.phases.single_phase
    if criterion is None:
        return scorer
    enthalpies = stage_hull(spec, spec.phases_stage).pair_enthalpies()

    def filtered(comps: Compositions, X: np.ndarray, positions: np.ndarray):
        mean, std, scores = scorer(comps, X, positions)
        scores = np.array(scores, dtype=float)
        scores[~single_phase(comps, enthalpies, criterion.temperature, criterion.upper)] = np.nan
        return mean, std, scores

    return filtered


def _store_round(spec: CampaignSpec, plan: RoundPlan, scored: ScoredSlice, batch: Batch,
                 fronts: np.ndarray | None, ranker_id: str | None = None) -> None:
    """Store candidates, the top-slice predictions, the ranking and the selections of a round.

    The ranking file holds the summary of every scored candidate and, for a
    space up to the setting ``full_ranking_max``, every candidate's score
    (metadata ``full``). Each labelled objective's surrogate has its own
    predictions.
    """
    database = get_database()
    campaign_id, round_index, model_id, acquisition = spec.campaign_id, plan.round, plan.model_id, plan.acquisition
    provenance = current_job_provenance(campaign_id=campaign_id, parents=plan.model_ids)
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
        shape = (len(scored.ids), len(plan.model_ids))
        mean, std = scored.mean.reshape(shape), scored.std.reshape(shape)
        for k, (column, surrogate) in enumerate(zip(labelled_columns(spec), plan.model_ids, strict=True)):
            top = Scored(np.asarray(scored.ids), mean[:, k], std[:, k],
                         scored.scores[:, column] if pareto else scored.scores,
                         fronts=scored.fronts if pareto else None, objective_scores=scored.scores if pareto else None)
            insert_many(database["predictions"], prediction_documents(
                top, campaign_id, round_index, surrogate, spec.objectives[column].name, acquisition, top=keep,
                provenance=provenance))
    insert_many(database["selections"], selection_documents(
        batch, campaign_id, round_index, acquisition, model_id, pareto_ranks=fronts, stage=spec.stages[0].name,
        provenance=provenance, ranker_id=ranker_id))


class RoundPlan(BaseModel):
    """How a round scores the space: the model (None: random picks), acquisition, diversity, sizes."""

    round: int = Field(description="active-learning round")
    model_id: str | None = Field(None, description="surrogate (of the first labelled objective) in the model "
                                                   "registry; None for the random round")
    more_model_ids: list[str] = Field(default_factory=list, description="surrogates of the further labelled "
                                                                       "objectives, in spec order")
    delta_model_id: str | None = Field(None, description="Δ model (second − first stage) of a multi-fidelity "
                                                         "round; None: none, or its residual prior")
    acquisition: str = Field(description="acquisition function, 'random' or 'direct' (stratified initial design)")
    diversity: str = Field(description="diversity method of the batch")
    size: int = Field(description="candidates to choose")
    keep: int = Field(description="top slice kept by each scoring job")

    @property
    def model_ids(self) -> list[str]:
        """Every labelled objective's surrogate, in spec order (none for a random round)."""
        return [self.model_id, *self.more_model_ids] if self.model_id else []


def plan_round(spec: CampaignSpec, round_index: int, history: list[LabelOutcome], size: int) -> RoundPlan:
    """Train (and store) the round's surrogates when there are enough labels; say how to score.

    Each labelled objective's surrogate learns every candidate with a value of
    it (one whose other label failed included). A round whose batch spends the
    first stage's validations trains the final models (calibrated afresh).
    """
    labelled = labelled_outcomes(history)
    final = len(history) + size >= spec.stages[0].max_validations
    keep = max(spec.acquisition.keep_top, int(np.ceil(spec.acquisition.pool_factor * size))) + len(history)
    if len(labelled) < max(spec.initial_random, MIN_LABELS):
        if spec.initial_design == "direct" and not history:
            return RoundPlan(round=round_index, acquisition="direct", diversity="none", size=size,
                             keep=max(keep, spec.direct_sample))
        return RoundPlan(round=round_index, acquisition="random", diversity="none", size=size, keep=keep)
    model_ids = []
    for name in spec.targets:
        rows = labelled_with(history, name)
        label_ids = [o.label_ids[name] for o, _ in rows if name in o.label_ids]
        site_model = (train_site_model(spec, label_ids, round_index, name)
                      if name in SITE_ACTIVITIES and spec.candidates.prototype == "fcc" else None)
        model_ids.append(site_model or train_surrogate(spec, [o.candidate.composition for o, _ in rows],
                                                       [v for _, v in rows], label_ids, round_index, name,
                                                       final=final))
    delta_model_id = (train_delta(spec, round_index, history, second_stage_history(spec, round_index), final)
                      if spec.multi_fidelity else None)
    return RoundPlan(round=round_index, model_id=model_ids[0], more_model_ids=model_ids[1:], size=size, keep=keep,
                     delta_model_id=delta_model_id, acquisition=spec.acquisition.strategy,
                     diversity=spec.acquisition.diversity)


def score_round(spec: CampaignSpec, plan: RoundPlan, history: list[LabelOutcome],
                shard: tuple[int, int] = (0, 1)) -> ScoredSlice:
    """Score the space (or one shard of it) as ``plan`` says, showing progress when a bar is shown."""
    if plan.model_id is None:
        scorer = _random_scorer(spec.seed, plan.round)
    else:
        models = [load_stored_model(get_database(), model_id) for model_id in plan.model_ids]
        if spec.multi_fidelity:
            delta, incumbent_values = round_delta(spec, plan.round, plan.delta_model_id, history)
            y_labelled = [incumbent_values]
        else:
            delta, y_labelled = None, [[value for _, value in labelled_with(history, name)] for name in spec.targets]
        scorer = _model_scorer(spec, models, y_labelled, plan.round, delta)
    scorer = _single_phase_only(spec, scorer)
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
        delta, incumbent_values = (round_delta(spec, plan.round, plan.delta_model_id, history)
                                   if spec.multi_fidelity else (None, None))
        scores, ranker_id = rerank(spec, plan.round, history, scored, plan.size, plan.acquisition, delta,
                                   incumbent_values)
        batch = select_batch(scores, scored.X, scored.ids, plan.size, exclude_ids=exclude,
                             diversity=plan.diversity, pool_factor=spec.acquisition.pool_factor,
                             seed=spec.seed + plan.round)
    _store_round(spec, plan, scored, batch, fronts, ranker_id)
    return [Candidate(id=scored.ids[r], composition=scored.compositions[r], prototype=scored.prototypes[r])
            for r in batch.indices]


def confirmation_batch(spec: CampaignSpec, stage_index: int, round_index: int,
                       previous: list[LabelOutcome]) -> list[Candidate]:
    """Choose (or find, when resumed) the best candidates of the previous stage for stage ``stage_index``."""
    stage, before = spec.stages[stage_index], spec.stages[stage_index - 1]
    stored = stored_batch(spec.campaign_id, stage.name, round_index)
    if stored is not None:
        return stored
    best = best_outcomes(spec, previous, min(spec.confirm_top, stage.max_validations))
    values = objective_values(spec, [o.values for o in best], [o.candidate.composition for o in best])
    utility = utilities(spec, values)[:, labelled_column(spec)]
    _, fronts = rank(spec, values)
    by = f"{spec.labelled_objective.direction} {spec.target}"
    if len(spec.objectives) > 1:
        by = f"Pareto front on {', '.join(o.name for o in spec.objectives)}, then {by}"
    provenance = current_job_provenance(campaign_id=spec.campaign_id,
                                        parents=[i for outcome in best for i in outcome.label_ids.values()])
    insert_many(get_database()["selections"], (SelectionDocument(
        id=selection_id(spec.campaign_id, stage.name, round_index, outcome.candidate.id),
        campaign_id=spec.campaign_id, stage=stage.name, round=round_index, candidate_id=outcome.candidate.id,
        acquisition="confirm", score=float(score), batch_position=position, batch_size=len(best),
        pareto_rank=int(front) if len(spec.objectives) > 1 else None,
        reason=f"rank {position} of stage {before.name!r} by {by}", provenance=provenance)
        for position, (outcome, score, front) in enumerate(zip(best, utility, fronts, strict=True))))
    return [outcome.candidate for outcome in best]
