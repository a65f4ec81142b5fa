"""The model registry (surrogates in GridFS, described in ``models``, loaded by id); the trees a campaign trains.

A campaign's tree surrogate is chosen by cross-validation when its spec lists several
learners or a grid (:class:`~alloyscreen.campaign.spec.SurrogateSpec`): the choice, with
every candidate's CV errors, and the model's top descriptors by gain and by held-out
permutation go on the model document.
"""

from __future__ import annotations

import gridfs
import numpy as np
from bson import ObjectId
from pymatgen.core import Structure
from pymongo.database import Database

from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.catalysis.activity import GRID_ACTIVITIES
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.descriptors import FEATURE_SET, Compositions, featurize
from alloyscreen.descriptors.featurizer import DescriptorTable
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import CandidateScore, CVMetrics, ModelDocument, ModelSelection
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.structures import find_sites
from alloyscreen.structures.surface import zone_features
from alloyscreen.surrogates.crossval import (
    DEFAULT_FOLDS,
    Candidate,
    FoldFits,
    ModelChoice,
    cross_val_fits,
    cv_metrics,
    fit_calibrated,
    min_labels_for_cv,
    select_model,
)
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.importance import feature_importances
from alloyscreen.surrogates.registry import load_model, model_document
from alloyscreen.surrogates.sites import SiteActivityModel, most_uncertain_sites

BUCKET = "model_files"
CV_FOLDS = DEFAULT_FOLDS
RECALIBRATE_GROWTH = 0.25
"""Refit the spread's scale once the labels have grown by this fraction since the last calibration."""


def store_model(database: Database, document: ModelDocument, blob: bytes) -> ModelDocument:
    """Store ``blob`` and its document once (the id is the hash of the bytes); return the stored document."""
    found = database["models"].find_one({"_id": document.id})
    if found is not None:
        return ModelDocument.from_mongo(found)
    file_id = gridfs.GridFS(database, BUCKET).put(blob, filename=document.id)
    stored = document.model_copy(update={"gridfs_id": str(file_id)})
    insert_document(database["models"], stored)
    return stored


def stored_model_document(database: Database, model_id: str) -> dict:
    """The ``models`` document of ``model_id``; an unknown id fails in one line naming the latest ones."""
    found = database["models"].find_one({"_id": model_id})
    if found is None:
        known = [doc["_id"] for doc in database["models"].find({}, {"_id": 1}).sort("provenance.created_at", -1)
                 .limit(5)]
        raise AlloyscreenError(f"no model with id {model_id!r}; latest: {', '.join(known) or 'none stored'}")
    return found


def load_stored_model(database: Database, model_id: str):
    """Return the surrogate stored as ``model_id``, rebuilt from its bytes (predictions reproduce exactly)."""
    found = stored_model_document(database, model_id)
    blob = gridfs.GridFS(database, BUCKET).get(ObjectId(found["gridfs_id"])).read()
    return load_model(found["kind"], blob)


def descriptor_table(compositions: list[dict[str, float]], columns: list[str] | None) -> DescriptorTable:
    """Descriptors (values and column names) of explicit compositions (element -> fraction maps)."""
    elements = sorted({element for composition in compositions for element in composition})
    dense = np.array([[composition.get(e, 0.0) for e in elements] for composition in compositions])
    return featurize(Compositions.from_dense(elements, dense), columns)


def descriptor_matrix(compositions: list[dict[str, float]], columns: list[str] | None) -> np.ndarray:
    """Descriptors of explicit compositions (element -> fraction maps)."""
    return descriptor_table(compositions, columns).values


def last_selection(database: Database, campaign_id: str, target: str,
                   delta_baseline: str | None) -> ModelSelection | None:
    """The latest choice cross-validation made for this campaign's surrogate of ``target`` (None: none yet)."""
    found = database["models"].find_one(
        {"provenance.campaign_id": campaign_id, "target": target, "delta_baseline": delta_baseline,
         "selection.fresh": True}, {"selection": 1}, sort=[("selection.n_labels", -1)])
    return ModelSelection.model_validate(found["selection"]) if found else None


def last_calibration(database: Database, campaign_id: str, target: str,
                     delta_baseline: str | None) -> tuple[float, int] | None:
    """The spread scale of the campaign's latest calibrated surrogate of ``target`` and its labels; None: none yet."""
    found = database["models"].find_one(
        {"provenance.campaign_id": campaign_id, "target": target, "delta_baseline": delta_baseline,
         "feature_set": FEATURE_SET, "calibrated_at_labels": {"$ne": None}},
        {"hyperparameters.std_scale": 1, "calibrated_at_labels": 1},
        sort=[("calibrated_at_labels", -1)])
    return (float(found["hyperparameters"]["std_scale"]), int(found["calibrated_at_labels"])) if found else None


