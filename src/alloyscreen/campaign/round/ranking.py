"""A graph network re-ranks each round's top slice (the ``ranker`` section of a spec).

The trees score the whole space; the best ``pool_factor × batch`` unlabelled
candidates of their slice get structures (stored once, by content id). A
universal potential gives each its mixing energy (cached calculations, like
every validation), calibrated on the labelled candidates
(:class:`~alloyscreen.surrogates.potential.CalibratedPotential`); a matgl
ensemble is trained on the labelled candidates' structures
(:class:`~alloyscreen.surrogates.gnn.GnnEnsemble`). Either is stored in the
model registry each round, and its mean and spread replace, or are
precision-weighted with, the trees' before the acquisition picks the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

import numpy as np
from pymatgen.core import Structure

from alloyscreen.campaign.labels.labelling import Candidate, LabelOutcome, candidate_structure
from alloyscreen.campaign.round.fidelity import DeltaPredictor
from alloyscreen.campaign.round.models import store_model
from alloyscreen.campaign.round.objectives import moment_scores
from alloyscreen.campaign.round.scoring import ScoredSlice
from alloyscreen.campaign.spec import FINETUNE_RANKER, GNN_RANKER, CampaignSpec, RankerSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_many
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import CVMetrics
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.surrogates.calibration import fit_std_scale
from alloyscreen.surrogates.crossval import regression_metrics
from alloyscreen.surrogates.ensemble import MIN_LABELS
from alloyscreen.surrogates.finetune import FineTunedChgnet
from alloyscreen.surrogates.gnn import GnnEnsemble
from alloyscreen.surrogates.multifidelity import expensive_moments
from alloyscreen.surrogates.potential import MIN_CALIBRATION_LABELS, CalibratedPotential, PotentialCommittee, combine
from alloyscreen.surrogates.records import Scored, prediction_documents
from alloyscreen.surrogates.registry import model_document
from alloyscreen.validation.maker import call_here, validate_many
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.references import elemental_references
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.targets import MixingEnergyMaker, reference_energy_per_atom

logger = logging.getLogger(__name__)


def _structures(spec: CampaignSpec, candidates: list[Candidate],
                cell_atoms: tuple[int, int] = (1, 256)) -> dict[int, tuple[Structure, str]]:
    """Index -> (structure, its document id) from the ranker's recipe, for the candidates that have one."""
    maker, made = _ranker(spec).structure_maker(spec.seed), {}
    for index, candidate in enumerate(candidates):
        try:
            made[index] = candidate_structure(candidate, maker, cell_atoms)
        except AlloyscreenError as error:
            logger.info("%s: no structure for %s: %s", maker.name, candidate.id, error)
    return made


def potential_values(spec: CampaignSpec, candidates: list[Candidate], kind: str | None = None) -> np.ndarray:
    """The ranker potential ``kind``'s mixing energy (eV/atom) of each candidate's structure; NaN where it failed.

    A ``static`` ranker first computes the candidates' uncached calculations
    together (:func:`~alloyscreen.validation.maker.validate_many`: one lookup,
    batched model calls, one bulk insert); their labels then find them in the
    cache, the references as before.
    """
    ranker = _ranker(spec)
    kind = kind or ranker.kind
    label = MixingEnergyMaker(name=f"ranker {kind}", validation=ranker.validation_maker(kind),
                              pool=spec.element_pool)
    built = _structures(spec, candidates, get_calculator(kind).cell_atoms)
    if ranker.mode == "static" and built:
        validation = label.pooled(next(iter(built.values()))[0])
        try:
            validate_many([structure for structure, _ in built.values()], validation.calculator,
                          validation.settings, validation.mode,
                          parents=[[structure_id, candidates[index].id] for index, (_, structure_id) in built.items()])
        except AlloyscreenError as error:  # e.g. a structure the potential refuses: each is tried, and told, alone
            logger.info("ranker %s: no batched evaluation: %s", kind, error)
    values = np.full(len(candidates), np.nan)
    for index, (structure, structure_id) in built.items():
        candidate = candidates[index]
        try:
            outcome = call_here(label.make(structure, candidate.id, [structure_id, candidate.id], structure_id))
        except AlloyscreenError as error:
            logger.info("ranker %s: no value for %s: %s", kind, candidate.id, error)
            continue
        if outcome.value is not None:
            values[index] = outcome.value
    return values


