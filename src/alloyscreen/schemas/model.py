"""``models`` collection: one trained surrogate, its id being the hash of its serialised bytes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from alloyscreen.schemas.base import Document


def check_keys(value: Any, where: str) -> Any:
    """Raise ``ValueError`` if a dict key anywhere in ``value`` contains "." or starts with "$"."""
    if isinstance(value, dict):
        for key, item in value.items():
            if "." in str(key) or str(key).startswith("$"):
                raise ValueError(f"key {key!r} in {where} contains '.' or starts with '$'; MongoDB forbids it")
            check_keys(item, where)
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_keys(item, where)
    return value


class IntervalCoverage(BaseModel):
    """Fraction of held-out labels inside central Gaussian intervals mean ± z·std."""

    p68: float = Field(description="fraction inside the 68% interval (nominal 0.68)")
    p95: float = Field(description="fraction inside the 95% interval (nominal 0.95)")


class UncertaintyCalibration(BaseModel):
    """Maximum-likelihood scale of the ensemble spread, fitted on held-out folds."""

    scale: float = Field(description="s* = sqrt(mean(r^2 / sigma^2)), multiplies the ensemble std (dimensionless)")
    n_heldout: int = Field(description="number of held-out predictions the scale was fitted on")
    coverage_before: IntervalCoverage = Field(description="interval coverage with the raw ensemble spread")
    coverage_after: IntervalCoverage = Field(description="interval coverage with the scaled spread")
    nll_before: float = Field(description="mean Gaussian negative log-likelihood per label, raw spread (nats)")
    nll_after: float = Field(description="mean Gaussian negative log-likelihood per label, scaled spread (nats)")


class CVMetrics(BaseModel):
    """k-fold cross-validation errors of a surrogate, in the units of its target."""

    n_labels: int = Field(description="number of labelled points cross-validated")
    n_splits: int = Field(description="number of folds")
    mae: float = Field(description="mean absolute error of out-of-fold means (target units, e.g. eV/atom)")
    rmse: float = Field(description="root-mean-square error of out-of-fold means (target units)")
    r2: float = Field(description="coefficient of determination of out-of-fold means")
    spearman: float = Field(description="Spearman rank correlation of out-of-fold means with labels")
    calibration: UncertaintyCalibration | None = Field(
        None, description="uncertainty calibration on the same folds, if the model gives a std"
    )


class ModelDocument(Document):
    """A trained surrogate: what it is, what it was trained on, how well it does; bytes in GridFS."""

    kind: str = Field(description="model kind, e.g. 'ensemble-xgboost', 'ensemble-catboost', 'matgl-megnet'")
    target: str = Field(description="predicted property, e.g. 'mixing_energy_per_atom' (eV/atom)")
    hyperparameters: dict[str, Any] = Field(description="constructor parameters of the model")
    feature_set: str | None = Field(None, description="name of the descriptor set the model reads (None for GNNs)")
    feature_set_version: str | None = Field(None, description="version of the descriptor set")
    training_label_ids: list[str] = Field(description="ids of the `labels` documents the model was trained on")
    delta_baseline: str | None = Field(
        None, description="baseline subtracted from the target (Δ-learning), e.g. 'chgnet'"
    )
    cv: CVMetrics | None = Field(None, description="cross-validation metrics and uncertainty calibration")
    size_bytes: int = Field(description="size of the serialised model (bytes)")
    gridfs_id: str | None = Field(None, description="GridFS file id of the serialised model bytes")

    @field_validator("hyperparameters")
    @classmethod
    def _no_dotted_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_keys(value, "hyperparameters")
