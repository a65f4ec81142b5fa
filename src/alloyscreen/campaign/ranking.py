"""A universal potential re-ranks each round's top slice (the ``ranker`` section of a spec).

The trees score the whole space; the best ``pool_factor × batch`` unlabelled
candidates of their slice get structures (stored once, by content id) and the
potential's mixing energy (cached calculations, like every validation). The
potential is calibrated on the labelled candidates
(:class:`~alloyscreen.surrogates.potential.CalibratedPotential`, stored in the
model registry each round) and its mean and spread replace, or are
precision-weighted with, the trees' before the acquisition picks the batch.
"""

from __future__ import annotations

import logging

import numpy as np

from alloyscreen.campaign.labelling import Candidate, LabelOutcome, candidate_structure
from alloyscreen.campaign.models import store_model
from alloyscreen.campaign.objectives import objective_of
from alloyscreen.campaign.scoring import ScoredSlice
from alloyscreen.campaign.spec import CampaignSpec, RankerSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_many
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import CVMetrics
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.surrogates.acquisition import acquisition_scores
from alloyscreen.surrogates.crossval import regression_metrics
from alloyscreen.surrogates.potential import CalibratedPotential
from alloyscreen.surrogates.records import Scored, prediction_documents
from alloyscreen.surrogates.registry import model_document
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker

logger = logging.getLogger(__name__)


def potential_values(spec: CampaignSpec, candidates: list[Candidate]) -> np.ndarray:
    """The ranker potential's mixing energy (eV/atom) of each candidate's structure; NaN where it failed."""
    ranker = _ranker(spec)
    structures = ranker.structure_maker(spec.seed)
    label = MixingEnergyMaker(name=f"ranker {ranker.kind}", validation=ranker.validation_maker(),
                              pool=spec.element_pool)
    cell_atoms = get_calculator(ranker.kind).cell_atoms
    values = np.full(len(candidates), np.nan)
    for index, candidate in enumerate(candidates):
        try:
            structure, structure_id = candidate_structure(candidate, structures, cell_atoms)
            outcome = label.run(structure, candidate.id, [structure_id, candidate.id], structure_id)
        except AlloyscreenError as error:
            logger.info("ranker %s: no value for %s: %s", ranker.kind, candidate.id, error)
            continue
        if outcome.value is not None:
            values[index] = outcome.value
    return values


def _ranker(spec: CampaignSpec) -> RankerSpec:
    if spec.ranker is None:
        raise AlloyscreenError(f"campaign {spec.name!r} has no 'ranker' section")
    return spec.ranker


def calibrate(spec: CampaignSpec, labelled: list[LabelOutcome]) -> tuple[CalibratedPotential, str] | None:
    """Fit the potential on the labelled candidates and store it with its leave-one-out errors as CV.

    None (logged) with fewer usable labels than the ranker's ``min_labels``.
    """
    ranker = _ranker(spec)
    values = potential_values(spec, [outcome.candidate for outcome in labelled])
    usable = [i for i, value in enumerate(values) if np.isfinite(value)]
    if len(usable) < ranker.min_labels:
        logger.info("campaign %s: ranker %s not calibrated: %d labels with a potential value, %d needed; the "
                    "round ranks by the trees", spec.name, ranker.kind, len(usable), ranker.min_labels)
        return None
    model = CalibratedPotential(ranker.kind, ranker.mode, dict(ranker.settings))
    y = [labelled[i].value for i in usable]
    model.fit(values[usable], y)
    blob = model.to_bytes()
    label_ids = [label_id for i in usable if (label_id := labelled[i].label_id)]
    cv = CVMetrics(n_labels=len(y), n_splits=len(y), **regression_metrics(y, model.held_out_))
    document = model_document(model, blob, spec.target, label_ids, cv=cv,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id))
    return model, store_model(get_database(), document, blob).id


def combine(tree_mean: np.ndarray, tree_std: np.ndarray, mean: np.ndarray, std: np.ndarray,
            how: str) -> tuple[np.ndarray, np.ndarray]:
    """The potential's mean and spread (``ranker``), or both estimates weighted by inverse variance (``precision``)."""
    if how == "ranker":
        return mean, std
    tree_precision = 1 / np.maximum(tree_std, 1e-12) ** 2
    precision = 1 / np.maximum(std, 1e-12) ** 2
    total = tree_precision + precision
    return (tree_mean * tree_precision + mean * precision) / total, 1 / np.sqrt(total)


def rerank(spec: CampaignSpec, round_index: int, history: list[LabelOutcome], scored: ScoredSlice,
           size: int, acquisition: str) -> tuple[np.ndarray, str | None]:
    """Scores to choose from and the calibrated ranker's id; stores the ranker's predictions.

    The best unlabelled rows of ``scored`` are re-scored with the calibrated
    potential, the other rows get NaN (never chosen). Without a ranker, or
    while it cannot be calibrated: the trees' scores and None.
    """
    labelled = [outcome for outcome in history if outcome.value is not None]
    calibrated = calibrate(spec, labelled) if spec.ranker is not None and acquisition != "random" else None
    if calibrated is None:
        return scored.scores, None
    ranker, (model, ranker_id) = _ranker(spec), calibrated
    done = {outcome.candidate.id for outcome in history}
    rows = np.array([r for r in range(len(scored.ids)) if scored.ids[r] not in done][:int(ranker.pool_factor * size)],
                    dtype=int)
    candidates = [Candidate(id=scored.ids[r], composition=scored.compositions[r], prototype=scored.prototypes[r])
                  for r in rows]
    potential_mean, potential_std = model.predict_moments(potential_values(spec, candidates))
    valued = np.isfinite(potential_mean)
    mean, std = scored.mean[rows].copy(), scored.std[rows].copy()
    mean[valued], std[valued] = combine(mean[valued], std[valued], potential_mean[valued], potential_std[valued],
                                        ranker.combine)
    rng = np.random.default_rng([spec.seed, round_index])
    members = rng.normal(mean, std, size=(spec.surrogate.n_members, len(rows))) if acquisition == "thompson" else None
    options = {"kappa": spec.acquisition.kappa} if acquisition == "ucb" else {}
    chosen = acquisition_scores(acquisition, objective_of(spec), mean, std, members=members,
                                y_labelled=[outcome.value for outcome in labelled], rng=rng, **options)
    scores = np.full(len(scored.ids), np.nan)
    scores[rows] = chosen
    provenance = current_job_provenance(campaign_id=spec.campaign_id, parents=[ranker_id])
    ids = np.asarray(scored.ids)[rows][valued]
    insert_many(get_database()["predictions"], prediction_documents(
        Scored(ids, potential_mean[valued], potential_std[valued], chosen[valued]), spec.campaign_id, round_index,
        ranker_id, spec.target, acquisition, top=len(ids), provenance=provenance))
    logger.info("campaign %s round %d: ranker %s re-ranked %d candidates (line %.3g + %.3g x, spread %.3g)",
                spec.name, round_index, ranker.kind, len(rows), model.intercept_, model.slope_, model.spread_)
    return scores, ranker_id