def _committee_values(spec: CampaignSpec, candidates: list[Candidate]) -> np.ndarray:
    """(n, potentials): every ranker potential's mixing energy of each candidate."""
    return np.column_stack([potential_values(spec, candidates, kind) for kind in _ranker(spec).potentials])


def _ranker(spec: CampaignSpec) -> RankerSpec:
    if spec.ranker is None:
        raise AlloyscreenError(f"campaign {spec.name!r} has no 'ranker' section")
    return spec.ranker


Predictor = Callable[[list[Candidate]], tuple[np.ndarray, np.ndarray]]
"""Candidates -> the ranker's calibrated mean and spread (label units; NaN where it has no value)."""


def _too_few(spec: CampaignSpec, usable: int, needed: int) -> bool:
    if usable < needed:
        logger.info("campaign %s: no ranker %s this round: %d labels with a ranker value, %d needed; the round "
                    "ranks by the trees", spec.name, _ranker(spec).kind, usable, needed)
    return usable < needed


def _stored(spec: CampaignSpec, model, label_ids: list[str], cv: CVMetrics | None = None) -> str:
    blob = model.to_bytes()
    document = model_document(model, blob, spec.target, label_ids, cv=cv,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id))
    return store_model(get_database(), document, blob).id


def calibrate(spec: CampaignSpec, labelled: list[LabelOutcome]) -> tuple[Predictor, str] | None:
    """Fit the potential (each of a committee) on the labelled candidates; store it, leave-one-out errors as CV.

    None (logged) with fewer usable labels than the ranker's ``min_labels``.
    """
    ranker = _ranker(spec)
    values = _committee_values(spec, [outcome.candidate for outcome in labelled])
    usable = [i for i in range(len(labelled)) if np.isfinite(values[i]).all()]
    if _too_few(spec, len(usable), ranker.min_labels):
        return None
    y = [cast(float, labelled[i].value_of(spec.target)) for i in usable]
    members = [CalibratedPotential(kind, ranker.mode, ranker.settings_of(kind)).fit(values[usable, k], y)
               for k, kind in enumerate(ranker.potentials)]
    model = members[0] if len(members) == 1 else PotentialCommittee(members).calibrate(values[usable], y)
    cv = CVMetrics(n_labels=len(y), n_splits=len(y), **regression_metrics(y, model.held_out_))
    ranker_id = _stored(spec, model, [label_id for i in usable if (label_id := labelled[i].label_ids.get(spec.target))],
                        cv)
    for member in members:
        logger.info("campaign %s: ranker %s calibrated: label = %.3g + %.3g x potential, spread %.3g", spec.name,
                    member.potential, member.intercept_, member.slope_, member.spread_)

    def predict(candidates: list[Candidate]) -> tuple[np.ndarray, np.ndarray]:
        found = _committee_values(spec, candidates)
        return model.predict_moments(found if len(members) > 1 else found[:, 0])

    return predict, ranker_id


def _structure_moments(spec: CampaignSpec, candidates: list[Candidate], predict, cell_atoms=(1, 256)):
    """``predict(structures)``'s mean and spread of each candidate's structure (NaN without one)."""
    made = _structures(spec, candidates, cell_atoms)
    mean, std = np.full(len(candidates), np.nan), np.full(len(candidates), np.nan)
    if made:
        rows = list(made)
        mean[rows], std[rows] = predict([structure for structure, _ in made.values()])
    return mean, std


def _baselines(spec: CampaignSpec, structures: list[Structure]) -> np.ndarray:
    """Σ x_i μ_i (eV/atom) of each structure, μ CHGNet's vc-relaxed elemental references at the pool's settings."""
    references = elemental_references(spec.element_pool, "chgnet", pool_settings("chgnet", spec.element_pool))
    return np.array([reference_energy_per_atom(structure, references) for structure in structures])


