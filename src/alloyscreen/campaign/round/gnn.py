"""A matgl graph network trained on a campaign's own labels and kept in the model registry.

The structures are the *relaxed* (final) structures of the campaign's validation
calculations. These are validated labels, not candidates to be ranked, so a
structure model may use the geometry the calculator relaxed to: the label belongs
to that geometry. (Screening new candidates then needs a relaxed or pre-relaxed
structure too, e.g. from CHGNet, which is what Δ-learning on top of CHGNet gives.)

matgl is imported only inside :class:`~alloyscreen.surrogates.gnn.MatglRegressor`
methods (slow import); this module can be imported cheaply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymongo.database import Database
from sklearn.base import clone
from sklearn.model_selection import KFold

from alloyscreen.campaign.results.queries import campaign_labels
from alloyscreen.campaign.round.models import store_model
from alloyscreen.campaign.spec import CampaignSpec, GnnSpec
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import CVMetrics, ModelDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.surrogates.crossval import min_labels_for_cv, regression_metrics
from alloyscreen.surrogates.gnn import MatglRegressor
from alloyscreen.surrogates.registry import model_document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GnnTrainingSet:
    """What a campaign's graph network is trained on, one entry per candidate (label order)."""

    stage: str
    delta_from: str | None
    label_ids: list[str]
    calculation_ids: list[str]
    structures: list[Structure]
    y: np.ndarray
    baseline: np.ndarray | None

    @property
    def target(self) -> np.ndarray:
        """What the network learns: ``y`` or, with a baseline, ``y - baseline``."""
        return self.y if self.baseline is None else self.y - self.baseline


def _stage_names(spec: CampaignSpec, gnn: GnnSpec) -> tuple[str, str | None]:
    names = [stage.name for stage in spec.stages]
    stage = gnn.stage or names[0]
    for name in (stage, gnn.delta_from):
        if name is not None and name not in names:
            raise AlloyscreenError(f"gnn stage {name!r} is not a stage of campaign {spec.name!r}; allowed: "
                                   f"{', '.join(names)}")
    return stage, gnn.delta_from


def campaign_gnn_data(database: Database, spec: CampaignSpec, gnn: GnnSpec) -> GnnTrainingSet:
    """Collect the labels of ``gnn.stage`` (Δ: of the candidates labelled at both stages) and relaxed structures."""
    stage, delta_from = _stage_names(spec, gnn)
    labels = campaign_labels(database, spec.campaign_id)
    rows: dict[str, dict[str, Any]] = {}
    baselines: dict[str, dict[str, Any]] = {}
    for label in labels:
        if label["stage"] == stage and label["calculation_id"]:
            rows.setdefault(label["candidate_id"], label)
        elif label["stage"] == delta_from:
            baselines.setdefault(label["candidate_id"], label)
    if delta_from is not None:
        rows = {candidate: row for candidate, row in rows.items() if candidate in baselines}
    calculation_ids = [row["calculation_id"] for row in rows.values()]
    found = {doc["_id"]: doc for doc in database["calculations"].find(
        {"_id": {"$in": calculation_ids}}, {"final_structure": 1, "input_structure": 1})}
    structures = [Structure.from_dict(found[i].get("final_structure") or found[i]["input_structure"])
                  for i in calculation_ids]
    base = [baselines[candidate] for candidate in rows] if delta_from is not None else []
    return GnnTrainingSet(
        stage=stage, delta_from=delta_from,
        label_ids=[row["label_id"] for row in rows.values()] + [row["label_id"] for row in base],
        calculation_ids=calculation_ids, structures=structures,
        y=np.array([row["value"] for row in rows.values()], dtype=float),
        baseline=np.array([row["value"] for row in base], dtype=float) if delta_from is not None else None)


def gnn_regressor(spec: CampaignSpec, gnn: GnnSpec) -> MatglRegressor:
    """The unfitted network of ``gnn``, accepting every element of the campaign's space."""
    return MatglRegressor(architecture=gnn.architecture, max_epochs=gnn.epochs, batch_size=gnn.batch_size,
                          lr=gnn.lr, random_state=spec.seed, accelerator=gnn.accelerator,
                          element_types=tuple(spec.candidates.elements) or None)


def cross_validate_gnn(model: MatglRegressor, data: GnnTrainingSet, n_splits: int, seed: int) -> CVMetrics | None:
    """k-fold errors on what the network learns (Δ models: on the Δ), or None with too few labels.

    For a Δ model the MAE and RMSE equal those of ``baseline + model`` against the
    labels; R² and Spearman say how much of the Δ (beyond the baseline) is learned.
    """
    target = data.target
    if n_splits == 0 or len(target) < min_labels_for_cv(n_splits):
        return None
    predicted = np.empty_like(target)
    for train, test in KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(target):
        fitted = clone(model).fit([data.structures[i] for i in train], target[train])
        predicted[test] = fitted.predict([data.structures[i] for i in test])
    return CVMetrics(n_labels=len(target), n_splits=n_splits, **regression_metrics(target, predicted))


def train_campaign_gnn(database: Database, spec: CampaignSpec, gnn: GnnSpec | None = None) -> ModelDocument | None:
    """Train a matgl network on a campaign's labels, store it in the registry; return its document.

    Parameters
    ----------
    database
        The project database holding the campaign's selections, labels and calculations.
    spec
        The campaign (its id finds its labels).
    gnn
        Network settings; default ``spec.gnn``.

    Returns
    -------
    ModelDocument or None
        The stored ``models`` document (kind ``matgl-<architecture>``), or None, with
        the reason logged, when fewer than ``gnn.min_labels`` labels are available.
    """
    gnn = gnn or spec.gnn
    if gnn is None:
        raise AlloyscreenError(f"campaign {spec.name!r} has no 'gnn' section; add one or pass gnn=GnnSpec(...)")
    data = campaign_gnn_data(database, spec, gnn)
    what = f"stage {data.stage!r}" + (f" and {data.delta_from!r}" if data.delta_from else "")
    if len(data.y) < gnn.min_labels:
        logger.warning("campaign %s: no graph network: %d labels of %s, %d needed (gnn.min_labels)",
                       spec.name, len(data.y), what, gnn.min_labels)
        return None
    model = gnn_regressor(spec, gnn)
    cv = cross_validate_gnn(model, data, gnn.cv_folds, spec.seed)
    model.fit(data.structures, data.y, baseline=data.baseline)
    blob = model.to_bytes()
    target = spec.target if data.delta_from is None else f"delta_{spec.target}:{data.stage}-{data.delta_from}"
    document = model_document(model, blob, target, data.label_ids, cv=cv, delta_baseline=data.delta_from,
                              provenance=current_job_provenance(campaign_id=spec.campaign_id,
                                                                parents=data.calculation_ids))
    stored = store_model(database, document, blob)
    logger.info("campaign %s: %s trained on %d labels of %s: model %s (CV MAE %s)", spec.name, stored.kind,
                len(data.y), what, stored.id, f"{cv.mae:.4g}" if cv else "not computed")
    return stored
