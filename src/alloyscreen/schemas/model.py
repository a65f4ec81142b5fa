"""``models`` collection: one trained surrogate, its id being the hash of its serialised bytes."""

from __future__ import annotations

from typing import Any, Literal

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


class CandidateScore(BaseModel):
    """One candidate of a model selection and its k-fold cross-validation errors."""

    learner: str = Field(description="base learner, e.g. 'xgboost', 'catboost', 'random_forest'")
    params: dict[str, Any] = Field(description="hyperparameters set over the learner's defaults (grid values)")
    mae: float = Field(description="CV mean absolute error of out-of-fold means (target units, e.g. eV/atom)")
    rmse: float = Field(description="CV root-mean-square error of out-of-fold means (target units)")
    spearman: float = Field(description="CV Spearman rank correlation of out-of-fold means with labels")

    @field_validator("params")
    @classmethod
    def _no_dotted_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_keys(value, "params")


class ModelSelection(BaseModel):
    """How the learner and hyperparameters of a tree surrogate were chosen: k-fold CV over candidates."""

    learner: str = Field(description="chosen base learner")
    params: dict[str, Any] = Field(description="chosen hyperparameters over the learner's defaults")
    metric: Literal["mae", "rmse"] = Field(description="CV error the choice minimised")
    n_labels: int = Field(description="labels the selection's cross-validation ran on")
    n_splits: int = Field(description="folds of that cross-validation (the same folds for every candidate)")
    fresh: bool = Field(description="True: cross-validation chose for this model; False: the choice made on "
                                    "n_labels labels was kept (the labels grew less than select_every since)")
    candidates: list[CandidateScore] = Field(description="every candidate with its CV errors, in spec order")

    @field_validator("params")
    @classmethod
    def _no_dotted_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_keys(value, "params")


class DescriptorImportance(BaseModel):
    """One descriptor column and how much a model leans on it."""

    descriptor: str = Field(description="descriptor column name, e.g. 'delta_h_mix'")
    value: float = Field(description="importance (gain: fraction of the total; permutation: target units)")


class FeatureImportances(BaseModel):
    """The descriptors a tree surrogate leans on most, by split gain and by held-out permutation."""

    n_descriptors: int = Field(description="descriptor columns the model reads (the lists keep the top ones)")
    gain: list[DescriptorImportance] = Field(
        description="the learner's split importance (XGBoost total gain, CatBoost PredictionValuesChange, random "
                    "forest mean impurity decrease), normalised to sum 1 over all columns and averaged over the "
                    "members, on the training labels; largest first")
    permutation: list[DescriptorImportance] = Field(
        description="increase of the out-of-fold MAE (target units) when the column's held-out values are redrawn "
                    "from the column, averaged over permutation_repeats draws, from the k-fold models; largest "
                    "first; empty when the model was not cross-validated")
    permutation_repeats: int = Field(description="draws per column of the permutation importance (0: none)")


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
    calibrated_at_labels: int | None = Field(
        None, description="labels the spread's scale (hyperparameters std_scale) was fitted on: this model's own "
                          "count when it was calibrated now, an earlier model's when that scale was reused (the "
                          "scale's age); None: the spread is not calibrated")
    selection: ModelSelection | None = Field(
        None, description="how cross-validation chose the learner and hyperparameters (None: one candidate, or "
                          "too few labels for a selection)")
    importances: FeatureImportances | None = Field(
        None, description="top descriptors by split gain and by held-out permutation (tree ensembles)")
    size_bytes: int = Field(description="size of the serialised model (bytes)")
    gridfs_id: str | None = Field(None, description="GridFS file id of the serialised model bytes")

    @field_validator("hyperparameters")
    @classmethod
    def _no_dotted_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_keys(value, "hyperparameters")