def _later_label_scale(spec: CampaignSpec, kind: str, values: dict[str, float]) -> float:
    """Maximum-likelihood scale of earlier ``kind`` rankers' raw spreads on the labels that came later (1: none)."""
    database = get_database()
    scales = {m["_id"]: m["hyperparameters"]["std_scale"] for m in database["models"].find(
        {"provenance.campaign_id": spec.campaign_id, "kind": kind}, {"hyperparameters.std_scale": 1})}
    earlier = list(database["predictions"].find({"campaign_id": spec.campaign_id, "model_id": {"$in": list(scales)},
                                                 "candidate_id": {"$in": list(values)}}))
    if len(earlier) < MIN_CALIBRATION_LABELS:
        return 1.0
    return fit_std_scale([values[p["candidate_id"]] - p["mean"] for p in earlier],
                         [p["std"] / scales[p["model_id"]] for p in earlier])


def _trained(spec: CampaignSpec, labelled: list[LabelOutcome], kind: str, cell_atoms=(1, 256)):
    """The labelled candidates with a structure, their labels, and the spread scale of earlier ``kind`` rankers.

    None (logged) with too few.
    """
    made = _structures(spec, [outcome.candidate for outcome in labelled], cell_atoms)
    if _too_few(spec, len(made), max(_ranker(spec).min_labels, MIN_LABELS)):
        return None
    used = [labelled[i] for i in made]
    values = {outcome.candidate.id: float(cast(float, outcome.value_of(spec.target))) for outcome in used}
    structures = [structure for structure, _ in made.values()]
    return used, structures, [values[o.candidate.id] for o in used], _later_label_scale(spec, kind, values)


def _stored_ranker(spec: CampaignSpec, model, used: list[LabelOutcome], scale: float) -> str:
    ranker_id = _stored(spec, model, [label_id for outcome in used if (label_id := outcome.label_ids.get(spec.target))])
    logger.info("campaign %s: ranker %s trained on %d labels (spread scale %.3g)", spec.name, _ranker(spec).kind,
                len(used), scale)
    return ranker_id


def train_network(spec: CampaignSpec, labelled: list[LabelOutcome]) -> tuple[Predictor, str] | None:
    """Train the matgl ensemble on the labelled candidates' structures and store it; None (logged) with too few."""
    ranker = _ranker(spec)
    found = _trained(spec, labelled, f"gnn-{ranker.architecture}")
    if found is None:
        return None
    used, structures, y, scale = found
    model = GnnEnsemble(ranker.architecture, ranker.members, ranker.epochs, random_state=spec.seed,
                        element_types=tuple(spec.element_pool), std_scale=scale)
    model.fit(structures, y)
    ranker_id = _stored_ranker(spec, model, used, scale)
    return (lambda candidates: _structure_moments(spec, candidates, model.predict_moments)), ranker_id


def fine_tune(spec: CampaignSpec, labelled: list[LabelOutcome]) -> tuple[Predictor, str] | None:
    """Fine-tune CHGNets on the labelled candidates' structures and store them; None (logged) with too few."""
    ranker, cells = _ranker(spec), get_calculator("chgnet").cell_atoms
    found = _trained(spec, labelled, "finetune-chgnet", cells)
    if found is None:
        return None
    used, structures, y, scale = found
    model = FineTunedChgnet(ranker.members, ranker.epochs, random_state=spec.seed, std_scale=scale)
    model.fit(structures, y, _baselines(spec, structures))
    ranker_id = _stored_ranker(spec, model, used, scale)

    def predict(structures: list[Structure]) -> tuple[np.ndarray, np.ndarray]:
        return model.predict_moments(structures, _baselines(spec, structures))

    return (lambda candidates: _structure_moments(spec, candidates, predict, cells)), ranker_id


def fit_ranker(spec: CampaignSpec, labelled: list[LabelOutcome]) -> tuple[Predictor, str] | None:
    """The round's ranker, calibrated or trained on ``labelled`` and stored, with its model id; None if too few."""
    return {GNN_RANKER: train_network, FINETUNE_RANKER: fine_tune}.get(_ranker(spec).kind, calibrate)(spec, labelled)