def calibration_due(n_labels: int, calibrated_at: int | None, final: bool = False) -> bool:
    """Whether a surrogate of ``n_labels`` refits its spread's scale (else it reuses the one in force).

    Due for the first calibration (``calibrated_at`` None), for the final model, and once the labels
    have grown by ``RECALIBRATE_GROWTH`` since ``calibrated_at``, the labels the scale in force was fitted on.
    """
    return final or calibrated_at is None or n_labels >= calibrated_at * (1 + RECALIBRATE_GROWTH)


def _selection(choice: ModelChoice, n_splits: int) -> ModelSelection:
    chosen = choice.chosen
    return ModelSelection(
        learner=chosen.learner, params=chosen.params, metric=choice.metric, n_labels=choice.metrics[0].n_labels,
        n_splits=n_splits, fresh=True,
        candidates=[CandidateScore(learner=c.learner, params=c.params, mae=m.mae, rmse=m.rmse, spearman=m.spearman)
                    for c, m in zip(choice.candidates, choice.metrics, strict=True)])


def choose_candidate(spec: CampaignSpec, X: np.ndarray, y: np.ndarray, build, target: str,
                     delta_baseline: str | None) -> tuple[Candidate, ModelSelection | None, FoldFits | None]:
    """The candidate to train: chosen by CV when due, else the last choice, else (too few labels) the first.

    Returns the candidate, its selection record and, when CV ran here, the winner's fold fits.
    """
    surrogate, candidates = spec.surrogate, spec.surrogate.model_candidates
    if len(candidates) == 1 or len(y) < surrogate.select_from:
        return candidates[0], None, None
    previous = last_selection(get_database(), spec.campaign_id, target, delta_baseline)
    if previous is not None and len(y) < previous.n_labels * (1 + surrogate.select_every):
        return Candidate(previous.learner, previous.params), previous.model_copy(update={"fresh": False}), None
    choice = select_model(candidates, build, X, y, n_splits=CV_FOLDS, seed=spec.seed, metric=surrogate.select_by)
    return choice.chosen, _selection(choice, CV_FOLDS), choice.fits


def train_surrogate(spec: CampaignSpec, compositions: list[dict[str, float]], values: list[float],
                    label_ids: list[str], round_index: int, target: str | None = None,
                    delta_baseline: str | None = None, final: bool = False) -> str:
    """Fit the spec's tree ensemble on ``values`` (calibrated when labels allow) and store it; return its id.

    ``target``: the label property learned (default: the campaign's first);
    ``delta_baseline``: the stage whose label the values are differences to (a Δ model).
    With several candidate learners or a grid, cross-validation chooses the model
    (:func:`choose_candidate`). Every model stores its top descriptors by split gain
    and, when it was cross-validated, by held-out permutation.

    Calibration (``surrogate.calibrate``): the spread's scale is fitted by k-fold
    cross-validation for the first calibrated model of this target (a stage's first),
    for the ``final`` model (the one that scores the stage's last batch), whenever
    cross-validation runs anyway to choose the model, and once the labels have grown
    by ``RECALIBRATE_GROWTH`` since the last calibration; in between the model reuses
    the last scale (no cross-validation: its document has no ``cv``) and records the
    labels it was fitted on (``calibrated_at_labels``).
    """
    table = descriptor_table(compositions, spec.descriptors)
    X, y = table.values, np.asarray(values, dtype=float)
    surrogate = spec.surrogate
    target = target or spec.target

    def build(candidate: Candidate) -> EnsembleRegressor:
        return EnsembleRegressor(candidate.learner, surrogate.n_members,
                                 learner_params={**surrogate.params, **candidate.params} or None,
                                 random_state=spec.seed + round_index)

    chosen, selection, fits = choose_candidate(spec, X, y, build, target, delta_baseline)
    model = build(chosen)
    metrics: CVMetrics | None = None
    calibrated_at: int | None = None
    if surrogate.calibrate and len(y) >= min_labels_for_cv(CV_FOLDS):
        last = None if fits is not None else last_calibration(get_database(), spec.campaign_id, target,
                                                               delta_baseline)
        if last is not None and not calibration_due(len(y), last[1], final):
            model.set_params(std_scale=last[0]).fit(X, y)
            calibrated_at = last[1]
        else:
            fits = fits or cross_val_fits(model, X, y, n_splits=CV_FOLDS, seed=spec.seed)
            metrics = fit_calibrated(model, X, y, n_splits=CV_FOLDS, seed=spec.seed, fits=fits)
            calibrated_at = len(y) if metrics.calibration is not None else None
    else:
        model.fit(X, y)
        metrics = cv_metrics(y, fits, CV_FOLDS) if fits is not None else None
    importances = feature_importances(model, table.columns, surrogate.importance_top, fits, X, y, seed=spec.seed)
    blob = model.to_bytes()
    document = model_document(model, blob, target, label_ids, feature_set=FEATURE_SET, cv=metrics,
                              delta_baseline=delta_baseline, selection=selection, importances=importances,
                              calibrated_at_labels=calibrated_at,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id))
    return store_model(get_database(), document, blob).id


