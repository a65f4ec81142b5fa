"""The model registry (surrogates in GridFS, described in ``models``, loaded by id); the trees a campaign trains."""

from __future__ import annotations

import gridfs
import numpy as np
from bson import ObjectId
from pymongo.database import Database

from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.descriptors import FEATURE_SET, Compositions, featurize
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import ModelDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.surrogates.crossval import fit_calibrated, min_labels_for_cv
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.registry import load_model, model_document

BUCKET = "model_files"
CV_FOLDS = 5


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


def descriptor_matrix(compositions: list[dict[str, float]], columns: list[str] | None) -> np.ndarray:
    """Descriptors of explicit compositions (element -> fraction maps)."""
    elements = sorted({element for composition in compositions for element in composition})
    dense = np.array([[composition.get(e, 0.0) for e in elements] for composition in compositions])
    return featurize(Compositions.from_dense(elements, dense), columns).values


def train_surrogate(spec: CampaignSpec, compositions: list[dict[str, float]], values: list[float],
                    label_ids: list[str], round_index: int, target: str | None = None,
                    delta_baseline: str | None = None) -> str:
    """Fit the spec's tree ensemble on ``values`` (calibrated when labels allow) and store it; return its id.

    ``target``: the label property learned (default: the campaign's first);
    ``delta_baseline``: the stage whose label the values are differences to (a Δ model).
    """
    X, y = descriptor_matrix(compositions, spec.descriptors), np.asarray(values, dtype=float)
    model = EnsembleRegressor(spec.surrogate.learner, spec.surrogate.n_members,
                              learner_params=spec.surrogate.params or None, random_state=spec.seed + round_index)
    metrics = None
    if spec.surrogate.calibrate and len(y) >= min_labels_for_cv(CV_FOLDS):
        metrics = fit_calibrated(model, X, y, n_splits=CV_FOLDS, seed=spec.seed)
    else:
        model.fit(X, y)
    blob = model.to_bytes()
    document = model_document(model, blob, target or spec.target, label_ids, feature_set=FEATURE_SET, cv=metrics,
                              delta_baseline=delta_baseline,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id))
    return store_model(get_database(), document, blob).id