def combine_through_delta(mean: np.ndarray, std: np.ndarray, ranker_mean: np.ndarray, ranker_std: np.ndarray,
                          delta_mean: np.ndarray, delta_std: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """The trees' moments of ``first + Δ`` met with a ranker's first-stage moments (all in label units).

    The Δ (``delta_mean``, ``delta_std``; zero outside a multi-fidelity loop)
    is taken off the trees' mean and variance, the two first-stage estimates
    are combined (:func:`~alloyscreen.surrogates.potential.combine`, ``how``),
    and the Δ is added back.
    """
    first_mean, first_std = mean - delta_mean, np.sqrt(np.maximum(np.square(std) - np.square(delta_std), 0.0))
    return expensive_moments(*combine(first_mean, first_std, ranker_mean, ranker_std, how), delta_mean, delta_std)


def rerank(spec: CampaignSpec, round_index: int, history: list[LabelOutcome], scored: ScoredSlice,
           size: int, acquisition: str, delta: DeltaPredictor | None = None,
           incumbents: list[float] | None = None) -> tuple[np.ndarray, str | None]:
    """Scores to choose from and the calibrated ranker's id; stores the ranker's predictions.

    The best unlabelled rows of ``scored`` are re-scored with the round's
    ranker, the other rows get NaN (never chosen). Without a ranker, or
    while it cannot be calibrated: the trees' scores and None.

    In a multi-fidelity loop ``scored`` holds the second stage's predicted
    value (the trees' first-stage value plus the Δ model ``delta``) and the
    ranker is calibrated on first-stage labels: the Δ is taken off the trees'
    moments, the two first-stage estimates are combined, and the Δ is added
    back (:func:`~alloyscreen.surrogates.multifidelity.expensive_moments`);
    improvements are measured against ``incumbents``.
    """
    labelled = [outcome for outcome in history if outcome.value_of(spec.target) is not None]
    fitted = fit_ranker(spec, labelled) if spec.ranker is not None and acquisition != "random" else None
    if fitted is None:
        return scored.scores, None
    ranker, (predict, ranker_id) = _ranker(spec), fitted
    done = {outcome.candidate.id for outcome in history}
    rows = np.array([r for r in range(len(scored.ids)) if scored.ids[r] not in done][:int(ranker.pool_factor * size)],
                    dtype=int)
    candidates = [Candidate(id=scored.ids[r], composition=scored.compositions[r], prototype=scored.prototypes[r])
                  for r in rows]
    ranker_mean, ranker_std = predict(candidates)
    valued = np.isfinite(ranker_mean)
    mean, std = scored.mean[rows].copy(), scored.std[rows].copy()
    delta_mean, delta_std = delta(scored.X[rows]) if delta is not None else (np.zeros(len(rows)), np.zeros(len(rows)))
    mean[valued], std[valued] = combine_through_delta(mean[valued], std[valued], ranker_mean[valued],
                                                      ranker_std[valued], delta_mean[valued], delta_std[valued],
                                                      ranker.combine)
    if incumbents is None:
        incumbents = [float(cast(float, outcome.value_of(spec.target))) for outcome in labelled]
    chosen = moment_scores(spec, acquisition, round_index, mean, std, incumbents)
    scores = np.full(len(scored.ids), np.nan)
    scores[rows] = chosen
    provenance = current_job_provenance(campaign_id=spec.campaign_id, parents=[ranker_id])
    ids = np.asarray(scored.ids)[rows][valued]
    insert_many(get_database()["predictions"], prediction_documents(
        Scored(ids, ranker_mean[valued], ranker_std[valued], chosen[valued]), spec.campaign_id, round_index,
        ranker_id, spec.target, acquisition, top=len(ids), provenance=provenance))
    logger.info("campaign %s round %d: ranker %s re-ranked %d candidates", spec.name, round_index, ranker.kind,
                len(rows))
    return scores, ranker_id