SITE_FEATURE_SET = "alloyscreen-sites-v1"
SITE_ACTIVITIES = ("her_activity", *GRID_ACTIVITIES)  # the activities a site model can score
SCORING_SURFACE_SIZE = 30  # 900 surface atoms per candidate and round: see benchmarks/site_model.py


def site_rows(database: Database, label_ids: list[str]) -> list[dict]:
    """The computed sites of adsorption labels ``label_ids`` whose adsorbate stayed on its site (with an energy)."""
    return [row for label in database["labels"].find({"_id": {"$in": label_ids}}, {"details.sites": 1})
            for row in label["details"]["sites"] if row["energy"] is not None and row.get("moved") is False]


def _site_kinds(prop: str, rows: list[dict]) -> dict[str, list[str]]:
    """Per adsorbate, the site kinds the site models of activity ``prop`` predict."""
    if prop in GRID_ACTIVITIES:
        return {name: [kind] for name, kind in GRID_ACTIVITIES[prop].sites}
    return {"H": sorted({row["kind"] for row in rows if row["adsorbate"] == "H"})}


def train_site_model(spec: CampaignSpec, label_ids: list[str], round_index: int,
                     prop: str = "her_activity") -> str | None:
    """Fit the site models of the campaign's activity labels ``prop`` (:data:`SITE_ACTIVITIES`), store them; their id.

    One calibrated ensemble per adsorbate of the activity, on the energies of
    its stayed sites of the activity's kinds; None while any has too few
    sites: the round then ranks with the composition surrogate. The model
    scores a candidate by the activity of its simulated fcc(111) surface
    (:class:`SiteActivityModel`), a grid activity against the reference
    metal's energies its labels stored.
    """
    database = get_database()
    rows = site_rows(database, label_ids)
    kinds = _site_kinds(prop, rows)
    chosen = {name: [row for row in rows if row["adsorbate"] == name and row["kind"] in kinds[name]] for name in kinds}
    if min(map(len, chosen.values())) < min_labels_for_cv(CV_FOLDS):
        return None
    elements = spec.candidate_elements
    ensembles, metrics = {}, None
    for name, mine in chosen.items():
        ensembles[name] = EnsembleRegressor(spec.surrogate.learner, spec.surrogate.n_members,
                                            learner_params=spec.surrogate.params or None,
                                            random_state=spec.seed + round_index)
        fitted = fit_calibrated(ensembles[name], zone_features([row["site"] for row in mine], elements),
                                np.array([row["energy"] for row in mine]), n_splits=CV_FOLDS, seed=spec.seed)
        metrics = metrics or fitted  # the model document's CV: the first adsorbate's site model
    label = database["labels"].find_one({"_id": {"$in": label_ids}}, {"details.references": 1})
    references = ((label or {}).get("details", {}).get("references") or {}).get("energies_ev", [])
    model = SiteActivityModel(ensembles, elements, kinds, SCORING_SURFACE_SIZE, spec.seed, prop, references)
    blob = model.to_bytes()
    calibrated = metrics is not None and metrics.calibration is not None
    document = model_document(model, blob, prop, label_ids, feature_set=SITE_FEATURE_SET, cv=metrics,
                              calibrated_at_labels=len(chosen[next(iter(chosen))]) if calibrated else None,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id))
    return store_model(database, document, blob).id


def uncertain_sites(database: Database, campaign_id: str, prop: str, slab: Structure, kinds: list[str],
                    count: int) -> list[int] | None:
    """The sites of ``slab`` (indices into ``find_sites``) the latest site model of ``prop`` is least sure of.

    The ``count`` sites of ``kinds`` with the largest spread of its calibrated
    members (:func:`~alloyscreen.surrogates.sites.most_uncertain_sites`);
    None while the campaign has no site model of ``prop``.
    """
    found = database["models"].find_one({"provenance.campaign_id": campaign_id, "target": prop,
                                         "kind": {"$regex": "^site-"}}, {"_id": 1},
                                        sort=[("provenance.created_at", -1)])
    if found is None:
        return None
    model = load_stored_model(database, found["_id"])
    single = next(iter(model.ensembles.values()))  # a choice of sites exists for one-adsorbate labels only (HER)
    return most_uncertain_sites(single, find_sites(slab), kinds, count, model.elements)
