"""Model registry glue without a database: bytes <-> models, and the ``models`` document.

The database layer stores ``to_bytes()`` in GridFS and the :class:`ModelDocument`
returned here in ``models``; :func:`load_model` turns the bytes back into a model
whose predictions equal the original's exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import CVMetrics, FeatureImportances, ModelDocument, ModelSelection
from alloyscreen.schemas.provenance import Provenance
from alloyscreen.surrogates.ensemble import EnsembleRegressor, model_id
from alloyscreen.surrogates.finetune import FineTunedChgnet
from alloyscreen.surrogates.gnn import GnnEnsemble, MatglRegressor
from alloyscreen.surrogates.potential import CalibratedPotential, PotentialCommittee
from alloyscreen.surrogates.sites import SiteActivityModel

KIND_PREFIXES: dict[str, type[EnsembleRegressor] | type[MatglRegressor] | type[GnnEnsemble] |
                   type[CalibratedPotential] | type[PotentialCommittee] | type[FineTunedChgnet] |
                   type[SiteActivityModel]] = {
    "ensemble": EnsembleRegressor,
    "matgl": MatglRegressor,
    "gnn": GnnEnsemble,
    "potential": CalibratedPotential,
    "committee": PotentialCommittee,
    "finetune": FineTunedChgnet,
    "site": SiteActivityModel,
}
"""Model kinds are ``<prefix>-<learner or architecture>``, e.g. ``ensemble-xgboost``."""


def model_kind(model) -> str:
    """Return the kind string of a fitted model, e.g. ``"ensemble-catboost"``, ``"potential-chgnet"``."""
    if isinstance(model, EnsembleRegressor):
        return f"ensemble-{model.learner}"
    if isinstance(model, MatglRegressor):
        return f"matgl-{model.architecture}"
    if isinstance(model, GnnEnsemble):
        return f"gnn-{model.architecture}"
    if isinstance(model, CalibratedPotential):
        return f"potential-{model.potential}"
    if isinstance(model, FineTunedChgnet):
        return "finetune-chgnet"
    if isinstance(model, SiteActivityModel):
        return f"site-{model.learner}"
    if isinstance(model, PotentialCommittee):
        return f"committee-{'-'.join(model.potentials)}"
    raise AlloyscreenError(f"no registry kind for {type(model).__name__}; allowed: "
                           f"{', '.join(cls.__name__ for cls in KIND_PREFIXES.values())}")


def load_model(kind: str, blob: bytes):
    """Rebuild a model of ``kind`` from its serialised bytes."""
    prefix = kind.split("-", 1)[0]
    if prefix not in KIND_PREFIXES:
        raise AlloyscreenError(
            f"unknown model kind {kind!r}; allowed: {', '.join(f'{p}-...' for p in sorted(KIND_PREFIXES))}"
        )
    return KIND_PREFIXES[prefix].from_bytes(blob)


def model_document(
    model,
    blob: bytes,
    target: str,
    training_label_ids: Sequence[str],
    feature_set: str | None = None,
    feature_set_version: str | None = None,
    cv: CVMetrics | None = None,
    delta_baseline: str | None = None,
    gridfs_id: str | None = None,
    provenance: Provenance | None = None,
    selection: ModelSelection | None = None,
    importances: FeatureImportances | None = None,
    calibrated_at_labels: int | None = None,
) -> ModelDocument:
    """Describe a serialised model for the ``models`` collection; ``_id`` is :func:`model_id` of ``blob``."""
    return ModelDocument(
        id=model_id(blob),
        kind=model_kind(model),
        target=target,
        hyperparameters=model.get_params(),
        feature_set=feature_set,
        feature_set_version=feature_set_version,
        training_label_ids=list(training_label_ids),
        delta_baseline=delta_baseline,
        cv=cv,
        calibrated_at_labels=calibrated_at_labels,
        selection=selection,
        importances=importances,
        size_bytes=len(blob),
        gridfs_id=gridfs_id,
        provenance=provenance or Provenance(),
    )
